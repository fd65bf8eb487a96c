package tenantdb_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb/sqldtest"
)

// contractFlow walks every route a person uses for one organization through the HTTP handlers: register,
// onboard an agent, a customer opens a ticket (its conversation starts with the question), the
// agent takes it (an activity line only the team sees), both chat, the agent closes, the
// customer rates. Every text it stores carries the username, so that a test can look for it in
// the right database and nowhere else.
func contractFlow(t *testing.T, a *app, username string) {
	t.Helper()
	o := a.register(username)
	agent := a.onboard(o, "Ann "+strings.ToUpper(username[:1])+username[1:])
	cust, page := a.openTicket(username, username+" printer is on fire")
	r := cust.get(page)
	wantStatus(t, r, http.StatusOK)
	first := messageIDs(r.body)
	if !r.has(username+" printer is on fire") || len(first) != 1 {
		t.Fatalf("ticket page messages = %v, want the question:\n%.2000s", first, r.body)
	}
	custState := pollState(t, r.body)
	if custState != "open" {
		t.Fatalf("customer page state = %q, want open", custState)
	}
	wantStatus(t, cust.get(page+"/messages?after="+first[0]+"&state="+custState, htmx), http.StatusNoContent)

	talk := a.engage(agent, username)
	r = agent.get(talk)
	wantStatus(t, r, http.StatusOK)
	taken := messageIDs(r.body)
	if len(taken) != 2 || taken[0] != first[0] || !r.has("took the ticket") {
		t.Fatalf("talk page messages = %v, want the question and the take:\n%.2000s", taken, r.body)
	}
	agentState := pollState(t, r.body)
	if !strings.HasPrefix(agentState, "open.") || agentState == "open.0" {
		t.Fatalf("talk page state = %q, want open and assigned", agentState)
	}
	// The take is the team's business: the customer's poll shows nothing new and keeps the page.
	r = cust.get(page+"/messages?after="+first[0]+"&state="+custState, htmx)
	if r.status != http.StatusNoContent || r.header.Get("HX-Refresh") != "" {
		t.Fatalf("customer poll after the take: %d, HX-Refresh %q:\n%s", r.status, r.header.Get("HX-Refresh"), r.body)
	}
	r = agent.post(talk+"/messages", form("message", username+" agent: unplug it"), htmx)
	wantStatus(t, r, http.StatusOK)
	sent := messageIDs(r.body)
	if len(sent) != 1 {
		t.Fatalf("send answered %v:\n%s", sent, r.body)
	}
	// Read-your-writes: the customer's poll, right after the agent's write, sees it.
	r = cust.get(page+"/messages?after="+first[0]+"&state="+custState, htmx)
	wantStatus(t, r, http.StatusOK)
	if got := messageIDs(r.body); !slices.Equal(got, sent) || !r.has(username+" agent: unplug it") || r.has("took the ticket") {
		t.Fatalf("customer poll = %v, want only the agent's message %v:\n%s", got, sent, r.body)
	}
	wantStatus(t, cust.post(page+"/messages", form("message", username+" customer: done, thanks")), http.StatusSeeOther)
	r = agent.get(talk+"/messages?after="+sent[0]+"&state="+agentState, htmx)
	wantStatus(t, r, http.StatusOK)
	if !r.has(username+" customer: done, thanks") || r.header.Get("HX-Refresh") != "" {
		t.Fatalf("agent poll lacks the customer's reply:\n%s", r.body)
	}
	last := messageIDs(r.body)
	conv := talk[strings.LastIndex(talk, "/")+1:]
	if r := o.b.get("/conversation/" + conv); len(messageIDs(r.body)) != 4 {
		t.Fatalf("organization view shows %v, want 3 messages and the take", messageIDs(r.body))
	}
	wantStatus(t, agent.post(closeAction(t, agent.get(talk).body), nil), http.StatusSeeOther)
	// Both pages still show an open ticket: their polls are told to reload.
	for _, p := range []struct {
		who         *browser
		poll, state string
	}{{agent, talk, agentState}, {cust, page, custState}} {
		if r := p.who.get(p.poll+"/messages?after="+last[len(last)-1]+"&state="+p.state, htmx); r.header.Get("HX-Refresh") != "true" {
			t.Errorf("%s poll after the close: %d, HX-Refresh %q", p.poll, r.status, r.header.Get("HX-Refresh"))
		}
	}
	wantStatus(t, cust.post(page+"/messages", form("message", "late")), http.StatusConflict)
	wantStatus(t, cust.post(page+"/rating", form("rating", "4")), http.StatusSeeOther)
	wantStatus(t, cust.post(page+"/rating", form("rating", "5")), http.StatusConflict)
	if r := o.b.get("/dash?view=closed"); !r.has(`data-rating="4"`) {
		t.Fatalf("dashboard lacks the rating:\n%.3000s", r.body)
	}
}

// primaryToken returns a token for org's namespace minted from the key sealed in the catalog.
func primaryToken(t *testing.T, cat *catalog.Store, username string) (catalog.Organization, string) {
	t.Helper()
	o, err := cat.ByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := testSealer(t).Open(o.DBName, o.DBSecret)
	if err != nil {
		t.Fatal(err)
	}
	token, err := tenantdb.MintToken(secret, o.DBName, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return o, token
}

// column reads one column of a query on namespace ns straight from the primary.
func column(t *testing.T, s *sqldtest.Server, ns, token, query string) []string {
	t.Helper()
	rows, err := s.Pipeline(ns, token, query)
	if err != nil {
		t.Fatalf("%s on %s: %v", query, ns, err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r[0].String())
	}
	return out
}

// TestSqldContractFlow runs every route for two organizations with TENANT_BACKEND=sqld,
// then reads each namespace on the primary itself: each organization's rows are in its own
// namespace only, its schema is complete, its credential is sealed in the catalog, and its
// namespace refuses requests without its token.
func TestSqldContractFlow(t *testing.T) {
	s := sqldtest.Start(t)
	dir := t.TempDir()
	a := startApp(t, dir, func(log *slog.Logger) tenantdb.Backend { return newSqld(t, s, dir, log) })
	contractFlow(t, a, "acme")
	contractFlow(t, a, "globex")

	raw, err := os.ReadFile(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(dir, "catalog.db-wal"))
	raw = append(raw, wal...)
	for _, username := range []string{"acme", "globex"} {
		other := map[string]string{"acme": "globex", "globex": "acme"}[username]
		o, token := primaryToken(t, a.cat, username)
		if o.DBBackend != "sqld" || o.DBURL != s.DBURL(o.DBName) || !strings.HasPrefix(o.DBSecret, "v1:") {
			t.Errorf("%s catalog row: backend %q, url %q, secret %.8q…; want sqld, %s, a sealed v1: value",
				username, o.DBBackend, o.DBURL, o.DBSecret, s.DBURL(o.DBName))
		}
		secret, _ := testSealer(t).Open(o.DBName, o.DBSecret)
		if strings.Contains(string(raw), secret) {
			t.Errorf("%s's signing key is stored in clear in the catalog", username)
		}

		bodies := column(t, s, o.DBName, token, "SELECT body FROM messages WHERE sender IN ('customer', 'agent') ORDER BY id")
		want := []string{username + " printer is on fire", username + " agent: unplug it", username + " customer: done, thanks"}
		if !slices.Equal(bodies, want) {
			t.Errorf("%s's messages on its primary = %q, want %q", username, bodies, want)
		}
		lines := column(t, s, o.DBName, token, `SELECT sender || ':' || CASE data WHEN '' THEN '' ELSE json_extract(data, '$.kind') END
			FROM messages ORDER BY id`)
		if want := []string{"customer:", "activity:assigned", "agent:", "customer:", "activity:status"}; !slices.Equal(lines, want) {
			t.Errorf("%s's conversation on its primary = %q, want %q", username, lines, want)
		}
		all := strings.Join(append(bodies, column(t, s, o.DBName, token, "SELECT query || customer_name FROM tickets")...), "\n")
		all += strings.Join(column(t, s, o.DBName, token, "SELECT full_name || email FROM agents"), "\n")
		if strings.Contains(strings.ToLower(all), other) {
			t.Errorf("%s's namespace holds rows of %s:\n%s", username, other, all)
		}
		if got := column(t, s, o.DBName, token, "SELECT rating FROM tickets"); !slices.Equal(got, []string{"4"}) {
			t.Errorf("%s's ratings on its primary = %v, want [4]", username, got)
		}
		// Every statement of every migration ran through the replica, not only the first: the
		// primary has the objects of a local database migrated the same way, and no others.
		objects := column(t, s, o.DBName, token, schemaObjectsQuery)
		if want := localSchemaObjects(t); !slices.Equal(objects, want) {
			t.Errorf("%s's primary has %v, want %v", username, objects, want)
		}
		// The namespace has its own key: no token, or the other tenant's token, is refused.
		if _, err := s.Pipeline(o.DBName, "", "SELECT 1"); !isStatus(err, http.StatusUnauthorized) {
			t.Errorf("%s's namespace without a token: %v, want 401", username, err)
		}
		_, otherToken := primaryToken(t, a.cat, other)
		if _, err := s.Pipeline(o.DBName, otherToken, "SELECT 1"); !isStatus(err, http.StatusUnauthorized) {
			t.Errorf("%s's namespace with %s's token: %v, want 401", username, other, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "replicas", o.DBName, o.DBName+".db")); err != nil {
			t.Errorf("%s's replica is not under DATA_DIR/replicas: %v", username, err)
		}
	}

	// The export of a replica is a complete SQLite file of the organization's data.
	o := a.browser()
	o.get("/login")
	wantStatus(t, o.post("/login", form("email", "acme@example.com", "password", "correct horse acme")), http.StatusSeeOther)
	r := o.get("/dash/export")
	wantStatus(t, r, http.StatusOK)
	path := filepath.Join(t.TempDir(), "export.db")
	if err := os.WriteFile(path, []byte(r.body), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(path, 1)
	if err != nil {
		t.Fatalf("export is not a database: %v", err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM messages").Scan(&n); err != nil || n != 5 {
		t.Errorf("export: %d messages (%v), want 5 (3 and 2 activity lines)", n, err)
	}
	var version uint
	if err := db.QueryRow("SELECT version FROM schema_migrations").Scan(&version); err != nil || version != latest(t) {
		t.Errorf("export: schema version %d, %v; want %d", version, err, latest(t))
	}
}

// schemaObjectsQuery lists a database's tables and indexes by name, SQLite's own aside.
const schemaObjectsQuery = `SELECT name FROM sqlite_master WHERE type IN ('table', 'index')
	AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE 'libsql\_%' ESCAPE '\' ORDER BY name`

// localSchemaObjects returns schemaObjectsQuery on a local database migrated with the tenant
// migrations.
func localSchemaObjects(t *testing.T) []string {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "reference.db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := schema.Up(db, migTenant); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(schemaObjectsQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n []byte
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, string(n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("the tenant migrations create no tables")
	}
	return names
}

func isStatus(err error, status int) bool {
	var he *sqldtest.HTTPError
	return errors.As(err, &he) && he.Status == status
}

// TestSqldRegistration covers registration's failure paths on sqld: a namespace that exists
// already is a taken username; a migration that fails deletes the namespace again and leaves no
// catalog row, and the same username then registers; deletion drops the namespace and the
// local replica, and the name can be registered again, empty.
func TestSqldRegistration(t *testing.T) {
	s := sqldtest.Start(t)
	dir := t.TempDir()
	a := startApp(t, dir, func(log *slog.Logger) tenantdb.Backend { return newSqld(t, s, dir, log) })
	ctx := context.Background()

	// Taken on the server (by something else): 409 on the username, nothing recorded.
	if err := s.CreateNamespace("tenantdesk-taken", nil); err != nil {
		t.Fatal(err)
	}
	_, r := a.registerForm("taken")
	wantStatus(t, r, http.StatusConflict)
	if !r.has("This username is taken.") {
		t.Errorf("409 page does not say the username is taken:\n%.2000s", r.body)
	}
	if _, err := a.cat.ByUsername(ctx, "taken"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("catalog row for a taken name: %v", err)
	}
	if _, err := s.Pipeline("tenantdesk-taken", "", "SELECT 1"); err != nil {
		t.Errorf("the existing namespace was touched: %v", err)
	}

	// A migration that fails half-way: the namespace is deleted, no row, then a retry works.
	broken := fstest.MapFS{
		"0001_helpdesk.up.sql":   {Data: []byte("CREATE TABLE agents (id INTEGER PRIMARY KEY);\nCREATE TABLE oops (;\n")},
		"0001_helpdesk.down.sql": {Data: []byte("DROP TABLE agents;\n")},
	}
	bad, err := tenantdb.New(tenantdb.Config{Backend: newSqld(t, s, dir, a.log), Catalog: a.cat,
		Migrations: broken, MaxOpen: 2, Log: a.log, Sealer: testSealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	org := catalog.Organization{Name: "Retry", Username: "retry", Email: "retry@example.com",
		PasswordHash: "x", DBName: "tenantdesk-retry"}
	if err := bad.Register(ctx, &org); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("Register with a broken migration: %v, want Unavailable", err)
	}
	if _, err := s.Pipeline("tenantdesk-retry", "", "SELECT 1"); !isStatus(err, http.StatusNotFound) {
		t.Errorf("namespace after a failed registration: %v, want 404 (deleted)", err)
	}
	if _, err := a.cat.ByUsername(ctx, "retry"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("catalog row after a failed registration: %v", err)
	}
	contractFlow(t, a, "retry")

	// Delete drops the namespace and the replica; the name registers again, empty.
	o, err := a.cat.ByUsername(ctx, "retry")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.reg.Delete(ctx, o); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pipeline(o.DBName, "", "SELECT 1"); !isStatus(err, http.StatusNotFound) {
		t.Errorf("namespace after Delete: %v, want 404", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "replicas", o.DBName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("replica directory after Delete: %v, want gone", err)
	}
	fresh := a.register("retry")
	r = fresh.b.get("/dash?view=closed")
	wantStatus(t, r, http.StatusOK)
	if r.has("Ann Retry") || r.has("data-rating") {
		t.Errorf("the re-registered organization sees the deleted one's data:\n%.3000s", r.body)
	}

	// The admin API refusing (a wrong key) is a 503 with nothing left behind.
	wrong, err := tenantdb.NewSqld(tenantdb.SqldConfig{AdminURL: s.AdminURL(), AdminKey: "wrong",
		DBURL: s.DBURLTemplate(), Replicas: replicaConfig(dir, a.log)})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := tenantdb.New(tenantdb.Config{Backend: wrong, Catalog: a.cat, Migrations: migTenant,
		MaxOpen: 2, Log: a.log, Sealer: testSealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	org = catalog.Organization{Name: "K", Username: "keyless", Email: "k@example.com", PasswordHash: "x", DBName: "tenantdesk-keyless"}
	if err := reg.Register(ctx, &org); !apperr.Is(err, apperr.Unavailable) {
		t.Errorf("Register with a wrong admin key: %v, want Unavailable", err)
	}
	if !strings.Contains(a.logs.String(), "401") {
		t.Errorf("the admin API's refusal is not in the log")
	}
}

// TestSqldIsolation: a token minted for tenant A does not open tenant B's replica, while it
// opens A's; B's namespace also refuses A's token over HTTP.
func TestSqldIsolation(t *testing.T) {
	s := sqldtest.Start(t)
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(&syncBuffer{}, nil))
	b := newSqld(t, s, dir, log)
	ctx := context.Background()
	locA, err := b.Provision(ctx, "tenant-a")
	if err != nil {
		t.Fatal(err)
	}
	locB, err := b.Provision(ctx, "tenant-b")
	if err != nil {
		t.Fatal(err)
	}
	dbA, err := b.Connect(ctx, "tenant-a", locA)
	if err != nil {
		t.Fatalf("A's key does not open A: %v", err)
	}
	if _, err := dbA.SQL().Exec("CREATE TABLE secrets (v TEXT)"); err != nil {
		t.Fatal(err)
	}
	dbA.Close()
	tokenB, _ := tenantdb.MintToken(locB.Secret, "tenant-b", time.Hour)
	if _, err := s.Pipeline("tenant-b", tokenB, "CREATE TABLE private (v TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pipeline("tenant-b", tokenB, "INSERT INTO private VALUES ('b only')"); err != nil {
		t.Fatal(err)
	}

	// A's key with B's URL, on a replica directory of its own.
	other := newSqld(t, s, t.TempDir(), log)
	start := time.Now()
	db, err := other.Connect(ctx, "tenant-b", tenantdb.Location{URL: locB.URL, Secret: locA.Secret})
	if err == nil {
		var v string
		qerr := db.SQL().QueryRow("SELECT v FROM private").Scan(&v)
		db.Close()
		t.Fatalf("A's token opened B's replica (read %q, %v)", v, qerr)
	}
	if !apperr.Is(err, apperr.Unavailable) {
		t.Errorf("A's token on B: %v, want an Unavailable error", err)
	}
	if d := time.Since(start); d > remoteTimeout+time.Second {
		t.Errorf("the refused open took %v, want at most the %v deadline", d, remoteTimeout)
	}
	tokenA, _ := tenantdb.MintToken(locA.Secret, "tenant-a", time.Hour)
	if _, err := s.Pipeline("tenant-b", tokenA, "SELECT v FROM private"); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("A's token on B's primary: %v, want 401", err)
	}
	// A token that names B but is signed with A's key is refused too.
	forged, _ := tenantdb.MintToken(locA.Secret, "tenant-b", time.Hour)
	if _, err := s.Pipeline("tenant-b", forged, "SELECT v FROM private"); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("a token for B signed with A's key: %v, want 401", err)
	}
}

// TestSqldRegistryEviction: the LRU bound holds with replicas, an evicted replica's connector
// is closed and its files released (a reopen works at once), and the data survives.
func TestSqldRegistryEviction(t *testing.T) {
	s := sqldtest.Start(t)
	dir := t.TempDir()
	a := startApp(t, dir, func(log *slog.Logger) tenantdb.Backend { return newSqld(t, s, dir, log) })
	reg, err := tenantdb.New(tenantdb.Config{Backend: newSqld(t, s, dir, a.log), Catalog: a.cat,
		Migrations: migTenant, MaxOpen: 2, Log: a.log, Sealer: testSealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ctx := context.Background()
	var orgs []catalog.Organization
	for i := range 4 {
		o := catalog.Organization{Name: "E", Username: fmt.Sprintf("evict%d", i), Email: fmt.Sprintf("e%d@example.com", i),
			PasswordHash: "x", DBName: fmt.Sprintf("tenantdesk-evict%d", i)}
		if err := reg.Register(ctx, &o); err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o)
	}
	for round := range 3 {
		for i, o := range orgs {
			h, err := reg.Acquire(ctx, o)
			if err != nil {
				t.Fatalf("round %d, %s: %v", round, o.Username, err)
			}
			if err := addAgent(ctx, h.DB, "A", fmt.Sprintf("a%d-%d@example.com", round, i)); err != nil {
				t.Fatalf("round %d, %s: %v", round, o.Username, err)
			}
			n, err := countRows(ctx, h.DB, "agents")
			h.Release()
			if err != nil || n != round+1 {
				t.Fatalf("round %d, %s: %d agents, %v; want %d", round, o.Username, n, err, round+1)
			}
		}
	}
	open, opens, evictions := reg.Stats()
	if open != 2 || evictions < 8 || opens < 10 {
		t.Errorf("Stats = open %d, opens %d, evictions %d; want 2 open and an eviction per switch", open, opens, evictions)
	}
}
