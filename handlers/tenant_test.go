package handlers_test

import (
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// TestRestartKeepsSessionsAndData: sessions live in SQLite storage and every tenant in its own
// file, so a restart loses neither.
func TestRestartKeepsSessionsAndData(t *testing.T) {
	e := newEnv(t)
	o := e.register("keepco")
	a := e.onboard(o, "Kim Keeper")
	c := e.openTicket("keepco", "Will you remember me?")
	talk := e.engage(a)
	wantStatus(t, a.browser.post(talk+"/messages", form("message", "Of course."), htmx), http.StatusOK)

	e2 := e.restart()
	o.browser.on(e2)
	a.browser.on(e2)
	c.browser.on(e2)
	r := o.browser.get("/dash")
	wantStatus(t, r, http.StatusOK)
	if !r.has("Will you remember me?") || !r.has("Kim Keeper") {
		t.Fatalf("dashboard after restart lacks data:\n%.2000s", r.body)
	}
	r = a.browser.get(talk)
	wantStatus(t, r, http.StatusOK)
	if !r.has("Of course.") {
		t.Fatal("agent conversation lost its message")
	}
	if r := c.browser.get(c.page); !r.has("Of course.") {
		t.Fatal("customer page lost its message")
	}
	// And the restarted server still writes.
	wantStatus(t, c.browser.post(c.page+"/messages", form("message", "Thanks")), http.StatusSeeOther)
}

// TestColdTenantOpensOnce: many first requests to a tenant nobody opened since the start share
// one open and one migration.
func TestColdTenantOpensOnce(t *testing.T) {
	e := newEnv(t)
	e.register("coldco")
	e2 := e.restart()
	if e2.reg.IsOpen("tenantdesk-coldco") {
		t.Fatal("tenant open right after start")
	}
	_, opensBefore, _ := e2.reg.Stats()
	var wg sync.WaitGroup
	statuses := make(chan int, 40)
	clients := make([]*client, 40)
	for i := range clients {
		clients[i] = e2.client()
		clients[i].get("/coldco/open-ticket") // the form: no database needed yet
	}
	if e2.reg.IsOpen("tenantdesk-coldco") {
		t.Fatal("showing the ticket form opened the tenant database")
	}
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- c.post("/coldco/open-ticket", form("customer_name", "C", "customer_email", "c@example.net", "query", "q")).status
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusSeeOther {
			t.Fatalf("concurrent first request: status %d", s)
		}
	}
	_, opensAfter, _ := e2.reg.Stats()
	if got := opensAfter - opensBefore; got != 1 {
		t.Fatalf("tenant opened %d times, want 1", got)
	}
}

// TestTenantUnavailable: a tenant database that cannot be opened answers 503 with a page that
// says so, and other tenants are unaffected.
func TestTenantUnavailable(t *testing.T) {
	e := newEnv(t)
	e.register("brokenco")
	e.register("fineco")
	e.close()
	path := filepath.Join(e.dir, "tenantdesk-brokenco.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("this is not a database ", 300)), 0o600); err != nil {
		t.Fatal(err)
	}
	e2 := startEnv(t, e.dir, e.cfg)
	c := e2.client()
	c.get("/brokenco/open-ticket")
	r := c.post("/brokenco/open-ticket", form("customer_name", "C", "customer_email", "c@example.net", "query", "q"))
	wantStatus(t, r, http.StatusServiceUnavailable)
	if !r.has("unavailable") || r.has("not a database") || r.has(e.dir) {
		t.Fatalf("503 page:\n%.1500s", r.body)
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	c.get("/fineco/open-ticket")
	wantStatus(t, c.post("/fineco/open-ticket", form("customer_name", "C", "customer_email", "c@example.net", "query", "q")), http.StatusSeeOther)
}

// TestRegistrationLeavesNothingOnFailure: when the tenant database cannot be created, the
// person sees why, no catalog row and no file remain, and the same username works later.
func TestRegistrationLeavesNothingOnFailure(t *testing.T) {
	e := newEnv(t)
	// A non-empty directory where the tenant file must go makes creation fail.
	blocker := filepath.Join(e.dir, "tenantdesk-failco.db")
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := listDir(t, e.dir)
	c := e.client()
	c.get("/register")
	r := c.post("/register", form("name", "Fail Co", "website", "", "username", "failco",
		"email", "boss@failco.example", "password", "long enough password", "password_repeat", "long enough password"))
	wantStatus(t, r, http.StatusServiceUnavailable)
	if !r.has("Please try again") || !r.has(`value="failco"`) {
		t.Fatalf("failed registration page:\n%.2000s", r.body)
	}
	if _, err := e.cat.ByUsername(t.Context(), "failco"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("catalog row after failed registration: %v", err)
	}
	if after := listDir(t, e.dir); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("files changed: before %v, after %v", before, after)
	}
	os.RemoveAll(blocker)
	r = c.post("/register", form("name", "Fail Co", "website", "", "username", "failco",
		"email", "boss@failco.example", "password", "long enough password", "password_repeat", "long enough password"))
	wantRedirect(t, r, "/dash")
	if _, err := os.Stat(blocker); err != nil {
		t.Fatalf("tenant file after retry: %v", err)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "sessions.db") || strings.HasPrefix(e.Name(), "catalog.db") {
			continue // shared stores change with every request
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// TestRegistrationCreatesMigratedDatabase: the tenant file is named <APP_NAME>-<username> and
// holds every tenant table.
func TestRegistrationCreatesMigratedDatabase(t *testing.T) {
	cfg := testConfig()
	cfg.AppName = "helpme"
	e := newEnv(t, cfg)
	c := e.client()
	c.get("/register")
	r := c.post("/register", form("name", "Named Co", "website", "https://named.example", "username", "named",
		"email", "boss@named.example", "password", "long enough password", "password_repeat", "long enough password"))
	wantRedirect(t, r, "/dash")
	path := filepath.Join(e.dir, "helpme-named.db")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("tenant file: %v", err)
	}
	org, err := e.cat.ByUsername(t.Context(), "named")
	if err != nil {
		t.Fatal(err)
	}
	if org.DBName != "helpme-named" || org.SchemaVersion == 0 || org.Website != "https://named.example" {
		t.Fatalf("catalog row = %+v", org)
	}
	if r := c.get("/"); !r.has(`href="/named/open-ticket"`) || !r.has("Named Co") {
		t.Fatalf("landing page lacks the organization:\n%.2000s", r.body)
	}
}

// TestExport: the download is a consistent SQLite snapshot holding the organization's data.
func TestExport(t *testing.T) {
	e := newEnv(t)
	o := e.register("exportco")
	a := e.onboard(o, "Eve Exporter")
	e.openTicket("exportco", "Export me")
	talk := e.engage(a)
	a.browser.post(talk+"/messages", form("message", "2024-01-02"), htmx)
	r := o.browser.get("/dash/export")
	wantStatus(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/vnd.sqlite3" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if cd := r.header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, "exportco") {
		t.Fatalf("Content-Disposition = %q", cd)
	}
	path := filepath.Join(t.TempDir(), "export.db")
	if err := os.WriteFile(path, []byte(r.body), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tickets, messages, agents int
	if err := db.QueryRow("SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM messages), (SELECT count(*) FROM agents)").
		Scan(&tickets, &messages, &agents); err != nil {
		t.Fatal(err)
	}
	// The question, the take's activity line and the reply.
	if tickets != 1 || messages != 3 || agents != 1 {
		t.Fatalf("export has %d tickets, %d messages, %d agents; want 1, 3, 1", tickets, messages, agents)
	}
	// Not logged in: no export.
	wantRedirect(t, e.client().get("/dash/export"), "/login")
}

// TestDeleteOrganization: after typing its username and password the owner's organization,
// database files and sessions are gone, and the username can be registered again.
func TestDeleteOrganization(t *testing.T) {
	e := newEnv(t)
	// stayco first: goneco then holds the highest id, the one a reused id would repeat.
	other := e.register("stayco")
	o := e.register("goneco")
	a := e.onboard(o, "Gina Gone")
	c := e.openTicket("goneco", "Still there?")
	e.engage(a)
	// The owner is also logged in on a second device.
	second := e.client()
	second.get("/login")
	wantRedirect(t, second.post("/login", form("email", o.email, "password", o.password)), "/dash")

	o.browser.get("/dash")
	r := o.browser.post("/dash/delete", form("confirm_name", "stayco", "password", o.password))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !r.has(`id="confirm_name-error"`) || !r.has(`value="stayco"`) {
		t.Fatalf("the refused confirmation is not kept beside its error:\n%.1500s", r.body)
	}
	r = o.browser.post("/dash/delete", form("confirm_name", "goneco", "password", "wrong password"))
	wantStatus(t, r, http.StatusUnauthorized)
	if !r.has(`id="delete_password-error"`) || !r.has(`value="goneco"`) || r.has(`value="wrong password"`) {
		t.Fatalf("no error beside the password field, or the values not kept (or the password kept):\n%.1500s", r.body)
	}
	wantRedirect(t, o.browser.post("/dash/delete", form("confirm_name", "goneco", "password", o.password)), "/")

	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(filepath.Join(e.dir, "tenantdesk-goneco.db"+suffix)); !os.IsNotExist(err) {
			t.Errorf("tenantdesk-goneco.db%s still exists (%v)", suffix, err)
		}
	}
	if _, err := e.cat.ByUsername(t.Context(), "goneco"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("catalog row still there: %v", err)
	}
	wantRedirect(t, o.browser.get("/dash"), "/login")
	wantStatus(t, a.browser.get("/agent/goneco/dash"), http.StatusNotFound)
	wantStatus(t, c.browser.get(c.page), http.StatusNotFound)
	if r := e.client().get("/"); r.has("goneco") || !r.has("stayco") {
		t.Fatal("landing page still lists the deleted organization, or lost the other one")
	}
	wantStatus(t, other.browser.get("/dash"), http.StatusOK)
	// The name is free again, with an empty helpdesk.
	again := e.register("goneco")
	if r := again.browser.get("/dash"); r.has("Gina Gone") || r.has("Still there?") {
		t.Fatal("a re-registered organization sees the deleted one's data")
	}
	// Sessions of the deleted organization never become sessions of the new one (organization
	// ids are never reused), and neither do its agents' sessions.
	wantRedirect(t, second.get("/dash"), "/login")
	wantRedirect(t, a.browser.get("/agent/goneco/dash"), "/agent/goneco/login")
}
