package desk

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// migrations is one fs.FS value for the whole package, so schema's cache serves every test.
var migrations = os.DirFS("../migrations/tenant")

// openStore returns a store on a fresh, migrated tenant database with one connection, as
// tenantdb.Local opens them.
func openStore(tb testing.TB) *store {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "tenant.db"), 1)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := schema.Up(db, migrations); err != nil {
		tb.Fatal(err)
	}
	return newStore(db)
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func bodies(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Body)
	}
	return out
}

// addMessage writes a message straight into a conversation (no rules: store-level tests).
func addMessage(tb testing.TB, s *store, t Ticket, sender string, agentID int64, body string) Message {
	tb.Helper()
	m, err := insertMessage(context.Background(), s.db, Message{TicketID: t.ID, ConversationID: t.ConversationID,
		Sender: sender, AgentID: agentID, Body: body, CreatedAt: stamp(s.now)})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// Text that looks like a date comes back as the text it was, never as a time.
func TestDateLikeTextRoundTrips(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	for i, v := range []string{"2024-01-02", "2024-01-02T03:04:05Z", "2024-01-02 03:04:05", "15:04:05"} {
		a, err := s.CreateAgent(ctx, v, fmt.Sprintf("a%d@example.com", i), v)
		if err != nil {
			t.Fatal(err)
		}
		tk, err := s.OpenTicket(ctx, v, fmt.Sprintf("c%d@example.com", i), v, tokenHash(v))
		if err != nil {
			t.Fatal(err)
		}
		addMessage(t, s, tk, SenderAgent, a.ID, v)
		msgs, err := s.Messages(ctx, tk.ID, tk.ConversationID, 0, false, 10)
		if err != nil {
			t.Fatalf("Messages with body %q: %v", v, err)
		}
		if got, want := bodies(msgs), []string{v, v}; !slices.Equal(got, want) {
			t.Errorf("bodies = %q, want %q", got, want)
		}
		if msgs[1].AgentName != v {
			t.Errorf("agent name on the message = %q, want %q", msgs[1].AgentName, v)
		}
		got, err := s.Ticket(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Query != v || got.CustomerName != v {
			t.Errorf("ticket query %q, customer %q; want %q", got.Query, got.CustomerName, v)
		}
		ag, err := s.Agent(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ag.FullName != v || ag.PasswordHash != v {
			t.Errorf("agent name %q, hash %q; want %q", ag.FullName, ag.PasswordHash, v)
		}
	}
}

func TestMessagesPaging(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a, err := s.CreateAgent(ctx, "A", "a@example.com", "h")
	if err != nil {
		t.Fatal(err)
	}
	one, err := s.OpenTicket(ctx, "C", "c@example.com", "m0", tokenHash("one"))
	if err != nil {
		t.Fatal(err)
	}
	two, err := s.OpenTicket(ctx, "C", "c@example.com", "other-0", tokenHash("two"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 10; i++ {
		addMessage(t, s, one, SenderAgent, a.ID, fmt.Sprintf("m%d", i))
		addMessage(t, s, two, SenderAgent, a.ID, fmt.Sprintf("other-%d", i)) // interleaved ids
		addMessage(t, s, one, SenderNote, a.ID, fmt.Sprintf("note%d", i))
	}
	all, err := s.Messages(ctx, one.ID, one.ConversationID, 0, true, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(bodies(all)); got != "[m0 m1 m2 m3 m4 m5 m6 m7 m8 m9]" {
		t.Fatalf("public messages = %s", got)
	}
	if staff, err := s.Messages(ctx, one.ID, one.ConversationID, 0, false, 100); err != nil || len(staff) != 19 {
		t.Fatalf("the team's messages: %d, %v; want 19 (notes included)", len(staff), err)
	}
	// Page through with afterID: every message once, in order, nothing from the other
	// conversation.
	var paged []string
	after := int64(0)
	for page := 0; ; page++ {
		ms, err := s.Messages(ctx, one.ID, one.ConversationID, after, true, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			break
		}
		if len(ms) > 3 {
			t.Fatalf("page %d has %d messages, want at most 3", page, len(ms))
		}
		paged = append(paged, bodies(ms)...)
		after = ms[len(ms)-1].ID
	}
	if got := fmt.Sprint(paged); got != "[m0 m1 m2 m3 m4 m5 m6 m7 m8 m9]" {
		t.Errorf("paged = %s", got)
	}
	last, err := s.LastMessages(ctx, one.ID, one.ConversationID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(bodies(last)); got != "[m9 note9]" && got != "[note8 m9 note9]" {
		t.Errorf("LastMessages(3) = %s, want the newest three, oldest first", got)
	}
}

// The statements every poll, page and queue runs are index lookups: no scan of tickets or
// messages, and no sort for the poll and the messages.
func TestQueryPlansUseIndexes(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	tk, err := s.OpenTicket(ctx, "C", "c@example.com", "q", tokenHash("tok"))
	if err != nil {
		t.Fatal(err)
	}
	noSort := func(string) bool { return false }
	for _, tc := range []struct {
		name   string
		query  string
		args   []any
		want   []string // index names the plan must mention
		sortOK func(string) bool
	}{
		{"PollByToken", pollSelect + "WHERE t.token_hash = ?", []any{tokenHash("tok")},
			[]string{"sqlite_autoindex_tickets_1", "messages_conversation"}, noSort},
		{"PollByConversation", pollSelect + "WHERE v.id = ?", []any{tk.ConversationID}, []string{"messages_conversation"}, noSort},
		{"Messages", messageSelect + "WHERE m.conversation_id = ? AND m.id > ?" + publicOnly + " ORDER BY m.id LIMIT ?",
			[]any{tk.ConversationID, 0, 20}, []string{"messages_conversation"}, noSort},
		{"Mine", ticketSelect + "WHERE t.status = 'open' AND t.assignee_id = ? ORDER BY t.priority DESC LIMIT 50",
			[]any{1}, []string{"tickets_assignee"}, func(string) bool { return true }},
		{"Pending", ticketSelect + "WHERE t.status = ? ORDER BY t.priority DESC LIMIT 50",
			[]any{"pending"}, []string{"tickets_queue"}, func(string) bool { return true }},
		{"Contact", ticketSelect + "WHERE t.contact_id = ? ORDER BY t.id DESC LIMIT 50",
			[]any{tk.ContactID}, []string{"tickets_contact"}, noSort},
		{"WebhookOlderPending", olderPendingQuery, []any{0, WebhookKind, 1, tk.ID, 100},
			[]string{"webhook_deliveries_pending"}, noSort},
		{"WebhookNextPending", nextPendingQuery, []any{1}, []string{"webhook_deliveries_pending"}, noSort},
		{"WebhookLog", "SELECT id FROM webhook_deliveries WHERE endpoint_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
			[]any{1, 100, 50}, []string{"webhook_deliveries_endpoint"}, noSort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := queryPlan(t, s.db, tc.query, tc.args...)
			joined := strings.Join(plan, "\n")
			for _, d := range plan {
				// (A ticket's tags are gathered in a subquery over its own rows, which the plan
				// shows as a scan of the subquery.)
				if strings.HasPrefix(d, "SCAN ") && d != "SCAN CONSTANT ROW" && !strings.HasPrefix(d, "SCAN (subquery") {
					t.Errorf("full scan %q in plan:\n%s", d, joined)
				}
				if strings.HasPrefix(d, "SEARCH ") && !strings.Contains(d, " USING ") {
					t.Errorf("search without an index %q in plan:\n%s", d, joined)
				}
				if strings.Contains(d, "TEMP B-TREE") && !tc.sortOK(d) {
					t.Errorf("sort %q in plan:\n%s", d, joined)
				}
			}
			for _, idx := range tc.want {
				if !strings.Contains(joined, idx) {
					t.Errorf("plan does not use index %s:\n%s", idx, joined)
				}
			}
		})
	}
}

// queryPlan returns the detail column of EXPLAIN QUERY PLAN for query.
func queryPlan(tb testing.TB, db *sql.DB, query string, args ...any) []string {
	tb.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var details []string
	for rows.Next() {
		var id, parent, notused int64
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			tb.Fatal(err)
		}
		details = append(details, detail)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(details) == 0 {
		tb.Fatal("empty query plan")
	}
	return details
}

// TestMigrationFromV1 migrates a tenant written by the first schema: every ticket keeps its
// id, token, messages and rating; engaged tickets become open and assigned to their agent; a
// ticket no agent took gets its conversation with the question as the first message; a
// ticket whose agent was removed is unassigned; customers become contacts, one per email.
func TestMigrationFromV1(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "tenant.db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v1 := fstest.MapFS{}
	for _, name := range []string{"0001_helpdesk.up.sql", "0001_helpdesk.down.sql"} {
		b, err := fs.ReadFile(migrations, name)
		if err != nil {
			t.Fatal(err)
		}
		v1[name] = &fstest.MapFile{Data: b}
	}
	if v, err := schema.Up(db, v1); err != nil || v != 1 {
		t.Fatalf("migrate to 1: %d, %v", v, err)
	}
	for _, stmt := range []string{
		`INSERT INTO agents (id, full_name, email, password_hash, created_at, updated_at) VALUES
			(1, 'Ann', 'ann@acme.example', 'h', 1, 1), (2, 'Gone', 'gone@acme.example', '', 1, 1)`,
		`INSERT INTO tickets (id, customer_name, customer_email, query, token_hash, status, rating, created_at, updated_at, closed_at) VALUES
			(1, 'Old Name', 'Carla@Example.com', 'waiting q', x'01', 'open', NULL, 10, 10, NULL),
			(2, 'Carla', 'carla@example.com', 'engaged q', x'02', 'engaged', NULL, 20, 20, NULL),
			(3, 'Dora', 'dora@example.com', 'closed q', x'03', 'closed', 4, 30, 40, 40),
			(4, 'Eve', 'eve@example.com', 'requeued q', x'04', 'open', NULL, 50, 50, NULL)`,
		`INSERT INTO conversations (id, ticket_id, agent_id, created_at) VALUES (1, 2, 1, 21), (2, 3, 1, 31), (3, 4, 2, 51)`,
		`INSERT INTO messages (id, conversation_id, sender, agent_id, body, created_at) VALUES
			(1, 1, 'customer', NULL, 'engaged q', 21), (2, 1, 'agent', 1, 'hello', 22),
			(3, 2, 'customer', NULL, 'closed q', 31), (4, 3, 'customer', NULL, 'requeued q', 51)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if _, err := schema.Up(db, migrations); err != nil {
		t.Fatal(err)
	}
	s := newStore(db)
	want := map[int64]struct {
		status   string
		assignee int64
		msgs     []string
		rating   int
		waiting  int64 // waiting since (Unix seconds); 0 when the team spoke last or it is closed
	}{
		1: {StatusOpen, 0, []string{"waiting q"}, 0, 10},
		2: {StatusOpen, 1, []string{"engaged q", "hello"}, 0, 0},
		3: {StatusClosed, 1, []string{"closed q"}, 4, 0},
		4: {StatusOpen, 0, []string{"requeued q"}, 0, 51},
	}
	contacts := map[int64]bool{}
	for id, w := range want {
		tk, err := s.Ticket(ctx, id)
		if err != nil {
			t.Fatalf("ticket %d: %v", id, err)
		}
		if tk.Status != w.status || tk.AssigneeID != w.assignee || tk.Rating != w.rating || tk.Priority != PriorityNormal {
			t.Errorf("ticket %d = status %s, assignee %d, rating %d, priority %v; want %s, %d, %d, normal",
				id, tk.Status, tk.AssigneeID, tk.Rating, tk.Priority, w.status, w.assignee, w.rating)
		}
		if got := tk.WaitingSince; (w.waiting == 0) != got.IsZero() || (w.waiting != 0 && got.Unix() != w.waiting) {
			t.Errorf("ticket %d waits since %v, want %d", id, got, w.waiting)
		}
		msgs, err := s.Messages(ctx, tk.ID, tk.ConversationID, 0, false, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(bodies(msgs), w.msgs) {
			t.Errorf("ticket %d messages = %q, want %q", id, bodies(msgs), w.msgs)
		}
		st, err := s.PollByToken(ctx, []byte{byte(id)})
		if err != nil || st.TicketID != id {
			t.Errorf("ticket %d by its old token: %+v, %v", id, st, err)
		}
		contacts[tk.ContactID] = true
	}
	if len(contacts) != 3 {
		t.Errorf("%d contacts for carla (twice, in two cases), dora and eve; want 3", len(contacts))
	}
	c, err := s.Contact(ctx, 1)
	if err != nil || c.Email != "carla@example.com" || c.Name != "Carla" {
		t.Errorf("contact 1 = %+v, %v; want carla@example.com named by her newest ticket", c, err)
	}
	var violations int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pragma_foreign_key_check").Scan(&violations); err != nil || violations != 0 {
		t.Errorf("foreign key violations after the migration: %d, %v", violations, err)
	}
	// New ids continue after the old ones.
	tk, err := s.OpenTicket(ctx, "New", "new@example.com", "q", tokenHash("new"))
	if err != nil || tk.ID != 5 {
		t.Errorf("a new ticket after the migration: id %d, %v; want 5", tk.ID, err)
	}
}
