package desk_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// team is one organization with three agents — Maria (admin), Thomas and Ann — on a Service
// with a catalog (so snoozes are scheduled) and a clock the test moves.
type team struct {
	svc                *desk.Service
	cat                *catalog.Store
	reg                *tenantdb.Registry
	org                *catalog.Organization
	maria, thomas, ann desk.Agent
	clock              *clock
	dir                string
	// files are the attachment limits the Service starts with (its defaults when zero).
	files desk.FileLimits
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTeam(t testing.TB) *team {
	t.Helper()
	tm := &team{dir: t.TempDir(), clock: &clock{now: time.Date(2026, 3, 6, 15, 0, 0, 0, time.UTC)}}
	catDB, err := sqlite.Open(filepath.Join(tm.dir, "catalog.db"), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catDB.Close() })
	if _, err := schema.Up(catDB, catalogMigrations); err != nil {
		t.Fatal(err)
	}
	tm.cat = catalog.New(catDB)
	tm.start(t)
	ctx := context.Background()
	tm.org = &catalog.Organization{Name: "Acme", Username: "acme", Email: "owner@acme.example", PasswordHash: "x",
		DBName: "tenantdesk-acme"}
	if err := tm.svc.Register(ctx, tm.org); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		a          *desk.Agent
		name, mail string
	}{{&tm.maria, "Maria", "maria"}, {&tm.thomas, "Thomas", "thomas"}, {&tm.ann, "Ann", "ann"}} {
		a, err := tm.svc.CreateAgent(ctx, tm.org, tm.owner(), p.name, p.mail+"@acme.example", "h")
		if err != nil {
			t.Fatal(err)
		}
		*p.a = a
	}
	if tm.maria, err = tm.svc.SetRole(ctx, tm.org, tm.owner(), tm.maria.ID, desk.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	tm.maria.Role = desk.RoleAdmin
	return tm
}

// start opens the registry and the Service on tm's directory (again, after stop: a restart).
func (tm *team) start(t testing.TB) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := tenantdb.New(tenantdb.Config{Backend: tenantdb.Local{Dir: tm.dir}, Catalog: tm.cat,
		Migrations: tenantMigrations, MaxOpen: 8, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	tm.reg = reg
	tm.svc = desk.New(desk.Config{Registry: reg, Catalog: tm.cat, Log: log, Now: tm.clock.Now,
		WatchInterval: 50 * time.Millisecond, Files: tm.files})
	t.Cleanup(tm.stop)
}

func (tm *team) stop() {
	if tm.svc != nil {
		tm.svc.Close()
		tm.reg.Close()
		tm.svc = nil
	}
}

func (tm *team) owner() desk.Actor { return desk.AsOwner(tm.org.Name) }

// open opens a ticket as a customer and returns it and the customer's actor.
func (tm *team) open(t *testing.T, email, query string) (desk.Ticket, desk.Actor) {
	t.Helper()
	tk, token, err := tm.svc.OpenTicket(context.Background(), tm.org, desk.AsPublic(),
		desk.NewTicket{CustomerName: "Customer " + email, CustomerEmail: email, Query: query})
	if err != nil {
		t.Fatal(err)
	}
	return tk, customerOf(token)
}

func kindOf(err error) string {
	if err == nil {
		return "ok"
	}
	e, ok := apperr.As(err)
	if !ok {
		return "internal: " + err.Error()
	}
	return e.Kind.String() + "/" + string(e.Code)
}

func senders(ms []desk.Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Sender)
	}
	return strings.Join(out, ",")
}

func TestTeamWorkflow(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	org, maria, thomas, ann := tm.org, desk.AsAgent(tm.maria), desk.AsAgent(tm.thomas), desk.AsAgent(tm.ann)
	tk, cust := tm.open(t, "carla@example.com", "Where is my parcel?")
	if tk.Status != desk.StatusOpen || tk.AssigneeID != 0 || tk.Priority != desk.PriorityNormal || tk.ConversationID == 0 {
		t.Fatalf("new ticket = %+v", tk)
	}
	conv := tk.ConversationID

	// A conversation from the start: the customer writes before anyone took the ticket.
	if _, err := tm.svc.AddMessage(ctx, org, cust, 0, "It was due yesterday."); err != nil {
		t.Fatal(err)
	}
	th, err := tm.svc.Thread(ctx, org, thomas, conv, 50)
	if err != nil || senders(th.Messages) != "customer,customer" {
		t.Fatalf("Thomas's view of the new ticket: %q, %v", senders(th.Messages), err)
	}
	if !th.May.Write || !th.May.Assign || !th.May.Note {
		t.Errorf("an unassigned ticket: Thomas may %+v", th.May)
	}

	// Thomas takes it; Ann may read it and add a note, not write to the customer nor take it.
	if got, err := tm.svc.Take(ctx, org, thomas, tk.ID); err != nil || got != conv {
		t.Fatalf("Take = %d, %v", got, err)
	}
	if _, err := tm.svc.AddMessage(ctx, org, ann, conv, "Let me check."); kindOf(err) != "forbidden/assigned_to_other" {
		t.Errorf("Ann writing on Thomas's ticket: %s", kindOf(err))
	}
	if _, err := tm.svc.Take(ctx, org, ann, tk.ID); kindOf(err) != "forbidden/assigned_to_other" {
		t.Errorf("Ann taking Thomas's ticket: %s", kindOf(err))
	}
	if err := tm.svc.Assign(ctx, org, ann, tk.ID, tm.ann.ID); kindOf(err) != "forbidden/assigned_to_other" {
		t.Errorf("Ann reassigning Thomas's ticket: %s", kindOf(err))
	}
	note, err := tm.svc.AddNote(ctx, org, ann, conv, "@maria can you look? Cc @thomas. (not @nobody)")
	if err != nil {
		t.Fatal(err)
	}
	if note.Sender != desk.SenderNote || note.AgentName != "Ann" {
		t.Errorf("note = %+v", note)
	}
	for _, who := range []desk.Actor{maria, thomas, ann} {
		q, err := tm.svc.Queue(ctx, org, who, desk.QueueQuery{View: desk.ViewMentions, Priority: -1, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		want := who.AgentID != tm.ann.ID
		if got := len(q) == 1 && q[0].ID == tk.ID; got != want {
			t.Errorf("%s's Mentions view holds the ticket: %v, want %v", who.Name, got, want)
		}
	}

	// Thomas answers: the customer's wait ends; the customer never sees notes or activity.
	if _, err := tm.svc.AddMessage(ctx, org, thomas, conv, "It is on its way."); err != nil {
		t.Fatal(err)
	}
	if got, _ := tm.svc.TicketByID(ctx, org, thomas, tk.ID); !got.WaitingSince.IsZero() {
		t.Errorf("after the answer the customer still waits since %v", got.WaitingSince)
	}
	custView, err := tm.svc.Thread(ctx, org, cust, 0, 50)
	if err != nil || senders(custView.Messages) != "customer,customer,agent" {
		t.Fatalf("the customer's view: %q, %v", senders(custView.Messages), err)
	}
	teamView, _ := tm.svc.Thread(ctx, org, maria, conv, 50)
	if s := senders(teamView.Messages); s != "customer,customer,activity,note,agent" {
		t.Errorf("the team's view: %q", s)
	}
	if u, err := tm.svc.Poll(ctx, org, cust, 0, 0, 50); err != nil || senders(u.Messages) != "customer,customer,agent" {
		t.Errorf("the customer's poll: %q, %v", senders(u.Messages), err)
	}

	// Maria (admin) hands it to Ann; Thomas may then not write any more.
	if err := tm.svc.Assign(ctx, org, maria, tk.ID, tm.ann.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.AddMessage(ctx, org, thomas, conv, "Still me?"); kindOf(err) != "forbidden/assigned_to_other" {
		t.Errorf("Thomas after the handover: %s", kindOf(err))
	}
	teamView, _ = tm.svc.Thread(ctx, org, ann, conv, 50)
	last := teamView.Messages[len(teamView.Messages)-1]
	if last.Sender != desk.SenderActivity || last.Activity == nil || last.Activity.Kind != "assigned" ||
		last.Activity.By != "Maria" || last.Activity.To != "Ann" || last.Activity.From != "Thomas" {
		t.Errorf("handover activity line = %+v %+v", last, last.Activity)
	}
	// An unknown agent and a removed one are refused, nothing changed.
	if err := tm.svc.Assign(ctx, org, maria, tk.ID, 999); kindOf(err) != "invalid/invalid" {
		t.Errorf("assigning to an unknown agent: %s", kindOf(err))
	}

	// Pending, then the customer answers: open again.
	if err := tm.svc.SetStatus(ctx, org, ann, tk.ID, desk.StatusPending, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.AddMessage(ctx, org, cust, 0, "Any news?"); err != nil {
		t.Fatal(err)
	}
	if got, _ := tm.svc.TicketByID(ctx, org, ann, tk.ID); got.Status != desk.StatusOpen || got.WaitingSince.IsZero() {
		t.Errorf("a customer's message on a pending ticket: status %s, waiting since %v", got.Status, got.WaitingSince)
	}

	// Snooze: a time in the past is refused, nothing changed; a future one parks it until then.
	for _, until := range []time.Time{{}, tm.clock.Now().Add(-time.Minute), tm.clock.Now()} {
		if err := tm.svc.SetStatus(ctx, org, ann, tk.ID, desk.StatusSnoozed, until); apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("snooze until %v: %s", until, kindOf(err))
		}
	}
	if got, _ := tm.svc.TicketByID(ctx, org, ann, tk.ID); got.Status != desk.StatusOpen {
		t.Fatalf("a refused snooze changed the status to %s", got.Status)
	}
	if err := tm.svc.SetStatus(ctx, org, ann, tk.ID, desk.StatusSnoozed, tm.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if next, err := tm.svc.Wake(ctx, org); err != nil || !next.Equal(tm.clock.Now().Add(time.Hour).Truncate(time.Second)) {
		t.Errorf("Wake before the time = next %v, %v", next, err)
	}
	tm.clock.add(time.Hour)
	if next, err := tm.svc.Wake(ctx, org); err != nil || !next.IsZero() {
		t.Errorf("Wake at the time = next %v, %v; want nothing more due", next, err)
	}
	got, _ := tm.svc.TicketByID(ctx, org, ann, tk.ID)
	if got.Status != desk.StatusOpen || !got.SnoozeUntil.IsZero() {
		t.Errorf("after waking: %s until %v", got.Status, got.SnoozeUntil)
	}

	// Priority and tags: bad input refused, nothing changed.
	if err := tm.svc.SetPriority(ctx, org, ann, tk.ID, desk.Priority(7)); apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("priority 7: %s", kindOf(err))
	}
	var many []string
	for i := range desk.MaxTags + 1 {
		many = append(many, fmt.Sprintf("t%d", i))
	}
	for _, tags := range [][]string{many, {strings.Repeat("x", desk.MaxTagLength+1)}, {"ok", "bad\x00"}} {
		if err := tm.svc.SetTags(ctx, org, ann, tk.ID, tags); apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("tags %q: %s", tags, kindOf(err))
		}
	}
	if err := tm.svc.SetTags(ctx, org, ann, tk.ID, []string{" Billing ", "billing", "URGENT-ish", ""}); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.SetPriority(ctx, org, ann, tk.ID, desk.PriorityUrgent); err != nil {
		t.Fatal(err)
	}
	got, _ = tm.svc.TicketByID(ctx, org, ann, tk.ID)
	if !slices.Equal(got.Tags, []string{"billing", "urgent-ish"}) || got.Priority != desk.PriorityUrgent {
		t.Errorf("tags %q, priority %v", got.Tags, got.Priority)
	}

	// Closed: no more messages; the customer rates once.
	if _, err := tm.svc.CloseTicket(ctx, org, ann, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.AddMessage(ctx, org, cust, 0, "Hello?"); kindOf(err) != "conflict/ticket_closed" {
		t.Errorf("a message on a closed ticket: %s", kindOf(err))
	}
	if err := tm.svc.Rate(ctx, org, cust, 5, "Quick and kind."); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.Rate(ctx, org, cust, 4, ""); kindOf(err) != "conflict/ticket_already_rated" {
		t.Errorf("a second rating: %s", kindOf(err))
	}
	// Every change is in the conversation, for the team only.
	teamView, _ = tm.svc.Thread(ctx, org, maria, conv, 200)
	var kinds []string
	for _, m := range teamView.Messages {
		if m.Activity != nil {
			kinds = append(kinds, m.Activity.Kind+":"+m.Activity.To)
		}
	}
	want := []string{"assigned:Thomas", "assigned:Ann", "status:pending", "status:open", "status:snoozed", "status:open",
		"tags:", "priority:urgent", "status:closed"}
	if !slices.Equal(kinds, want) {
		t.Errorf("activity lines = %q\nwant %q", kinds, want)
	}
	custView, _ = tm.svc.Thread(ctx, org, cust, 0, 200)
	for _, m := range custView.Messages {
		if !m.Public() {
			t.Errorf("the customer sees a %s: %+v", m.Sender, m)
		}
	}
}

func TestQueues(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	org, maria, thomas := tm.org, desk.AsAgent(tm.maria), desk.AsAgent(tm.thomas)
	var tickets []desk.Ticket
	for i := range 6 {
		tk, _ := tm.open(t, fmt.Sprintf("c%d@example.com", i), fmt.Sprintf("question %d", i))
		tickets = append(tickets, tk)
		tm.clock.add(time.Minute)
	}
	// 0 urgent, 1 mine (Thomas), 2 pending, 3 snoozed, 4 closed, 5 normal unassigned.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tm.svc.SetPriority(ctx, org, maria, tickets[0].ID, desk.PriorityUrgent))
	must(tm.svc.SetTags(ctx, org, maria, tickets[0].ID, []string{"vip"}))
	_, err := tm.svc.Take(ctx, org, thomas, tickets[1].ID)
	must(err)
	must(tm.svc.SetStatus(ctx, org, maria, tickets[2].ID, desk.StatusPending, time.Time{}))
	must(tm.svc.SetStatus(ctx, org, maria, tickets[3].ID, desk.StatusSnoozed, tm.clock.Now().Add(time.Hour)))
	_, err = tm.svc.CloseTicket(ctx, org, maria, tickets[4].ID)
	must(err)
	ids := func(view, tag string, p desk.Priority) []int64 {
		t.Helper()
		q, err := tm.svc.Queue(ctx, org, thomas, desk.QueueQuery{View: view, Tag: tag, Priority: p, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, tk := range q {
			out = append(out, tk.ID)
		}
		return out
	}
	id := func(i ...int) []int64 {
		var out []int64
		for _, n := range i {
			out = append(out, tickets[n].ID)
		}
		return out
	}
	for _, tc := range []struct {
		view, tag string
		p         desk.Priority
		want      []int64
	}{
		{desk.ViewUnassigned, "", -1, id(0, 5)}, // urgent first, then by waiting time
		{desk.ViewMine, "", -1, id(1)},
		{desk.ViewAll, "", -1, id(0, 1, 2, 3, 5)},
		{desk.ViewPending, "", -1, id(2)},
		{desk.ViewSnoozed, "", -1, id(3)},
		{desk.ViewClosed, "", -1, id(4)},
		{desk.ViewAll, "vip", -1, id(0)},
		{desk.ViewAll, "", desk.PriorityNormal, id(1, 2, 3, 5)},
		{desk.ViewMentions, "", -1, nil},
	} {
		if got := ids(tc.view, tc.tag, tc.p); !slices.Equal(got, tc.want) {
			t.Errorf("%s tag %q priority %v = %v, want %v", tc.view, tc.tag, tc.p, got, tc.want)
		}
	}
	c, err := tm.svc.Counts(ctx, org, thomas)
	if err != nil {
		t.Fatal(err)
	}
	for view, want := range map[string]int{desk.ViewUnassigned: 2, desk.ViewMine: 1, desk.ViewAll: 5, desk.ViewPending: 1,
		desk.ViewSnoozed: 1, desk.ViewClosed: 1, desk.ViewMentions: 0} {
		if c.Views[view] != want {
			t.Errorf("count of %s = %d, want %d", view, c.Views[view], want)
		}
	}
	if _, err := tm.svc.Queue(ctx, org, thomas, desk.QueueQuery{View: "everything", Limit: 5}); apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("an unknown view: %s", kindOf(err))
	}
	// The contact's tickets.
	contact, list, err := tm.svc.Contact(ctx, org, thomas, tickets[2].ContactID, 10)
	if err != nil || contact.Email != "c2@example.com" || len(list) != 1 || list[0].ID != tickets[2].ID {
		t.Errorf("contact = %+v %v, %v", contact, list, err)
	}
}

// A snoozed ticket wakes at its time even when the server stopped in between: the catalog
// remembers when the tenant has something due, and the scheduler of the next run wakes it.
func TestSnoozeWakesAcrossARestart(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	tk, _ := tm.open(t, "c@example.com", "later, please")
	if err := tm.svc.SetStatus(ctx, tm.org, desk.AsAgent(tm.ann), tk.ID, desk.StatusSnoozed, tm.clock.Now().Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	tm.stop()
	tm.clock.add(31 * time.Minute)
	tm.start(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := tm.svc.TicketByID(ctx, tm.org, desk.AsAgent(tm.ann), tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == desk.StatusOpen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the snoozed ticket did not wake after the restart: %s", got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The scheduler moves the tenant's record on right after the wake commits.
	for {
		due, err := tm.cat.Due(ctx, tm.clock.Now().Add(24*time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("wake-ups left after waking: %+v", due)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPresence(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	tk, cust := tm.open(t, "c@example.com", "q")
	org := tm.org
	if others, err := tm.svc.Presence(ctx, org, desk.AsAgent(tm.maria), tk.ConversationID, false); err != nil || len(others) != 0 {
		t.Fatalf("Maria alone: %+v, %v", others, err)
	}
	others, err := tm.svc.Presence(ctx, org, desk.AsAgent(tm.thomas), tk.ConversationID, true)
	if err != nil || len(others) != 1 || others[0].Name != "Maria" || others[0].Typing {
		t.Fatalf("Thomas sees %+v, %v; want Maria, viewing", others, err)
	}
	others, _ = tm.svc.Presence(ctx, org, desk.AsAgent(tm.maria), tk.ConversationID, false)
	if len(others) != 1 || others[0].Name != "Thomas" || !others[0].Typing {
		t.Fatalf("Maria sees %+v; want Thomas, typing", others)
	}
	tm.clock.add(10 * time.Second) // Thomas left
	if others, _ := tm.svc.Presence(ctx, org, desk.AsAgent(tm.maria), tk.ConversationID, false); len(others) != 0 {
		t.Errorf("ten seconds after Thomas left, Maria still sees %+v", others)
	}
	if _, err := tm.svc.Presence(ctx, org, cust, 0, false); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("a customer asking for presence: %s", kindOf(err))
	}
}

// Concurrent messages on one tenant share commits; every acknowledged one is stored once, in
// each sender's order, and the feed tells of each in commit order.
func TestConcurrentMessages(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	org := tm.org
	sub := tm.svc.Subscribe(10000)
	defer sub.Close()
	const senders, each = 16, 25
	type chat struct {
		conv int64
		cust desk.Actor
	}
	chats := make([]chat, senders)
	for i := range chats {
		tk, cust := tm.open(t, fmt.Sprintf("c%d@example.com", i), "q")
		chats[i] = chat{tk.ConversationID, cust}
	}
	closedTicket, closedCust := tm.open(t, "closed@example.com", "q")
	if _, err := tm.svc.CloseTicket(ctx, org, tm.owner(), closedTicket.ID); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	for i, c := range chats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				if _, err := tm.svc.AddMessage(ctx, org, c.cust, 0, fmt.Sprintf("%d-%d", i, j)); err != nil {
					t.Errorf("sender %d message %d: %v", i, j, err)
					return
				}
				mu.Lock()
				stored++
				mu.Unlock()
				if j%5 == 0 {
					if _, err := tm.svc.AddMessage(ctx, org, closedCust, 0, "refused"); kindOf(err) != "conflict/ticket_closed" {
						t.Errorf("a message on the closed ticket: %s", kindOf(err))
					}
				}
			}
		}()
	}
	wg.Wait()
	if stored != senders*each {
		t.Fatalf("%d stored, want %d", stored, senders*each)
	}
	for i, c := range chats {
		th, err := tm.svc.Thread(ctx, org, c.cust, 0, 200)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		want = append(want, "q")
		for j := range each {
			want = append(want, fmt.Sprintf("%d-%d", i, j))
		}
		var got []string
		for _, m := range th.Messages {
			got = append(got, m.Body)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("sender %d's conversation = %q", i, got)
		}
	}
	var last int64
	n := 0
	for n < senders*each {
		select {
		case ev := <-sub.C:
			if ev.Kind != desk.MessageAdded {
				continue
			}
			if ev.MessageID <= last {
				t.Fatalf("the feed told of message %d after %d", ev.MessageID, last)
			}
			last = ev.MessageID
			n++
		case <-time.After(5 * time.Second):
			t.Fatalf("the feed told of %d messages, want %d", n, senders*each)
		}
	}
}

func TestCannedRepliesAndSettings(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	org := tm.org
	c, err := tm.svc.CreateCanned(ctx, org, desk.AsAgent(tm.maria), "Greeting",
		"Hello {{customer_name}}, this is {{agent_name}} of {{org_name}} about ticket #{{ticket_id}}.")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.CreateCanned(ctx, org, desk.AsAgent(tm.ann), "No", "no"); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("an agent without the admin role creating a canned reply: %s", kindOf(err))
	}
	if _, err := tm.svc.CreateCanned(ctx, org, tm.owner(), "", "x"); apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("a canned reply without a title: %s", kindOf(err))
	}
	list, err := tm.svc.CannedReplies(ctx, org, desk.AsAgent(tm.ann))
	if err != nil || len(list) != 1 {
		t.Fatalf("canned replies = %+v, %v", list, err)
	}
	tk, _ := tm.open(t, "c@example.com", "q")
	if got := list[0].Expand(tk, "Ann", "Acme"); got != fmt.Sprintf("Hello Customer c@example.com, this is Ann of Acme about ticket #%d.", tk.ID) {
		t.Errorf("Expand = %q", got)
	}
	if err := tm.svc.DeleteCanned(ctx, org, tm.owner(), c.ID); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.DeleteCanned(ctx, org, tm.owner(), c.ID); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("deleting it twice: %s", kindOf(err))
	}

	st, err := tm.svc.Settings(ctx, org)
	if err != nil || st.TimeZone != "UTC" {
		t.Fatalf("default time zone = %q, %v", st.TimeZone, err)
	}
	for _, bad := range []string{"", "Mars/Olympus", "Local", "../../etc/passwd", "Europe/Berlin\x00"} {
		if err := tm.svc.SetTimeZone(ctx, org, tm.owner(), bad); apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("time zone %q: %s", bad, kindOf(err))
		}
	}
	if err := tm.svc.SetTimeZone(ctx, org, desk.AsAgent(tm.maria), "Europe/Berlin"); err != nil {
		t.Fatal(err)
	}
	if st, _ := tm.svc.Settings(ctx, org); st.TimeZone != "Europe/Berlin" || st.Location.String() != "Europe/Berlin" {
		t.Errorf("time zone after setting it = %q", st.TimeZone)
	}
}

// customerOf is the actor of the customer holding token.
func customerOf(token string) desk.Actor { return desk.AsCustomer(sha256.Sum256([]byte(token))) }
