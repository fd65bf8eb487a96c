package tenantdb_test

// The environment of the tests against a real libsql-server: an sqld started by sqldtest, the
// tenantdesk HTTP server (handlers, as main wires it) on a temporary DATA_DIR with a chosen
// Backend, and browsers that keep cookies and CSRF tokens.

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/sqlite3/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/handlers"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb/sqldtest"
)

// The migrations, one fs.FS value each (schema caches per value).
var (
	migTenant  = os.DirFS("../migrations/tenant")
	migCatalog = os.DirFS("../migrations/catalog")
)

// remoteTimeout is the per-call deadline in these tests: short, so that frozen-primary cases
// finish quickly, yet far above a healthy call (milliseconds).
const remoteTimeout = 2 * time.Second

// testSealer seals credentials the way main does, from a fixed session key.
func testSealer(tb testing.TB) *tenantdb.Sealer {
	tb.Helper()
	key, err := tenantdb.CredentialKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := tenantdb.NewSealer(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// replicaConfig is the tests' replica configuration under dir.
func replicaConfig(dir string, log *slog.Logger) tenantdb.ReplicaConfig {
	return tenantdb.ReplicaConfig{Dir: filepath.Join(dir, "replicas"), SyncInterval: 300 * time.Millisecond,
		Timeout: remoteTimeout, Log: log}
}

// newSqld returns the sqld backend for server s with replicas under dir.
func newSqld(tb testing.TB, s *sqldtest.Server, dir string, log *slog.Logger) *tenantdb.Sqld {
	tb.Helper()
	b, err := tenantdb.NewSqld(tenantdb.SqldConfig{AdminURL: s.AdminURL(), AdminKey: s.AdminKey,
		DBURL: s.DBURLTemplate(), Replicas: replicaConfig(dir, log)})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// app is a running tenantdesk on one DATA_DIR.
type app struct {
	t        testing.TB
	dir      string
	cat      *catalog.Store
	reg      *tenantdb.Registry
	desk     *desk.Service
	sessions *sqlite3.Storage
	fiber    *fiber.App
	logs     *syncBuffer
	log      *slog.Logger
	closed   bool
}

// startApp starts the HTTP server on dir, with a local catalog, and the Backend made by mk
// (given the app's logger).
func startApp(t testing.TB, dir string, mk func(log *slog.Logger) tenantdb.Backend) *app {
	t.Helper()
	return startAppOn(t, dir, nil, mk)
}

// startAppOn is startApp on a catalog the test opened (nil: a local one under dir).
func startAppOn(t testing.TB, dir string, cat *catalog.Store, mk func(log *slog.Logger) tenantdb.Backend) *app {
	t.Helper()
	return startAppWith(t, dir, cat, mk, appOptions{})
}

// appOptions change what startAppWith wires, as main's configuration would.
type appOptions struct {
	appName     string        // APP_NAME
	maxUsername int           // handlers' MaxUsernameLength
	orphanGrace time.Duration // tenantdb.Config.OrphanGrace
	dropBackoff time.Duration // tenantdb.Config.DropBackoff
}

// startAppWith is startAppOn with options.
func startAppWith(t testing.TB, dir string, cat *catalog.Store, mk func(log *slog.Logger) tenantdb.Backend, opts appOptions) *app {
	t.Helper()
	a := &app{t: t, dir: dir, logs: &syncBuffer{}, cat: cat}
	a.log = slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if a.cat == nil {
		catDB, err := sqlite.Open(filepath.Join(dir, "catalog.db"), 4)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := schema.Up(catDB, migCatalog); err != nil {
			t.Fatal(err)
		}
		a.cat = catalog.New(catDB)
	}
	var err error
	a.sessions = sqlite3.New(sqlite3.Config{Database: filepath.Join(dir, "sessions.db"), Table: "sessions"})
	a.reg, err = tenantdb.New(tenantdb.Config{Backend: mk(a.log), Catalog: a.cat, Migrations: migTenant,
		MaxOpen: 8, Log: a.log, Sealer: testSealer(t), OrphanGrace: opts.orphanGrace, DropBackoff: opts.dropBackoff})
	if err != nil {
		t.Fatal(err)
	}
	a.desk = desk.New(desk.Config{Registry: a.reg, Catalog: a.cat, Log: a.log, StateTTL: 300 * time.Millisecond})
	srv, err := handlers.New(handlers.Config{BcryptCost: bcrypt.MinCost, CookieSecret: bytes.Repeat([]byte{7}, 32),
		AppName: opts.appName, MaxUsernameLength: opts.maxUsername},
		handlers.Deps{Catalog: a.cat, Desk: a.desk, Sessions: a.sessions,
			Views: os.DirFS("../../views"), Assets: os.DirFS("../../assets"), Log: a.log})
	if err != nil {
		t.Fatal(err)
	}
	a.fiber = srv.App()
	t.Cleanup(func() {
		a.close()
		if t.Failed() || os.Getenv("TENANTDB_TEST_LOG") != "" {
			t.Logf("app log:\n%s", tail(a.logs.String(), 6000))
		}
	})
	return a
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func (a *app) close() {
	if a.closed {
		return
	}
	a.closed = true
	a.fiber.Shutdown()
	a.desk.Close()
	a.reg.Close()
	a.sessions.Close()
	a.cat.DB().Close()
}

// response is a finished request.
type response struct {
	status int
	header http.Header
	body   string
	took   time.Duration
}

func (r response) has(s string) bool { return strings.Contains(r.body, s) }

// browser keeps cookies and the last CSRF token it saw.
type browser struct {
	a       *app
	cookies map[string]string
	csrf    string
}

func (a *app) browser() *browser { return &browser{a: a, cookies: map[string]string{}} }

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]*)"`)

func (b *browser) do(method, path string, form url.Values, hdr map[string]string) response {
	b.a.t.Helper()
	var body io.Reader
	if form != nil {
		if _, ok := form["_csrf"]; !ok {
			form.Set("_csrf", b.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	var cookie []string
	for k, v := range b.cookies {
		cookie = append(cookie, k+"="+v)
	}
	if len(cookie) > 0 {
		req.Header.Set("Cookie", strings.Join(cookie, "; "))
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	start := time.Now()
	res, err := b.a.fiber.Test(req, -1)
	if err != nil {
		b.a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(b.cookies, ck.Name)
		} else {
			b.cookies[ck.Name] = ck.Value
		}
	}
	r := response{status: res.StatusCode, header: res.Header, body: string(raw), took: time.Since(start)}
	if m := csrfRE.FindStringSubmatch(r.body); m != nil {
		b.csrf = m[1]
	}
	return r
}

func (b *browser) get(path string, hdr ...map[string]string) response {
	b.a.t.Helper()
	var h map[string]string
	if len(hdr) > 0 {
		h = hdr[0]
	}
	return b.do(http.MethodGet, path, nil, h)
}

func (b *browser) post(path string, form url.Values, hdr ...map[string]string) response {
	b.a.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	var h map[string]string
	if len(hdr) > 0 {
		h = hdr[0]
	}
	return b.do(http.MethodPost, path, form, h)
}

var htmx = map[string]string{"HX-Request": "true"}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func wantStatus(t testing.TB, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status = %d, want %d; body:\n%.1500s", r.status, want, r.body)
	}
}

// org is a registered organization and its logged-in browser.
type org struct {
	username string
	b        *browser
}

func (a *app) registerForm(username string) (*browser, response) {
	a.t.Helper()
	b := a.browser()
	b.get("/register")
	pw := "correct horse " + username
	r := b.post("/register", form("name", strings.ToUpper(username[:1])+username[1:]+" Inc",
		"website", "https://"+username+".example", "username", username, "email", username+"@example.com",
		"password", pw, "password_repeat", pw))
	return b, r
}

func (a *app) register(username string) org {
	a.t.Helper()
	b, r := a.registerForm(username)
	wantStatus(a.t, r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/dash" {
		a.t.Fatalf("register %s → %q", username, loc)
	}
	return org{username: username, b: b}
}

var initialPasswordRE = regexp.MustCompile(`id="agent-initial-password"[^>]*>([^<]+)<`)

// onboard adds an agent to o and logs it in with its own password; it returns its browser.
func (a *app) onboard(o org, name string) *browser {
	a.t.Helper()
	o.b.get("/dash")
	email := strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@" + o.username + ".example"
	r := o.b.post("/agents", form("full_name", name, "email", email))
	wantStatus(a.t, r, http.StatusOK)
	m := initialPasswordRE.FindStringSubmatch(r.body)
	if m == nil {
		a.t.Fatalf("no agent-initial-password in:\n%.2000s", r.body)
	}
	b := a.browser()
	b.get("/agent/" + o.username + "/login")
	wantStatus(a.t, b.post("/agent/"+o.username+"/login", form("email", email, "password", m[1])), http.StatusSeeOther)
	b.get("/agent/" + o.username + "/password")
	pw := "agent password " + name
	wantStatus(a.t, b.post("/agent/"+o.username+"/password", form("password", pw, "password_repeat", pw)), http.StatusSeeOther)
	return b
}

// openTicket opens a ticket at orgName as a new customer and returns its browser and page.
func (a *app) openTicket(orgName, question string) (*browser, string) {
	a.t.Helper()
	b := a.browser()
	b.get("/" + orgName + "/open-ticket")
	r := b.post("/"+orgName+"/open-ticket", form("customer_name", "Carla Customer",
		"customer_email", "carla@example.net", "query", question))
	wantStatus(a.t, r, http.StatusSeeOther)
	page := r.header.Get("Location")
	if !strings.HasPrefix(page, "/customer/"+orgName+"/t/") {
		a.t.Fatalf("ticket page = %q", page)
	}
	return b, page
}

var engageRE = regexp.MustCompile(`/agent/[a-z0-9]+/tickets/(\d+)/engage`)

// engage makes the agent of orgName take the newest unassigned ticket; it returns the talk URL.
func (a *app) engage(agent *browser, orgName string) string {
	a.t.Helper()
	r := agent.get("/agent/" + orgName + "/dash")
	m := engageRE.FindStringSubmatch(r.body)
	if m == nil {
		a.t.Fatalf("no waiting ticket on the agent dashboard:\n%.2000s", r.body)
	}
	r = agent.post(m[0], nil)
	wantStatus(a.t, r, http.StatusSeeOther)
	return r.header.Get("Location")
}

var pollStateRE = regexp.MustCompile(`/messages\?state=([a-z]+(?:\.\d+)?)"`)

// pollState returns the ticket state a conversation page's poll sends back (?state=): the
// page reloads when the ticket moves on from it.
func pollState(t testing.TB, body string) string {
	t.Helper()
	m := pollStateRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no poll with a state in:\n%.2000s", body)
	}
	return m[1]
}

var msgIDRE = regexp.MustCompile(`id="msg-(\d+)"`)

func messageIDs(body string) []string {
	var ids []string
	for _, m := range msgIDRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// closeAction finds the close form's URL on a talk page.
func closeAction(t testing.TB, body string) string {
	t.Helper()
	m := regexp.MustCompile(`/agent/[a-z0-9]+/tickets/\d+/close`).FindString(body)
	if m == "" {
		t.Fatalf("no close form in:\n%.2000s", body)
	}
	return m
}

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
