package crm

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// migrations is one fs.FS value for the whole package, so schema's cache serves every test.
var migrations = os.DirFS("../migrations/tenant")

// openStore returns a Store on a fresh, migrated tenant database with one connection, as
// tenantdb.Local opens them.
func openStore(tb testing.TB) *Store {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "tenant.db"), 1)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := schema.Up(db, migrations); err != nil {
		tb.Fatal(err)
	}
	return New(db)
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func mustAgent(tb testing.TB, s *Store, email string) Agent {
	tb.Helper()
	a, err := s.CreateAgent(context.Background(), "Agent "+email, email, "hash")
	if err != nil {
		tb.Fatalf("CreateAgent(%q): %v", email, err)
	}
	return a
}

func mustTicket(tb testing.TB, s *Store, token, query string) Ticket {
	tb.Helper()
	t, err := s.OpenTicket(context.Background(), "Customer "+token, token+"@example.com", query, tokenHash(token))
	if err != nil {
		tb.Fatalf("OpenTicket(%q): %v", token, err)
	}
	return t
}

func mustEngage(tb testing.TB, s *Store, ticketID, agentID int64) int64 {
	tb.Helper()
	conv, err := s.Engage(context.Background(), ticketID, agentID)
	if err != nil {
		tb.Fatalf("Engage(%d, %d): %v", ticketID, agentID, err)
	}
	return conv
}

func mustMessage(tb testing.TB, s *Store, conv int64, sender string, agentID int64, body string) Message {
	tb.Helper()
	m, err := s.AddMessage(context.Background(), conv, sender, agentID, body)
	if err != nil {
		tb.Fatalf("AddMessage(%d, %q): %v", conv, body, err)
	}
	return m
}

// wantKind fails the test unless err is an apperr of kind.
func wantKind(tb testing.TB, what string, err error, kind apperr.Kind) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%s: got nil error, want kind %d", what, kind)
	}
	if got := apperr.KindOf(err); got != kind {
		tb.Errorf("%s: got kind %d (%v), want %d", what, got, err, kind)
	}
}

func count(tb testing.TB, s *Store, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := s.db.QueryRow(query, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

func bodies(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Body)
	}
	return out
}

func TestAgents(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	fixed := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	s.now = func() time.Time { return fixed }

	a, err := s.CreateAgent(ctx, "Ada Lovelace", "ada@example.com", "h1")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || !a.MustChangePassword || !a.CreatedAt.Equal(fixed) {
		t.Errorf("CreateAgent = %+v, want an id, MustChangePassword and CreatedAt %v", a, fixed)
	}
	_, err = s.CreateAgent(ctx, "Someone Else", "ada@example.com", "h2")
	wantKind(t, "duplicate email", err, apperr.Conflict)
	if e, _ := apperr.As(err); e == nil || e.Field != "email" {
		t.Errorf("duplicate email: got %v, want an error on field email", err)
	}

	got, err := s.AgentByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got != a {
		t.Errorf("AgentByEmail = %+v\nwant %+v", got, a)
	}
	if got, err = s.Agent(ctx, a.ID); err != nil || got != a {
		t.Errorf("Agent(%d) = %+v, %v; want %+v", a.ID, got, err, a)
	}
	_, err = s.AgentByEmail(ctx, "nobody@example.com")
	wantKind(t, "AgentByEmail unknown", err, apperr.NotFound)
	_, err = s.Agent(ctx, a.ID+1)
	wantKind(t, "Agent unknown", err, apperr.NotFound)

	if err := s.SetAgentPassword(ctx, a.ID, "h3"); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Agent(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if got.MustChangePassword || got.PasswordHash != "h3" {
		t.Errorf("after SetAgentPassword: MustChangePassword %v, hash %q; want false, h3", got.MustChangePassword, got.PasswordHash)
	}
	wantKind(t, "SetAgentPassword unknown", s.SetAgentPassword(ctx, a.ID+1, "x"), apperr.NotFound)

	b := mustAgent(t, s, "bob@example.com")
	list, err := s.Agents(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Errorf("Agents = %+v, want ada then bob", list)
	}
	if list, _ = s.Agents(ctx, 1); len(list) != 1 {
		t.Errorf("Agents(1) returned %d agents", len(list))
	}
}

func TestTickets(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	tk := mustTicket(t, s, "tok-1", "My printer is on fire")
	if tk.ID == 0 || tk.Status != StatusOpen || tk.CreatedAt.IsZero() {
		t.Errorf("OpenTicket = %+v, want an id, status open and a creation time", tk)
	}
	got, err := s.TicketByToken(ctx, tokenHash("tok-1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tk.ID || got.Query != "My printer is on fire" || got.CustomerEmail != "tok-1@example.com" ||
		got.Status != StatusOpen || got.ConversationID != 0 || got.AgentID != 0 || got.AgentName != "" || !got.ClosedAt.IsZero() {
		t.Errorf("TicketByToken = %+v", got)
	}
	if byID, err := s.Ticket(ctx, tk.ID); err != nil || byID != got {
		t.Errorf("Ticket(%d) = %+v, %v; want %+v", tk.ID, byID, err, got)
	}
	_, err = s.TicketByToken(ctx, tokenHash("unknown"))
	wantKind(t, "TicketByToken unknown", err, apperr.NotFound)
	_, err = s.TicketByToken(ctx, nil)
	wantKind(t, "TicketByToken nil", err, apperr.NotFound)
	_, err = s.Ticket(ctx, tk.ID+1)
	wantKind(t, "Ticket unknown", err, apperr.NotFound)

	// A token hash is unique: a second ticket with the same one is refused.
	if _, err := s.OpenTicket(ctx, "x", "x@example.com", "q", tokenHash("tok-1")); err == nil {
		t.Error("OpenTicket with a used token hash: got nil error")
	}
}

func TestTicketListings(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a, b := mustAgent(t, s, "a@example.com"), mustAgent(t, s, "b@example.com")
	t1 := mustTicket(t, s, "t1", "one")
	t2 := mustTicket(t, s, "t2", "two")
	t3 := mustTicket(t, s, "t3", "three")
	mustEngage(t, s, t1.ID, a.ID)
	mustEngage(t, s, t3.ID, a.ID)
	mustEngage(t, s, t2.ID, b.ID)

	ids := func(ts []Ticket, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, tk := range ts {
			out = append(out, tk.ID)
		}
		return fmt.Sprint(out)
	}
	if got, want := ids(s.Tickets(ctx, "", 10)), fmt.Sprint([]int64{t3.ID, t2.ID, t1.ID}); got != want {
		t.Errorf("Tickets(all) = %s, want %s", got, want)
	}
	if got, want := ids(s.Tickets(ctx, StatusOpen, 10)), "[]"; got != want {
		t.Errorf("Tickets(open) = %s, want %s", got, want)
	}
	if got, want := ids(s.AgentTickets(ctx, a.ID, 10)), fmt.Sprint([]int64{t3.ID, t1.ID}); got != want {
		t.Errorf("AgentTickets(a) = %s, want %s", got, want)
	}
	list, _ := s.AgentTickets(ctx, b.ID, 10)
	if len(list) != 1 || list[0].AgentName != "Agent b@example.com" || list[0].Status != StatusEngaged {
		t.Errorf("AgentTickets(b) = %+v, want t2 engaged by Agent b@example.com", list)
	}
}

func TestEngage(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a, b := mustAgent(t, s, "a@example.com"), mustAgent(t, s, "b@example.com")
	tk := mustTicket(t, s, "tok", "Where is my order?")

	conv := mustEngage(t, s, tk.ID, a.ID)
	if conv == 0 {
		t.Fatal("Engage returned conversation 0")
	}
	got, err := s.Ticket(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusEngaged || got.ConversationID != conv || got.AgentID != a.ID || got.AgentName != a.FullName {
		t.Errorf("ticket after Engage = %+v, want engaged, conversation %d, agent %d %q", got, conv, a.ID, a.FullName)
	}
	msgs, err := s.Messages(ctx, conv, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Sender != SenderCustomer || msgs[0].Body != "Where is my order?" || msgs[0].ConversationID != conv {
		t.Errorf("messages after Engage = %+v, want the customer's query", msgs)
	}

	again, err := s.Engage(ctx, tk.ID, a.ID)
	if err != nil || again != conv {
		t.Errorf("Engage by the same agent again = %d, %v; want %d, nil", again, err, conv)
	}
	_, err = s.Engage(ctx, tk.ID, b.ID)
	wantKind(t, "Engage by another agent", err, apperr.Conflict)
	_, err = s.Engage(ctx, tk.ID+100, a.ID)
	wantKind(t, "Engage unknown ticket", err, apperr.NotFound)

	if n := count(t, s, "SELECT count(*) FROM conversations"); n != 1 {
		t.Errorf("%d conversations, want 1", n)
	}
	if n := count(t, s, "SELECT count(*) FROM messages"); n != 1 {
		t.Errorf("%d messages, want 1 (re-engaging must not repeat the query)", n)
	}
	// A closed ticket cannot be engaged by anyone else either.
	if err := s.CloseTicket(ctx, tk.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Engage(ctx, tk.ID, b.ID)
	wantKind(t, "Engage closed ticket", err, apperr.Conflict)
}

func TestEngageConcurrently(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	tk := mustTicket(t, s, "tok", "help")
	const n = 20
	agents := make([]Agent, n)
	for i := range agents {
		agents[i] = mustAgent(t, s, fmt.Sprintf("agent%d@example.com", i))
	}
	var wg sync.WaitGroup
	convs := make([]int64, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			convs[i], errs[i] = s.Engage(ctx, tk.ID, agents[i].ID)
		}()
	}
	close(start)
	wg.Wait()
	winners := 0
	var winner int
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			winner = i
		case apperr.KindOf(err) != apperr.Conflict:
			t.Errorf("agent %d: got %v, want nil or Conflict", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d agents engaged the ticket, want exactly 1", winners)
	}
	if n := count(t, s, "SELECT count(*) FROM conversations WHERE ticket_id = ?", tk.ID); n != 1 {
		t.Errorf("%d conversations, want 1", n)
	}
	if n := count(t, s, "SELECT count(*) FROM messages"); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
	got, err := s.Ticket(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ConversationID != convs[winner] || got.AgentID != agents[winner].ID {
		t.Errorf("ticket = conversation %d agent %d; want %d, %d", got.ConversationID, got.AgentID, convs[winner], agents[winner].ID)
	}
}

func TestAddMessage(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustAgent(t, s, "a@example.com")
	tk := mustTicket(t, s, "tok", "q")
	conv := mustEngage(t, s, tk.ID, a.ID)

	m := mustMessage(t, s, conv, SenderAgent, a.ID, "Hello, how can I help?")
	if m.ID == 0 || m.ConversationID != conv || m.Sender != SenderAgent || m.CreatedAt.IsZero() {
		t.Errorf("AddMessage = %+v", m)
	}
	var agentID sql.NullInt64
	if err := s.db.QueryRow("SELECT agent_id FROM messages WHERE id = ?", m.ID).Scan(&agentID); err != nil {
		t.Fatal(err)
	}
	if agentID.Int64 != a.ID {
		t.Errorf("agent message stored agent_id %v, want %d", agentID, a.ID)
	}
	c := mustMessage(t, s, conv, SenderCustomer, 999, "thanks")
	if err := s.db.QueryRow("SELECT agent_id FROM messages WHERE id = ?", c.ID).Scan(&agentID); err != nil {
		t.Fatal(err)
	}
	if agentID.Valid {
		t.Errorf("customer message stored agent_id %d, want NULL", agentID.Int64)
	}

	_, err := s.AddMessage(ctx, conv+100, SenderCustomer, 0, "x")
	wantKind(t, "AddMessage unknown conversation", err, apperr.NotFound)

	if err := s.CloseTicket(ctx, tk.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.AddMessage(ctx, conv, SenderCustomer, 0, "too late")
	wantKind(t, "AddMessage on closed ticket", err, apperr.Conflict)
	_, err = s.AddMessage(ctx, conv, SenderAgent, a.ID, "too late")
	wantKind(t, "agent AddMessage on closed ticket", err, apperr.Conflict)
	if n := count(t, s, "SELECT count(*) FROM messages WHERE conversation_id = ?", conv); n != 3 {
		t.Errorf("%d messages, want 3 (query, agent, customer)", n)
	}
}

// go-libsql returns date-like TEXT as time.Time; bodies, queries and names must come back as
// the strings that were stored.
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
		conv := mustEngage(t, s, tk.ID, a.ID)
		mustMessage(t, s, conv, SenderAgent, a.ID, v)
		msgs, err := s.Messages(ctx, conv, 0, 10)
		if err != nil {
			t.Fatalf("Messages with body %q: %v", v, err)
		}
		if got, want := bodies(msgs), []string{v, v}; fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Errorf("bodies = %q, want %q", got, want)
		}
		got, err := s.TicketByToken(ctx, tokenHash(v))
		if err != nil {
			t.Fatalf("TicketByToken with %q: %v", v, err)
		}
		if got.Query != v || got.CustomerName != v || got.AgentName != v {
			t.Errorf("ticket query %q, customer %q, agent %q; want %q", got.Query, got.CustomerName, got.AgentName, v)
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
	a := mustAgent(t, s, "a@example.com")
	conv := mustEngage(t, s, mustTicket(t, s, "one", "m0").ID, a.ID)
	other := mustEngage(t, s, mustTicket(t, s, "two", "other-0").ID, a.ID)
	for i := 1; i < 10; i++ {
		mustMessage(t, s, conv, SenderAgent, a.ID, fmt.Sprintf("m%d", i))
		mustMessage(t, s, other, SenderAgent, a.ID, fmt.Sprintf("other-%d", i)) // interleaved ids
	}
	all, err := s.Messages(ctx, conv, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(bodies(all)); got != "[m0 m1 m2 m3 m4 m5 m6 m7 m8 m9]" {
		t.Fatalf("Messages(conv, 0, 100) = %s", got)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Errorf("message ids not increasing: %d after %d", all[i].ID, all[i-1].ID)
		}
	}

	// Page through with afterID: every message once, in order, nothing from the other
	// conversation.
	var paged []string
	after := int64(0)
	for page := 0; ; page++ {
		ms, err := s.Messages(ctx, conv, after, 3)
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
	if ms, err := s.Messages(ctx, conv, all[len(all)-1].ID, 10); err != nil || len(ms) != 0 {
		t.Errorf("Messages after the newest = %v, %v; want none", bodies(ms), err)
	}

	for _, tc := range []struct {
		limit int
		want  string
	}{
		{3, "[m7 m8 m9]"},
		{1, "[m9]"},
		{10, "[m0 m1 m2 m3 m4 m5 m6 m7 m8 m9]"},
		{50, "[m0 m1 m2 m3 m4 m5 m6 m7 m8 m9]"},
	} {
		ms, err := s.LastMessages(ctx, conv, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(bodies(ms)); got != tc.want {
			t.Errorf("LastMessages(%d) = %s, want %s", tc.limit, got, tc.want)
		}
	}
	if ms, err := s.LastMessages(ctx, conv+100, 5); err != nil || len(ms) != 0 {
		t.Errorf("LastMessages(unknown) = %v, %v; want none", bodies(ms), err)
	}
}

func TestCloseTicket(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a, b := mustAgent(t, s, "a@example.com"), mustAgent(t, s, "b@example.com")
	tk := mustTicket(t, s, "tok", "q")
	open := mustTicket(t, s, "open", "q")
	mustEngage(t, s, tk.ID, a.ID)

	wantKind(t, "CloseTicket by another agent", s.CloseTicket(ctx, tk.ID, b.ID), apperr.NotFound)
	wantKind(t, "CloseTicket of an open ticket", s.CloseTicket(ctx, open.ID, a.ID), apperr.NotFound)
	wantKind(t, "CloseTicket of an unknown ticket", s.CloseTicket(ctx, tk.ID+100, a.ID), apperr.NotFound)
	if got, _ := s.Ticket(ctx, tk.ID); got.Status != StatusEngaged {
		t.Fatalf("status after refused closes = %q, want engaged", got.Status)
	}

	if err := s.CloseTicket(ctx, tk.ID, a.ID); err != nil {
		t.Fatalf("CloseTicket by the owner: %v", err)
	}
	got, err := s.Ticket(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusClosed || got.ClosedAt.IsZero() {
		t.Errorf("after CloseTicket: status %q, closed at %v; want closed and a time", got.Status, got.ClosedAt)
	}
	wantKind(t, "second CloseTicket", s.CloseTicket(ctx, tk.ID, a.ID), apperr.Conflict)
	wantKind(t, "CloseTicket of a closed ticket by another agent", s.CloseTicket(ctx, tk.ID, b.ID), apperr.NotFound)
}

func TestRate(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustAgent(t, s, "a@example.com")
	tk := mustTicket(t, s, "tok", "q")

	wantKind(t, "Rate open ticket", s.Rate(ctx, tk.ID, 5), apperr.Conflict)
	mustEngage(t, s, tk.ID, a.ID)
	wantKind(t, "Rate engaged ticket", s.Rate(ctx, tk.ID, 5), apperr.Conflict)
	if err := s.CloseTicket(ctx, tk.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	for _, r := range []int{0, 6, -1} {
		err := s.Rate(ctx, tk.ID, r)
		wantKind(t, fmt.Sprintf("Rate(%d)", r), err, apperr.Invalid)
		if e, _ := apperr.As(err); e == nil || e.Field != "rating" {
			t.Errorf("Rate(%d): got %v, want an error on field rating", r, err)
		}
	}
	wantKind(t, "Rate unknown ticket", s.Rate(ctx, tk.ID+100, 3), apperr.NotFound)
	if err := s.Rate(ctx, tk.ID, 4); err != nil {
		t.Fatalf("Rate(4): %v", err)
	}
	wantKind(t, "second Rate", s.Rate(ctx, tk.ID, 5), apperr.Conflict)
	if got, _ := s.Ticket(ctx, tk.ID); got.Rating != 4 {
		t.Errorf("rating = %d, want 4 (the second Rate must not overwrite)", got.Rating)
	}
}

func TestCounts(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	c, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c != (TicketCounts{}) {
		t.Errorf("Counts on an empty database = %+v, want zero", c)
	}
	a := mustAgent(t, s, "a@example.com")
	mustTicket(t, s, "o1", "q")
	mustTicket(t, s, "o2", "q")
	mustEngage(t, s, mustTicket(t, s, "e1", "q").ID, a.ID)
	for i, rating := range []int{5, 2, 0} {
		tk := mustTicket(t, s, fmt.Sprintf("c%d", i), "q")
		mustEngage(t, s, tk.ID, a.ID)
		if err := s.CloseTicket(ctx, tk.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if rating > 0 {
			if err := s.Rate(ctx, tk.ID, rating); err != nil {
				t.Fatal(err)
			}
		}
	}
	if c, err = s.Counts(ctx); err != nil {
		t.Fatal(err)
	}
	want := TicketCounts{Open: 2, Engaged: 1, Closed: 3, Rated: 2, AverageRating: 3.5}
	if c != want {
		t.Errorf("Counts = %+v, want %+v", c, want)
	}
}

func TestPoll(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustAgent(t, s, "a@example.com")
	tk := mustTicket(t, s, "tok", "q")

	p, err := s.PollByToken(ctx, tokenHash("tok"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (PollState{TicketID: tk.ID, Status: StatusOpen}); p != want {
		t.Errorf("PollByToken before Engage = %+v, want %+v", p, want)
	}
	_, err = s.PollByToken(ctx, tokenHash("nope"))
	wantKind(t, "PollByToken unknown", err, apperr.NotFound)

	conv := mustEngage(t, s, tk.ID, a.ID)
	first, _ := s.Messages(ctx, conv, 0, 1)
	if len(first) != 1 {
		t.Fatal("no first message after Engage")
	}
	want := PollState{TicketID: tk.ID, Status: StatusEngaged, ConversationID: conv, AgentID: a.ID, LastMessageID: first[0].ID}
	if p, err = s.PollByToken(ctx, tokenHash("tok")); err != nil || p != want {
		t.Errorf("PollByToken after Engage = %+v, %v; want %+v", p, err, want)
	}
	if p, err = s.PollByConversation(ctx, conv); err != nil || p != want {
		t.Errorf("PollByConversation after Engage = %+v, %v; want %+v", p, err, want)
	}

	// A message in another conversation must not move this one's LastMessageID.
	other := mustEngage(t, s, mustTicket(t, s, "other", "q").ID, a.ID)
	m := mustMessage(t, s, conv, SenderAgent, a.ID, "hi")
	mustMessage(t, s, other, SenderAgent, a.ID, "elsewhere")
	want.LastMessageID = m.ID
	if p, err = s.PollByConversation(ctx, conv); err != nil || p != want {
		t.Errorf("PollByConversation after a message = %+v, %v; want %+v", p, err, want)
	}

	if err := s.CloseTicket(ctx, tk.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	want.Status = StatusClosed
	if p, err = s.PollByToken(ctx, tokenHash("tok")); err != nil || p != want {
		t.Errorf("PollByToken after close = %+v, %v; want %+v", p, err, want)
	}
	_, err = s.PollByConversation(ctx, other+100)
	wantKind(t, "PollByConversation unknown", err, apperr.NotFound)
}

// messagesQuery is the statement Messages runs (kept in step with crm.go by hand).
const messagesQuery = `SELECT id, CAST(sender AS BLOB), CAST(body AS BLOB), created_at
		FROM messages WHERE conversation_id = ? AND id > ? ORDER BY id LIMIT ?`

// The poll and message queries run on every poll of every open conversation: they must be
// index lookups, never a scan of tickets or messages, and need no sort.
func TestQueryPlansUseIndexes(t *testing.T) {
	s := openStore(t)
	a := mustAgent(t, s, "a@example.com")
	conv := mustEngage(t, s, mustTicket(t, s, "tok", "q").ID, a.ID)
	mustMessage(t, s, conv, SenderAgent, a.ID, "hi")
	// Without ANALYZE statistics, on tiny tables, the planner must still choose the indexes.
	for _, tc := range []struct {
		name  string
		query string
		args  []any
		want  []string // index names the plan must mention
	}{
		{"PollByToken", pollSelect + "WHERE t.token_hash = ?", []any{tokenHash("tok")},
			[]string{"sqlite_autoindex_tickets_1", "sqlite_autoindex_conversations_1", "messages_conversation"}},
		{"PollByConversation", pollSelect + "WHERE c.id = ?", []any{conv},
			[]string{"messages_conversation"}},
		{"Messages", messagesQuery, []any{conv, 0, 20}, []string{"messages_conversation"}},
		{"TicketByToken", ticketSelect + "WHERE t.token_hash = ?", []any{tokenHash("tok")},
			[]string{"sqlite_autoindex_tickets_1", "sqlite_autoindex_conversations_1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := queryPlan(t, s.db, tc.query, tc.args...)
			joined := strings.Join(plan, "\n")
			for _, d := range plan {
				if strings.HasPrefix(d, "SCAN ") && d != "SCAN CONSTANT ROW" {
					t.Errorf("full scan %q in plan:\n%s", d, joined)
				}
				if strings.HasPrefix(d, "SEARCH ") && !strings.Contains(d, " USING ") {
					t.Errorf("search without an index %q in plan:\n%s", d, joined)
				}
				if strings.Contains(d, "TEMP B-TREE") {
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
	cols, err := rows.Columns()
	if err != nil {
		tb.Fatal(err)
	}
	if len(cols) != 4 || cols[3] != "detail" {
		tb.Fatalf("EXPLAIN QUERY PLAN columns = %v, want id, parent, notused, detail", cols)
	}
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

// One Store, one connection, many writers: every insert succeeds, and each conversation's
// messages come back in the order each writer sent them.
func TestAddMessageConcurrently(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustAgent(t, s, "a@example.com")
	const writers, perWriter, conversations = 16, 50, 4
	convs := make([]int64, conversations)
	for i := range convs {
		convs[i] = mustEngage(t, s, mustTicket(t, s, fmt.Sprintf("tok%d", i), "q").ID, a.ID)
	}

	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	ids := make([][]int64, writers)
	start := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			conv := convs[w%conversations]
			for i := range perWriter {
				m, err := s.AddMessage(ctx, conv, SenderAgent, a.ID, fmt.Sprintf("w%02d-%03d", w, i))
				if err != nil {
					errs <- err
					return
				}
				ids[w] = append(ids[w], m.ID)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("AddMessage: %v", err)
	}
	if n := count(t, s, "SELECT count(*) FROM messages WHERE sender = 'agent'"); n != writers*perWriter {
		t.Errorf("%d agent messages, want %d", n, writers*perWriter)
	}

	seen := map[int64]bool{}
	for w, got := range ids {
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Errorf("writer %d: id %d after %d, want increasing", w, got[i], got[i-1])
			}
		}
		for _, id := range got {
			if seen[id] {
				t.Errorf("id %d returned twice", id)
			}
			seen[id] = true
		}
	}
	for _, conv := range convs {
		ms, err := s.Messages(ctx, conv, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if want := 1 + writers/conversations*perWriter; len(ms) != want {
			t.Errorf("conversation %d has %d messages, want %d", conv, len(ms), want)
		}
		next := map[string]int{} // writer prefix → next expected sequence number
		for i, m := range ms {
			if i > 0 && m.ID <= ms[i-1].ID {
				t.Errorf("conversation %d: id %d after %d", conv, m.ID, ms[i-1].ID)
			}
			if m.Sender != SenderAgent {
				continue
			}
			var w, seq int
			if _, err := fmt.Sscanf(m.Body, "w%d-%d", &w, &seq); err != nil {
				t.Fatalf("body %q: %v", m.Body, err)
			}
			key := fmt.Sprint(w)
			if seq != next[key] {
				t.Errorf("conversation %d: writer %d message %d came where %d was due", conv, w, seq, next[key])
			}
			next[key] = seq + 1
		}
	}
}

func BenchmarkPollByToken(b *testing.B) {
	s := openStore(b)
	ctx := context.Background()
	a := mustAgent(b, s, "a@example.com")
	// Some neighbours, so that the lookup is not trivially over a one-row table.
	for i := range 200 {
		tk := mustTicket(b, s, fmt.Sprintf("tok%d", i), "q")
		conv := mustEngage(b, s, tk.ID, a.ID)
		for j := range 5 {
			mustMessage(b, s, conv, SenderAgent, a.ID, fmt.Sprint("m", j))
		}
	}
	hash := tokenHash("tok100")
	b.ReportAllocs()
	for b.Loop() {
		p, err := s.PollByToken(ctx, hash)
		if err != nil || p.LastMessageID == 0 {
			b.Fatal(p, err)
		}
	}
}

func BenchmarkMessages20(b *testing.B) {
	s := openStore(b)
	ctx := context.Background()
	a := mustAgent(b, s, "a@example.com")
	conv := mustEngage(b, s, mustTicket(b, s, "tok", "q").ID, a.ID)
	for i := range 19 {
		mustMessage(b, s, conv, SenderAgent, a.ID, fmt.Sprintf("Message %d: a sentence of typical chat length, 2024-01-02.", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		ms, err := s.Messages(ctx, conv, 0, 20)
		if err != nil || len(ms) != 20 {
			b.Fatal(len(ms), err)
		}
	}
}
