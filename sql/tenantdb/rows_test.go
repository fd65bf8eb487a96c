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

// addConversation stores a ticket with the given question and token hash and, when agentEmail
// is set, an agent's conversation on it with the question and reply as its messages.
func addConversation(ctx context.Context, db *sql.DB, query string, tokenHash []byte, agentEmail, reply string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var ticket int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO tickets (customer_name, customer_email, query, token_hash,
		status, created_at, updated_at) VALUES ('C', 'c@example.com', ?, ?, 'open', 1, 1) RETURNING id`,
		query, tokenHash).Scan(&ticket); err != nil {
		return fmt.Errorf("ticket: %w", err)
	}
	if agentEmail != "" {
		var agent, conv int64
		if err := tx.QueryRowContext(ctx, "SELECT id FROM agents WHERE email = ?", agentEmail).Scan(&agent); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO conversations (ticket_id, agent_id, created_at)
			VALUES (?, ?, 1) RETURNING id`, ticket, agent).Scan(&conv); err != nil {
			return fmt.Errorf("conversation: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages (conversation_id, sender, body, created_at)
			VALUES (?, 'customer', ?, 1), (?, 'agent', ?, 2)`, conv, query, conv, reply); err != nil {
			return fmt.Errorf("messages: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE tickets SET status = 'engaged' WHERE id = ?", ticket); err != nil {
			return err
		}
	}
	return tx.Commit()
}
