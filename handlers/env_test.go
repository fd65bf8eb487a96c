package handlers_test

import (
	"bytes"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/sqlite3/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/handlers"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// env is a running server on a temporary DATA_DIR with real libSQL files.
type env struct {
	t        testing.TB
	dir      string
	cfg      handlers.Config
	srv      *handlers.Server
	app      *fiber.App
	cat      *catalog.Store
	reg      *tenantdb.Registry
	desk     *desk.Service
	sessions *sqlite3.Storage
	logs     *syncBuffer
	// mail is the email channel's configuration, when it is on (email_test.go).
	mail *desk.MailConfig
	// files are the desk's attachment limits (its defaults when zero).
	files desk.FileLimits
	// seal is the key material of the desk's sealed secrets, as the binary's session secret.
	seal string
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

// testKey keeps cookies valid across a restart of the test server.
var testKey = bytes.Repeat([]byte{7}, 32)

func testConfig() handlers.Config {
	return handlers.Config{BcryptCost: bcrypt.MinCost, CookieSecret: testKey}
}

// testLogLevel is the level of the test servers' logs; benchmarks raise it to Info, as the
// binary runs.
var testLogLevel = slog.LevelDebug

// newEnv starts a server on a fresh directory.
func newEnv(t testing.TB, cfg ...handlers.Config) *env {
	t.Helper()
	c := testConfig()
	if len(cfg) > 0 {
		c = cfg[0]
	}
	return startEnv(t, t.TempDir(), c)
}

// newEnvFiles starts a server on a fresh directory whose desk stores attachments under files.
func newEnvFiles(t testing.TB, files desk.FileLimits) *env {
	t.Helper()
	return startEnvFiles(t, t.TempDir(), testConfig(), files)
}

// startEnv starts a server on dir, with email on when mail names a configuration; it is
// closed at the end of the test (or by e.close).
func startEnv(t testing.TB, dir string, cfg handlers.Config, mail ...*desk.MailConfig) *env {
	t.Helper()
	return startEnvFiles(t, dir, cfg, desk.FileLimits{}, mail...)
}

func startEnvFiles(t testing.TB, dir string, cfg handlers.Config, files desk.FileLimits, mail ...*desk.MailConfig) *env {
	t.Helper()
	return startEnvSealed(t, dir, cfg, files, dir, mail...)
}

// startEnvSealed is startEnvFiles whose desk seals secrets with a key derived from seal.
func startEnvSealed(t testing.TB, dir string, cfg handlers.Config, files desk.FileLimits, seal string, mail ...*desk.MailConfig) *env {
	t.Helper()
	e := &env{t: t, dir: dir, cfg: cfg, logs: &syncBuffer{}, files: files, seal: seal}
	if len(mail) > 0 {
		e.mail = mail[0]
	}
	// go-libsql opens the first connection, before the session storage: the two share one
	// SQLite engine, which must be set up by go-libsql.
	catDB, err := sqlite.Open(filepath.Join(dir, "catalog.db"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Up(catDB, os.DirFS("../sql/migrations/catalog")); err != nil {
		t.Fatal(err)
	}
	e.cat = catalog.New(catDB)
	e.sessions = sqlite3.New(sqlite3.Config{Database: "file:" + filepath.Join(dir, "sessions.db") +
		"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=5000", Table: "sessions"})
	log := slog.New(slog.NewTextHandler(io.MultiWriter(e.logs), &slog.HandlerOptions{Level: testLogLevel}))
	e.reg, err = tenantdb.New(tenantdb.Config{Backend: tenantdb.Local{Dir: dir}, Catalog: e.cat,
		Migrations: os.DirFS("../sql/migrations/tenant"), MaxOpen: 8, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	// One key for every start with the same seal, as the binary derives it from its secret:
	// webhook secrets sealed before a restart open after it.
	secretKey, err := tenantdb.SecretKey([]byte(seal))
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := tenantdb.NewSealer(secretKey)
	if err != nil {
		t.Fatal(err)
	}
	e.desk = desk.New(desk.Config{Registry: e.reg, Catalog: e.cat, Log: log, Secrets: secrets, Files: files})
	if e.mail != nil {
		if err := e.desk.EnableMail(*e.mail); err != nil {
			t.Fatal(err)
		}
	}
	e.srv, err = handlers.New(cfg, handlers.Deps{
		Catalog: e.cat, Desk: e.desk, Sessions: e.sessions,
		Views: os.DirFS("../views"), Assets: os.DirFS("../assets"), Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.app = e.srv.App()
	t.Cleanup(e.close)
	return e
}

// listen serves the app on a loopback port and returns its base URL.
func (e *env) listen() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go e.app.Listener(ln)
	return "http://" + ln.Addr().String()
}

func (e *env) close() {
	if e.reg == nil {
		return
	}
	e.app.Shutdown()
	e.desk.Close()
	e.reg.Close()
	e.sessions.Close()
	e.cat.DB().Close()
	e.reg = nil
}

// restart closes the server and starts a new one on the same directory.
func (e *env) restart() *env {
	e.t.Helper()
	e.close()
	return startEnvSealed(e.t, e.dir, e.cfg, e.files, e.seal, e.mail)
}

// restartSealed is restart with another server secret for the desk's sealed secrets.
func (e *env) restartSealed(seal string) *env {
	e.t.Helper()
	e.close()
	return startEnvSealed(e.t, e.dir, e.cfg, e.files, seal, e.mail)
}

// response is a finished request.
type response struct {
	status int
	header http.Header
	body   string
	// closed reports that the server closes the connection after the answer.
	closed bool
}

func (r response) has(s string) bool { return strings.Contains(r.body, s) }

// client is one browser: it keeps cookies and the last CSRF token it saw.
type client struct {
	e       *env
	cookies map[string]string
	csrf    string
	ip      string
}

func (e *env) client() *client { return &client{e: e, cookies: map[string]string{}} }

// on moves the client (cookies and all) to another server, e.g. after a restart.
func (c *client) on(e *env) *client { c.e = e; return c }

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]*)"`)

func (c *client) do(method, path string, body io.Reader, hdr map[string]string) response {
	c.e.t.Helper()
	req := httptest.NewRequest(method, path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	var cookie []string
	for k, v := range c.cookies {
		cookie = append(cookie, k+"="+v)
	}
	if len(cookie) > 0 {
		req.Header.Set("Cookie", strings.Join(cookie, "; "))
	}
	if c.ip != "" {
		req.RemoteAddr = c.ip + ":1234"
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.e.app.Test(req, -1)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	r := response{status: res.StatusCode, header: res.Header, body: string(b), closed: res.Close}
	if m := csrfRE.FindStringSubmatch(r.body); m != nil {
		c.csrf = m[1]
	}
	return r
}

func (c *client) get(path string, hdr ...map[string]string) response {
	c.e.t.Helper()
	return c.do(http.MethodGet, path, nil, first(hdr))
}

// post submits a form with the client's CSRF token (unless the form sets _csrf itself).
func (c *client) post(path string, form url.Values, hdr ...map[string]string) response {
	c.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok {
		form.Set("_csrf", c.csrf)
	}
	return c.do(http.MethodPost, path, strings.NewReader(form.Encode()), first(hdr))
}

// upFile is a file of a multipart form.
type upFile struct {
	name    string
	content []byte
}

// postFiles submits a multipart form as a browser does: the client's CSRF token first (unless
// fields sets _csrf), then fields, then files in the `attachment` field.
func (c *client) postFiles(path string, fields url.Values, files []upFile, hdr ...map[string]string) response {
	c.e.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if _, ok := fields["_csrf"]; !ok {
		w.WriteField("_csrf", c.csrf)
	}
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	for _, f := range files {
		fw, err := w.CreateFormFile("attachment", f.name)
		if err != nil {
			c.e.t.Fatal(err)
		}
		fw.Write(f.content)
	}
	w.Close()
	h := map[string]string{"Content-Type": w.FormDataContentType()}
	for k, v := range first(hdr) {
		h[k] = v
	}
	return c.do(http.MethodPost, path, &buf, h)
}

func first(h []map[string]string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	return h[0]
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

func wantRedirect(t testing.TB, r response, location string) {
	t.Helper()
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.header.Get("Location"); got != location {
		t.Fatalf("Location = %q, want %q", got, location)
	}
}

// org is a registered organization and its logged-in browser.
type org struct {
	username, email, password string
	browser                   *client
}

// register registers an organization through the real form.
func (e *env) register(username string) org {
	e.t.Helper()
	o := org{username: username, email: username + "@example.com", password: "correct horse " + username, browser: e.client()}
	o.browser.get("/register")
	r := o.browser.post("/register", form("name", strings.ToUpper(username[:1])+username[1:]+" Inc",
		"website", "https://"+username+".example", "username", username, "email", o.email,
		"password", o.password, "password_repeat", o.password))
	wantRedirect(e.t, r, "/dash")
	return o
}

var initialPasswordRE = regexp.MustCompile(`id="agent-initial-password"[^>]*>([^<]+)<`)

// agent is an onboarded agent with its own browser, logged in with its own password.
type agent struct {
	org, email, password string
	browser              *client
}

// onboard adds an agent to o and logs it in, setting its own password.
func (e *env) onboard(o org, name string) agent {
	e.t.Helper()
	o.browser.get("/dash")
	email := strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@" + o.username + ".example"
	r := o.browser.post("/agents", form("full_name", name, "email", email))
	wantStatus(e.t, r, http.StatusOK)
	m := initialPasswordRE.FindStringSubmatch(r.body)
	if m == nil {
		e.t.Fatalf("no agent-initial-password in:\n%.2000s", r.body)
	}
	a := agent{org: o.username, email: email, password: "agent password " + name, browser: e.client()}
	a.browser.get("/agent/" + o.username + "/login")
	r = a.browser.post("/agent/"+o.username+"/login", form("email", email, "password", m[1]))
	wantRedirect(e.t, r, "/agent/"+o.username+"/password")
	a.browser.get("/agent/" + o.username + "/password")
	r = a.browser.post("/agent/"+o.username+"/password", form("password", a.password, "password_repeat", a.password))
	wantRedirect(e.t, r, "/agent/"+o.username+"/dash")
	return a
}

// customer is a customer's browser and its private ticket page.
type customer struct {
	page    string
	browser *client
}

// openTicket opens a ticket at o as a new customer.
func (e *env) openTicket(orgName, question string) customer {
	e.t.Helper()
	c := customer{browser: e.client()}
	c.browser.get("/" + orgName + "/open-ticket")
	r := c.browser.post("/"+orgName+"/open-ticket", form("customer_name", "Carla Customer",
		"customer_email", "carla@example.net", "query", question))
	wantStatus(e.t, r, http.StatusSeeOther)
	c.page = r.header.Get("Location")
	if !strings.HasPrefix(c.page, "/customer/"+orgName+"/t/") {
		e.t.Fatalf("ticket page = %q", c.page)
	}
	return c
}

var engageRE = regexp.MustCompile(`/agent/[a-z0-9]+/tickets/(\d+)/engage`)

// engage makes the agent engage the newest waiting ticket and returns the talk page URL.
func (e *env) engage(a agent) string {
	e.t.Helper()
	r := a.browser.get("/agent/" + a.org + "/dash")
	m := engageRE.FindStringSubmatch(r.body)
	if m == nil {
		e.t.Fatalf("no waiting ticket on the agent dashboard:\n%.2000s", r.body)
	}
	r = a.browser.post(m[0], nil)
	wantStatus(e.t, r, http.StatusSeeOther)
	return r.header.Get("Location")
}

var msgIDRE = regexp.MustCompile(`id="msg-(\d+)"`)

// messageIDs lists the msg-N ids in a body, in order.
func messageIDs(body string) []string {
	var ids []string
	for _, m := range msgIDRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}
