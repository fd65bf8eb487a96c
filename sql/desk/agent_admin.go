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
// conversations it had. Its tickets that are not closed go back to the queue (unassigned),
// each with an activity line by, the remover's name. Removing a removed agent is a no-op; an
// unknown id is NotFound. It returns how many tickets went back to the queue.
func (s *store) RemoveAgent(ctx context.Context, tx *sql.Tx, id int64, by string) (int, error) {
	var freed []ticketState
	err := func() error {
		now := stamp(s.now)
		ag, err := s.agent(ctx, tx, "RemoveAgent", "id = ?", id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE agents SET password_hash = '', must_change_password = 0,
			updated_at = ? WHERE id = ?`, now.Unix(), id); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT t.id, v.id FROM tickets t JOIN conversations v ON v.ticket_id = t.id
			WHERE t.assignee_id = ? AND t.status <> 'closed'`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var st ticketState
			if err := rows.Scan(&st.TicketID, &st.ConversationID); err != nil {
				rows.Close()
				return err
			}
			freed = append(freed, st)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, st := range freed {
			if _, err := tx.ExecContext(ctx, "UPDATE tickets SET assignee_id = NULL, updated_at = ? WHERE id = ?", now.Unix(), st.TicketID); err != nil {
				return err
			}
			if _, err := insertMessage(ctx, tx, activity(st, now, Activity{Kind: "assigned", By: by, From: ag.FullName})); err != nil {
				return err
			}
		}
		return nil
	}()
	return len(freed), err
}

// ResetAgentPassword gives an agent (also a removed one, which restores it) a new one-time
// password: the hash is replaced, the agent must choose its own at next login, and the
// one-time password ages from now. An unknown id is NotFound.
func (s *store) ResetAgentPassword(ctx context.Context, q querier, id int64, passwordHash string) error {
	if passwordHash == "" {
		return apperr.Field(apperr.Invalid, "password", apperr.CodeRequired)
	}
	res, err := q.ExecContext(ctx, `UPDATE agents SET password_hash = ?, must_change_password = 1,
		updated_at = ? WHERE id = ?`, passwordHash, s.now().Unix(), id)
	if err != nil {
		return fmt.Errorf("desk.ResetAgentPassword: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(CodeAgentNotFound)
	}
	return nil
}
