package desk_test

import (
	"context"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// queueTickets is the size of the organization the queue benchmarks read.
const queueTickets = 10000

// fillQueue gives tm's organization queueTickets tickets in one transaction, as years of
// support leave them: a quarter closed, some pending, a third of the rest assigned to
// Thomas, every tenth tagged billing, all four priorities, each with its question as its first
// message.
func fillQueue(b *testing.B, tm *team) {
	b.Helper()
	ctx := context.Background()
	h, err := tm.reg.Acquire(ctx, *tm.org)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Release()
	tx, err := h.DB.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		 INSERT INTO contacts (email, name, created_at, updated_at)
		 SELECT 'customer' || i || '@example.com', 'Customer ' || i, 1700000000 + i * 60, 1700000000 + i * 60 FROM n`,
		`INSERT INTO tickets (contact_id, customer_name, customer_email, query, token_hash, status, priority,
		   assignee_id, waiting_since, created_at, updated_at, closed_at)
		 SELECT id, name, email, 'Question ' || id || ' about an order that has not arrived', randomblob(32),
		   CASE WHEN id % 4 = 0 THEN 'closed' WHEN id % 7 = 0 THEN 'pending' ELSE 'open' END,
		   id % 4,
		   CASE WHEN id % 3 = 0 THEN ? END,
		   CASE WHEN id % 4 <> 0 AND id % 7 <> 0 THEN created_at END,
		   created_at, created_at,
		   CASE WHEN id % 4 = 0 THEN created_at + 3600 END
		 FROM contacts`,
		`INSERT INTO conversations (ticket_id, created_at) SELECT id, created_at FROM tickets`,
		`INSERT INTO messages (conversation_id, sender, body, created_at)
		 SELECT v.id, 'customer', t.query, t.created_at FROM conversations v JOIN tickets t ON t.id = v.ticket_id`,
		`INSERT INTO ticket_tags (ticket_id, tag) SELECT id, 'billing' FROM tickets WHERE id % 10 = 0`,
	} {
		var args []any
		switch {
		case len(q) > 14 && q[:14] == "WITH RECURSIVE":
			args = []any{queueTickets}
		case len(q) > 19 && q[:19] == "INSERT INTO tickets":
			args = []any{tm.thomas.ID}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := h.DB.ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkQueue10000 reads one page (50 rows) of each queue view, and the counts every
// dashboard shows, in an organization of 10,000 tickets.
func BenchmarkQueue10000(b *testing.B) {
	tm := newTeam(b)
	fillQueue(b, tm)
	ctx := context.Background()
	thomas := desk.AsAgent(tm.thomas)
	for _, q := range []struct {
		name string
		q    desk.QueueQuery
	}{
		{"unassigned", desk.QueueQuery{View: desk.ViewUnassigned, Priority: -1}},
		{"mine", desk.QueueQuery{View: desk.ViewMine, Priority: -1}},
		{"all", desk.QueueQuery{View: desk.ViewAll, Priority: -1}},
		{"closed", desk.QueueQuery{View: desk.ViewClosed, Priority: -1}},
		{"all-tag", desk.QueueQuery{View: desk.ViewAll, Tag: "billing", Priority: -1}},
		{"all-urgent", desk.QueueQuery{View: desk.ViewAll, Priority: desk.PriorityUrgent}},
	} {
		q.q.Limit = 51
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				rows, err := tm.svc.Queue(ctx, tm.org, thomas, q.q)
				if err != nil || len(rows) == 0 {
					b.Fatalf("%d rows, %v", len(rows), err)
				}
			}
		})
	}
	b.Run("counts", func(b *testing.B) {
		for b.Loop() {
			c, err := tm.svc.Counts(ctx, tm.org, thomas)
			if err != nil || c.Views[desk.ViewClosed] != queueTickets/4 {
				b.Fatalf("%+v %v", c, err)
			}
		}
	})
}
