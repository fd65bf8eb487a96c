package desk

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// RemoveAgent revokes an agent's credential: its password hash is emptied, so no password
// matches it and every session bound to the old hash ends (handlers compare a fingerprint of
// it on each request). The row stays, so the agent's name and messages remain in the
// conversations it had. Its engaged tickets go back to the queue, where another agent can
// take the conversation over (Engage). Removing a removed agent is a no-op; an unknown id is
// NotFound.
func (s *store) RemoveAgent(ctx context.Context, id int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("desk.RemoveAgent: %w", err)
	}
	defer tx.Rollback()
	now := s.now().Unix()
	res, err := tx.ExecContext(ctx, `UPDATE agents SET password_hash = '', must_change_password = 0,
		updated_at = ? WHERE id = ?`, now, id)
	if err != nil {
		return fmt.Errorf("desk.RemoveAgent: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(CodeAgentNotFound)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tickets SET status = 'open', updated_at = ?
		WHERE status = 'engaged' AND id IN (SELECT ticket_id FROM conversations WHERE agent_id = ?)`,
		now, id); err != nil {
		return fmt.Errorf("desk.RemoveAgent: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("desk.RemoveAgent: %w", err)
	}
	return nil
}

// ResetAgentPassword gives an agent (also a removed one, which restores it) a new one-time
// password: the hash is replaced, the agent must choose its own at next login, and the
// one-time password ages from now. An unknown id is NotFound.
func (s *store) ResetAgentPassword(ctx context.Context, id int64, passwordHash string) error {
	if passwordHash == "" {
		return apperr.Field(apperr.Invalid, "password", apperr.CodeRequired)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE agents SET password_hash = ?, must_change_password = 1,
		updated_at = ? WHERE id = ?`, passwordHash, s.now().Unix(), id)
	if err != nil {
		return fmt.Errorf("desk.ResetAgentPassword: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(CodeAgentNotFound)
	}
	return nil
}

// takeOver hands a queued conversation (its agent was removed) to agentID and engages the
// ticket again, inside Engage's transaction.
func (s *store) takeOver(ctx context.Context, tx *sql.Tx, ticketID, convID, agentID int64) error {
	now := s.now().Unix()
	if _, err := tx.ExecContext(ctx, "UPDATE conversations SET agent_id = ? WHERE id = ?", agentID, convID); err != nil {
		return fmt.Errorf("desk.Engage: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE tickets SET status = 'engaged', updated_at = ? WHERE id = ?", now, ticketID); err != nil {
		return fmt.Errorf("desk.Engage: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("desk.Engage: %w", err)
	}
	return nil
}
