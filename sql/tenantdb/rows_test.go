package tenantdb_test

import (
	"context"
	"database/sql"
	"fmt"
)

// The registry's tests check databases, not the helpdesk in them: they write and count rows of
// the tenant schema directly.

// addAgent inserts an agent.
func addAgent(ctx context.Context, db *sql.DB, name, email string) error {
	_, err := db.ExecContext(ctx, `INSERT INTO agents (full_name, email, password_hash, created_at, updated_at)
		VALUES (?, ?, 'x', 1, 1)`, name, email)
	return err
}

// countRows counts the rows of a tenant table.
func countRows(ctx context.Context, db *sql.DB, table string) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

// addConversation stores a ticket of the contact c@example.com with the given question and
// token hash, and its conversation with the question as the first message; when agentEmail is
// set, the ticket is assigned to that agent, whose reply follows.
func addConversation(ctx context.Context, db *sql.DB, query string, tokenHash []byte, agentEmail, reply string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var contact int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO contacts (email, name, created_at, updated_at)
		VALUES ('c@example.com', 'C', 1, 1) ON CONFLICT (email) DO UPDATE SET updated_at = excluded.updated_at
		RETURNING id`).Scan(&contact); err != nil {
		return fmt.Errorf("contact: %w", err)
	}
	// The customer waits for an answer until the agent's reply.
	var agent sql.NullInt64
	waitingSince := sql.NullInt64{Int64: 1, Valid: true}
	if agentEmail != "" {
		if err := tx.QueryRowContext(ctx, "SELECT id FROM agents WHERE email = ?", agentEmail).Scan(&agent); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		waitingSince = sql.NullInt64{}
	}
	var ticket, conv int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO tickets (contact_id, customer_name, customer_email, query,
		token_hash, status, assignee_id, waiting_since, created_at, updated_at)
		VALUES (?, 'C', 'c@example.com', ?, ?, 'open', ?, ?, 1, 1) RETURNING id`,
		contact, query, tokenHash, agent, waitingSince).Scan(&ticket); err != nil {
		return fmt.Errorf("ticket: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO conversations (ticket_id, created_at)
		VALUES (?, 1) RETURNING id`, ticket).Scan(&conv); err != nil {
		return fmt.Errorf("conversation: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages (conversation_id, sender, body, created_at)
		VALUES (?, 'customer', ?, 1)`, conv, query); err != nil {
		return fmt.Errorf("question: %w", err)
	}
	if agent.Valid {
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages (conversation_id, sender, agent_id, body, created_at)
			VALUES (?, 'agent', ?, ?, 2)`, conv, agent, reply); err != nil {
			return fmt.Errorf("reply: %w", err)
		}
	}
	return tx.Commit()
}
