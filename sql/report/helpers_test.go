package report

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// migrations are the tenant migrations (the reports' indexes among them). One fs.FS value for
// the package: schema caches its listing.
var migrations = os.DirFS("../migrations/tenant")

// openDB returns a fresh tenant database with one connection (as tenants are opened),
// migrated to the newest schema.
func openDB(tb testing.TB) *sql.DB {
	tb.Helper()
	return openDBWith(tb, migrations)
}

// openDBWith returns a fresh tenant database migrated with the given migrations.
func openDBWith(tb testing.TB, m fs.FS) *sql.DB {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "tenant.db"), 1)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := schema.Up(db, m); err != nil {
		tb.Fatal(err)
	}
	return db
}

// The seed model: a tenant as plain values, written to the database by write and read by the
// tests' own computation of the figures.

type seedAgent struct {
	id   int64
	name string
}

type seedMsg struct {
	sender string // customer, agent, note, activity
	agent  int64
	at     int64
	data   string
}

type seedTicket struct {
	id       int64
	conv     int64 // the conversation's id; 0: the ticket's
	created  int64
	priority int
	assignee int64 // 0: none
	status   string
	closedAt int64 // 0: NULL
	rating   int   // 0: NULL
	tags     []string
	msgs     []seedMsg
}

type seedTenant struct {
	agents  []seedAgent
	tickets []seedTicket
	// legacy writes the tickets as the release before the reports did, without the columns
	// the desk now derives (first_reply_at, paused_since, pauses).
	legacy bool
}

// firstReply is the ticket's first_reply_at as the desk keeps it: its first agent message at
// or after its creation (nil: none).
func (t seedTicket) firstReply() any {
	var at any
	for _, m := range t.msgs {
		if m.sender == "agent" && m.at >= t.created && (at == nil || m.at < at.(int64)) {
			at = m.at
		}
	}
	return at
}

// pauses are the ticket's paused_since and pauses as the desk keeps them, from its status
// lines in the order they were written: a line whose "to" is pending, snoozed or closed pauses it, any other
// status runs it again; a ticket whose status says paused without a line is paused since it
// closed.
func (t seedTicket) pauses() (since any, pauses string) {
	type line struct {
		at int64
		to string
	}
	var lines []line // in the order they were written
	for _, m := range t.msgs {
		var d struct{ Kind, To string }
		if m.sender == "activity" && json.Unmarshal([]byte(m.data), &d) == nil && d.Kind == "status" {
			lines = append(lines, line{m.at, d.To})
		}
	}
	var spans []string
	var start int64
	paused := false
	for _, m := range lines {
		p := m.to == "pending" || m.to == "snoozed" || m.to == "closed"
		switch {
		case p == paused:
		case p:
			start = m.at
		case m.at > start:
			spans = append(spans, fmt.Sprintf("%d %d", start, m.at))
		}
		paused = p
	}
	switch {
	case t.status == "open":
		since = nil
	case paused:
		since = start
	case t.closedAt != 0:
		since = t.closedAt
	default:
		since = t.created
	}
	return since, strings.Join(spans, " ")
}

// statusData is the activity line's data for a status change.
func statusData(to string) string { return `{"kind":"status","to":"` + to + `"}` }

// write inserts the tenant in one transaction, many rows per statement.
func (s *seedTenant) write(tb testing.TB, db *sql.DB) {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	b := &batcher{tb: tb, ctx: ctx, tx: tx}
	for _, a := range s.agents {
		b.add(`INSERT INTO agents (id, full_name, email, password_hash, must_change_password, created_at, updated_at) VALUES `,
			"(?, ?, ?, 'x', 0, 0, 0)", a.id, a.name, fmt.Sprintf("agent%d@example.com", a.id))
	}
	b.flush()
	b.add(`INSERT INTO contacts (id, email, name, created_at, updated_at) VALUES `, "(1, 'c@example.com', 'C', 0, 0)")
	b.flush()
	for _, t := range s.tickets {
		var assignee, closedAt, rating any
		if t.assignee != 0 {
			assignee = t.assignee
		}
		if t.closedAt != 0 {
			closedAt = t.closedAt
		}
		if t.rating != 0 {
			rating = t.rating
		}
		since, pauses := t.pauses()
		if s.legacy {
			b.add(`INSERT INTO tickets (id, contact_id, customer_name, customer_email, query, token_hash, status,
			priority, assignee_id, rating, created_at, updated_at, closed_at) VALUES `,
				"(?, 1, 'C', 'c@example.com', 'A question.', ?, ?, ?, ?, ?, ?, ?, ?)",
				t.id, []byte(fmt.Sprintf("token-%d", t.id)), t.status, t.priority, assignee, rating, t.created, t.created, closedAt)
			continue
		}
		b.add(`INSERT INTO tickets (id, contact_id, customer_name, customer_email, query, token_hash, status,
			priority, assignee_id, rating, created_at, updated_at, closed_at, first_reply_at, paused_since, pauses) VALUES `,
			"(?, 1, 'C', 'c@example.com', 'A question long enough to make the row larger than its index entries.', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			t.id, []byte(fmt.Sprintf("token-%d", t.id)), t.status, t.priority, assignee, rating, t.created, t.created, closedAt,
			t.firstReply(), since, pauses)
	}
	b.flush()
	conv := func(t seedTicket) int64 {
		if t.conv != 0 {
			return t.conv
		}
		return t.id
	}
	for _, t := range s.tickets {
		b.add(`INSERT INTO conversations (id, ticket_id, created_at) VALUES `, "(?, ?, ?)", conv(t), t.id, t.created)
	}
	b.flush()
	for _, t := range s.tickets {
		for _, m := range t.msgs {
			var agent any
			if m.agent != 0 {
				agent = m.agent
			}
			b.add(`INSERT INTO messages (conversation_id, sender, agent_id, body, data, created_at) VALUES `,
				"(?, ?, ?, 'text', ?, ?)", conv(t), m.sender, agent, m.data, m.at)
		}
	}
	b.flush()
	for _, t := range s.tickets {
		for _, g := range t.tags {
			b.add(`INSERT INTO ticket_tags (ticket_id, tag) VALUES `, "(?, ?)", t.id, g)
		}
	}
	b.flush()
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// batcher collects rows of one INSERT and runs them 100 at a time.
type batcher struct {
	tb   testing.TB
	ctx  context.Context
	tx   *sql.Tx
	head string
	rows []string
	args []any
}

func (b *batcher) add(head, row string, args ...any) {
	if b.head != head || len(b.rows) == 100 {
		b.flush()
		b.head = head
	}
	b.rows = append(b.rows, row)
	b.args = append(b.args, args...)
}

func (b *batcher) flush() {
	b.tb.Helper()
	if len(b.rows) == 0 {
		return
	}
	if _, err := b.tx.ExecContext(b.ctx, b.head+strings.Join(b.rows, ", "), b.args...); err != nil {
		b.tb.Fatalf("%s: %v", b.head, err)
	}
	b.rows, b.args = b.rows[:0], b.args[:0]
}
