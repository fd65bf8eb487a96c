package tenantdb_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb/sqldtest"
)

// chat is one organization with a ticket its agent took: the agent's and the customer's
// browsers, and the ticket state each page's poll sends back.
type chat struct {
	org, talk, page       string
	agent, cust           *browser
	agentState, custState string
}

func startChat(t *testing.T, a *app, username string) chat {
	t.Helper()
	o := a.register(username)
	agent := a.onboard(o, "Ann Agent")
	cust, page := a.openTicket(username, "question of "+username)
	talk := a.engage(agent, username)
	c := chat{org: username, talk: talk, page: page, agent: agent, cust: cust}
	c.agentState = pollState(t, agent.get(talk).body)
	c.custState = pollState(t, cust.get(page).body)
	return c
}

func (c chat) send(t *testing.T, text string) response {
	t.Helper()
	return c.agent.post(c.talk+"/messages", form("message", text), htmx)
}

// dashOK reports whether o's dashboard renders, logging in again if the session was lost.
func dashOK(t *testing.T, o org) bool {
	t.Helper()
	r := o.b.get("/dash")
	if r.status == http.StatusSeeOther {
		o.b.get("/login")
		o.b.post("/login", form("email", o.username+"@example.com", "password", "correct horse "+o.username))
		r = o.b.get("/dash")
	}
	return r.status == http.StatusOK
}

// TestReplicaSeesPrimaryWrites: a row written on the primary by someone else (another app
// instance) shows in this app's polls within one sync interval.
func TestReplicaSeesPrimaryWrites(t *testing.T) {
	s := sqldtest.Start(t)
	dir := t.TempDir()
	a := startApp(t, dir, func(log *slog.Logger) tenantdb.Backend { return newSqld(t, s, dir, log) })
	c := startChat(t, a, "syncco")
	r := c.send(t, "from this instance")
	wantStatus(t, r, http.StatusOK)
	last := messageIDs(r.body)[0]
	wantStatus(t, c.cust.get(c.page+"/messages?after="+last, htmx), http.StatusNoContent)

	o, token := primaryToken(t, a.cat, "syncco")
	conv := c.talk[strings.LastIndex(c.talk, "/")+1:]
	if _, err := s.Pipeline(o.DBName, token, "INSERT INTO messages (conversation_id, sender, body, created_at) "+
		"VALUES (?, 'customer', 'written on the primary', ?)", conv, time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const interval = 300 * time.Millisecond // replicaConfig's SyncInterval
	seen := waitFor(5*time.Second, func() bool {
		return c.agent.get(c.talk+"/messages?after="+last, htmx).has("written on the primary")
	})
	took := time.Since(start)
	if !seen {
		t.Fatal("a row written on the primary never reached the replica")
	}
	// One interval, plus a sync's own time and the poll loop's granularity.
	if took > interval+time.Second { // generous for a loaded 2-core CI machine
		t.Errorf("the primary's write took %v to show, want within one sync interval (%v)", took, interval)
	}
	t.Logf("a write on the primary showed after %v (sync interval %v)", took, interval)
}

// TestReplicaSeesAnotherInstance: a message another app instance (a registry of its own, with
// replicas of its own, on the same catalog) writes through the primary shows in this app's
// polls within the sync interval plus two seconds, however many times the poll answered 204
// from memory before.
func TestReplicaSeesAnotherInstance(t *testing.T) {
	s := sqldtest.Start(t)
	dir := t.TempDir()
	a := startApp(t, dir, func(log *slog.Logger) tenantdb.Backend { return newSqld(t, s, dir, log) })
	c := startChat(t, a, "twinco")
	r := c.send(t, "from the first instance")
	wantStatus(t, r, http.StatusOK)
	last := messageIDs(r.body)[0]
	for range 3 {
		wantStatus(t, c.cust.get(c.page+"/messages?after="+last+"&state="+c.custState, htmx), http.StatusNoContent)
		wantStatus(t, c.agent.get(c.talk+"/messages?after="+last+"&state="+c.agentState, htmx), http.StatusNoContent)
	}

	other := t.TempDir()
	reg, err := tenantdb.New(tenantdb.Config{Backend: newSqld(t, s, other, a.log), Catalog: a.cat,
		Migrations: migTenant, MaxOpen: 4, Log: a.log, Sealer: testSealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	o, err := a.cat.ByUsername(context.Background(), "twinco")
	if err != nil {
		t.Fatal(err)
	}
	h, err := reg.Acquire(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	conv := c.talk[strings.LastIndex(c.talk, "/")+1:]
	_, err = h.DB.Exec("INSERT INTO messages (conversation_id, sender, body, created_at) VALUES (?, 'customer', ?, ?)",
		conv, "from the second instance", time.Now().Unix())
	h.Release()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const interval = 300 * time.Millisecond // replicaConfig's SyncInterval
	for _, p := range []struct {
		who         *browser
		page, state string
	}{{c.cust, c.page, c.custState}, {c.agent, c.talk, c.agentState}} {
		if !waitFor(interval+2*time.Second, func() bool {
			return p.who.get(p.page+"/messages?after="+last+"&state="+p.state, htmx).has("from the second instance")
		}) {
			t.Fatalf("%s: the other instance's message did not show within %v", p.page, interval+2*time.Second)
		}
	}
	t.Logf("the other instance's write showed after %v (sync interval %v)", time.Since(start), interval)
}

// TestReplicaPrimaryStopped: with sqld stopped, open tenants still render their pages from the
// local copy, a send answers 503 at once and loses nothing, a tenant that was not open answers
// 503 quickly; with sqld back, sending works again without restarting the app.
func TestReplicaPrimaryStopped(t *testing.T) {
	s := sqldtest.Start(t)
	dir := t.TempDir()
	mk := func(log *slog.Logger) tenantdb.Backend { return newSqld(t, s, dir, log) }
	a := startApp(t, dir, mk)
	c := startChat(t, a, "downco")
	for i := range 3 {
		wantStatus(t, c.send(t, fmt.Sprintf("before %d", i)), http.StatusOK)
	}
	cold := a.register("coldco") // not visited: its replica is not open
	if a.reg.IsOpen("tenantdesk-coldco") {
		t.Fatal("coldco is open right after registration")
	}
	before := messageIDs(c.agent.get(c.talk).body)
	if len(before) != 5 {
		t.Fatalf("talk page shows %v, want 4 messages and the take", before)
	}
	custBefore := messageIDs(c.cust.get(c.page).body)
	if len(custBefore) != 4 {
		t.Fatalf("customer page shows %v, want 4 messages", custBefore)
	}

	s.Stop()
	for _, page := range []struct {
		b    *browser
		path string
		want []string
	}{{c.agent, c.talk, before}, {c.cust, c.page, custBefore}, {c.agent, "/agent/downco/dash", nil}} {
		r := page.b.get(page.path)
		wantStatus(t, r, http.StatusOK)
		if page.want != nil && !slices.Equal(messageIDs(r.body), page.want) {
			t.Errorf("%s with the primary down shows %v, want %v", page.path, messageIDs(r.body), page.want)
		}
	}
	wantStatus(t, c.cust.get(c.page+"/messages?after="+custBefore[3]+"&state="+c.custState, htmx), http.StatusNoContent)
	r := c.send(t, "while down")
	if r.status != http.StatusServiceUnavailable || r.took > time.Second {
		t.Errorf("send with the primary stopped: %d after %v, want 503 within 1 s", r.status, r.took)
	}
	if r.has("Write delegation") || r.has("localhost") || r.has("tcp") {
		t.Errorf("the 503 shows internals:\n%.1500s", r.body)
	}
	r = c.cust.post(c.page+"/messages", form("message", "customer while down"))
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("customer send with the primary stopped: %d, want 503", r.status)
	}

	// A tenant whose replica is not open (registered, never visited): 503, quickly.
	start := time.Now()
	r = cold.b.get("/dash")
	if r.status != http.StatusServiceUnavailable || time.Since(start) > remoteTimeout+time.Second {
		t.Errorf("cold tenant with the primary stopped: %d after %v, want 503 within %v", r.status, time.Since(start), remoteTimeout)
	}

	s.Restart()
	var sent response
	if !waitFor(5*time.Second, func() bool { sent = c.send(t, "after restart"); return sent.status == http.StatusOK }) {
		t.Fatalf("send after sqld restarted: %d, want 200 without restarting the app:\n%.1500s", sent.status, sent.body)
	}
	after := messageIDs(c.agent.get(c.talk).body)
	if len(after) != 6 || !slices.Equal(after[:5], before) {
		t.Errorf("messages after the outage = %v, want the 5 from before and the new one", after)
	}
	o, token := primaryToken(t, a.cat, "downco")
	bodies := column(t, s, o.DBName, token, "SELECT sender || ':' || body FROM messages ORDER BY id")
	want := []string{"customer:question of downco", "activity:", "agent:before 0", "agent:before 1", "agent:before 2", "agent:after restart"}
	if !slices.Equal(bodies, want) {
		t.Errorf("messages on the primary = %q, want %q", bodies, want)
	}
	if !waitFor(5*time.Second, func() bool { return dashOK(t, cold) }) {
		t.Error("the cold tenant did not recover once the primary was back")
	}
}

// TestReplicaPrimaryFrozen: a primary that accepts connections and never answers (SIGSTOP)
// must not hang requests: a send answers 503 within the deadline, pages still render from the
// local copy, a tenant that is not open answers 503 within the deadline; after it thaws,
// everything works again without restarting the app.
func TestReplicaPrimaryFrozen(t *testing.T) {
	s := sqldtest.Start(t)
	dir := t.TempDir()
	mk := func(log *slog.Logger) tenantdb.Backend { return newSqld(t, s, dir, log) }
	a := startApp(t, dir, mk)
	c := startChat(t, a, "frozenco")
	wantStatus(t, c.send(t, "before"), http.StatusOK)
	cold := a.register("coldco") // not visited: its replica is not open

	s.Freeze()
	defer s.Thaw()
	r := c.send(t, "while frozen")
	if r.status != http.StatusServiceUnavailable || r.took > remoteTimeout+time.Second {
		t.Errorf("send to a frozen primary: %d after %v, want 503 within %v", r.status, r.took, remoteTimeout)
	}
	r = c.agent.get(c.talk)
	if r.status != http.StatusOK || r.took > time.Second {
		t.Errorf("talk page with a frozen primary: %d after %v, want 200 from the local copy", r.status, r.took)
	}
	r = cold.b.get("/dash")
	if r.status != http.StatusServiceUnavailable || r.took > remoteTimeout+time.Second {
		t.Errorf("cold tenant with a frozen primary: %d after %v, want 503 within %v", r.status, r.took, remoteTimeout)
	}

	s.Thaw()
	var sent response
	if !waitFor(10*time.Second, func() bool { sent = c.send(t, "after thaw"); return sent.status == http.StatusOK }) {
		t.Fatalf("send after the primary thawed: %d:\n%.1500s", sent.status, sent.body)
	}
	if !waitFor(10*time.Second, func() bool { return dashOK(t, cold) }) {
		t.Error("the cold tenant did not open after the primary thawed")
	}
}

// TestReplicaStaleFilesDiscarded: local replica files left from an earlier database of the
// same name (deleted and created again on the server, behind the app's back) are not served:
// registering the name again starts from an empty copy.
func TestReplicaStaleFilesDiscarded(t *testing.T) {
	s := sqldtest.Start(t)
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(&syncBuffer{}, nil))
	b := newSqld(t, s, dir, log)
	ctx := context.Background()
	loc, err := b.Provision(ctx, "tenant-x")
	if err != nil {
		t.Fatal(err)
	}
	db, err := b.Connect(ctx, "tenant-x", loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec("CREATE TABLE old (v)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// The namespace disappears behind the app's back; the local files stay.
	if err := s.DeleteNamespace("tenant-x"); err != nil {
		t.Fatal(err)
	}
	loc2, err := b.Provision(ctx, "tenant-x")
	if err != nil {
		t.Fatal(err)
	}
	db, err = b.Connect(ctx, "tenant-x", loc2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.SQL().QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'old'").Scan(&n); err != nil || n != 0 {
		t.Errorf("the new database shows the old one's table (%d, %v)", n, err)
	}
}
