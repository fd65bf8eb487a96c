package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// TestServeBootsAndShutsDown starts the real server from the embedded files on a free port,
// walks registration through real HTTP, then shuts it down as SIGTERM would. It is also the
// start-up order test: this is the process's first SQLite use, so if the session storage
// (mattn) touched SQLite before go-libsql, the process would abort here.
func TestServeBootsAndShutsDown(t *testing.T) {
	dir := t.TempDir()
	cfg, err := configFromEnv(func(k string) string {
		return map[string]string{"DATA_DIR": dir, "PORT": "0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.bcryptCost = bcrypt.MinCost // the dummy hash at the real cost takes seconds under -race
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log, waitLog := newLogSignal(io.Discard, "tenantdesk serving")
	go func() { done <- serve(ctx, cfg, log, ln) }()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		t.Helper()
		res, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	waitLog(t, "tenantdesk serving")
	if s, _ := get("/healthz"); s != 200 {
		t.Fatalf("/healthz = %d", s)
	}
	if s, _ := get("/readyz"); s != 200 {
		t.Fatalf("/readyz = %d", s)
	}
	for _, asset := range []string{"/assets/app.css", "/assets/app.js", "/assets/vendor/htmx.min.js"} {
		if s, body := get(asset); s != 200 || len(body) < 100 {
			t.Errorf("GET %s = %d (%d bytes): assets must be embedded (run make assets)", asset, s, len(body))
		}
	}
	s, body := get("/register")
	if s != 200 {
		t.Fatalf("/register = %d", s)
	}
	token := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if token == nil {
		t.Fatal("no CSRF token on /register")
	}
	res, err := client.PostForm(base+"/register", url.Values{"_csrf": {token[1]}, "name": {"Boot Co"},
		"website": {""}, "username": {"bootco"}, "email": {"boss@boot.example"},
		"password": {"long enough password"}, "password_repeat": {"long enough password"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/dash" {
		t.Fatalf("register: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	if s, body := get("/dash"); s != 200 || !strings.Contains(body, "Boot Co") {
		t.Fatalf("/dash = %d", s)
	}
	for _, f := range []string{"catalog.db", "sessions.db", "session.secret", "tenantdesk-bootco.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("DATA_DIR lacks %s: %v", f, err)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after shutdown")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
}

// logSignal is a slog.Handler that tells the test when the server logs a message: the
// boot tests wait on "tenantdesk serving" (the listener is then accepting) instead of polling
// against a clock. Everything is also written to out.
type logSignal struct {
	slog.Handler
	mu    *sync.Mutex
	seen  map[string]chan string // message → receives its "addr" attribute, once
	wants map[string]bool
}

// newLogSignal returns a logger writing text to out and a function that waits for msg.
func newLogSignal(out io.Writer, msgs ...string) (*slog.Logger, func(t *testing.T, msg string) string) {
	ls := logSignal{Handler: slog.NewTextHandler(out, nil), mu: &sync.Mutex{}, seen: map[string]chan string{},
		wants: map[string]bool{}}
	for _, m := range msgs {
		ls.seen[m] = make(chan string, 1)
		ls.wants[m] = true
	}
	wait := func(t *testing.T, msg string) string {
		t.Helper()
		// Generous: a failsafe against a server that never starts, not a timing assertion.
		select {
		case addr := <-ls.seen[msg]:
			return addr
		case <-time.After(2 * time.Minute):
			t.Fatalf("the server never logged %q", msg)
			return ""
		}
	}
	return slog.New(ls), wait
}

func (l logSignal) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	if l.wants[r.Message] {
		delete(l.wants, r.Message)
		addr := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "addr" {
				addr = a.Value.String()
			}
			return true
		})
		l.seen[r.Message] <- addr
	}
	l.mu.Unlock()
	return l.Handler.Handle(ctx, r)
}

func (l logSignal) WithAttrs(attrs []slog.Attr) slog.Handler {
	l.Handler = l.Handler.WithAttrs(attrs)
	return l
}

func (l logSignal) WithGroup(name string) slog.Handler {
	l.Handler = l.Handler.WithGroup(name)
	return l
}

func TestConfigFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cfg, err := configFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":3000" || cfg.DataDir != "./data" || cfg.AppName != "tenantdesk" || cfg.TenantBackend != "local" || cfg.MaxOpenTenants < 16 ||
		cfg.RateLimit != 20 || cfg.LoginFailureLimit != 10 || cfg.MaxAttachmentMB != 10 || cfg.AttachmentQuotaMB != 1024 {
		t.Fatalf("defaults = %+v", cfg)
	}
	cfg, err = configFromEnv(env(map[string]string{"MAX_ATTACHMENT_MB": "25", "ATTACHMENT_QUOTA_MB": "0"}))
	if err != nil || cfg.MaxAttachmentMB != 25 || cfg.AttachmentQuotaMB != 0 {
		t.Fatalf("MAX_ATTACHMENT_MB/ATTACHMENT_QUOTA_MB: %+v, %v", cfg, err)
	}
	cfg, err = configFromEnv(env(map[string]string{"PORT": "8080", "ADDR": "127.0.0.1:9000", "MAX_OPEN_TENANTS": "7"}))
	if err != nil || cfg.Addr != "127.0.0.1:9000" || cfg.MaxOpenTenants != 7 {
		t.Fatalf("ADDR/MAX_OPEN_TENANTS: %+v, %v", cfg, err)
	}
	for name, kv := range map[string]map[string]string{
		"backend":          {"TENANT_BACKEND": "postgres"},
		"app name":         {"APP_NAME": "../evil"},
		"app name upper":   {"APP_NAME": "Tenant"},
		"max open":         {"MAX_OPEN_TENANTS": "0"},
		"max open garbage": {"MAX_OPEN_TENANTS": "many"},
		"port":             {"PORT": "x:y:z"},
		"secure cookies":   {"SECURE_COOKIES": "perhaps"},
		"rate limit":       {"RATE_LIMIT": "-1"},
		"login failures":   {"LOGIN_FAILURE_LIMIT": "ten"},
		"trusted proxies":  {"TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"},
		"attachment size":  {"MAX_ATTACHMENT_MB": "0"},
		"attachment huge":  {"MAX_ATTACHMENT_MB": "5000"},
		"attachment unit":  {"MAX_ATTACHMENT_MB": "10MB"},
		"quota":            {"ATTACHMENT_QUOTA_MB": "-1"},
	} {
		if _, err := configFromEnv(env(kv)); err == nil {
			t.Errorf("%s: %v accepted", name, kv)
		}
	}
}

func TestSessionSecretIsStoredOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir}
	k1, err := sessionSecret(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := sessionSecret(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if string(k1) != string(k2) || len(k1) != 32 {
		t.Fatal("the stored secret gave a different key on the second start")
	}
	st, err := os.Stat(filepath.Join(dir, "session.secret"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("session.secret: %v, mode %v", err, st.Mode())
	}
	k3, err := sessionSecret(Config{DataDir: dir, SessionSecret: "a configured secret value"})
	if err != nil {
		t.Fatal(err)
	}
	if len(k3) != 32 || string(k3) == string(k1) {
		t.Fatal("SESSION_SECRET ignored")
	}
	if _, err := sessionSecret(Config{DataDir: dir, SessionSecret: "short"}); err == nil {
		t.Fatal("a 5-character SESSION_SECRET was accepted")
	}
}

// TestOneSQLiteEngine: with -tags libsqlite3 the session store (mattn/go-sqlite3) must run on
// the SQLite inside go-libsql, not on the system's libsqlite3 the binary also lists as needed:
// two engines on one process would be the link clash of two SQLite copies in another form.
func TestOneSQLiteEngine(t *testing.T) {
	app := openTestApp(t)
	var libsqlVersion, sessionVersion string
	if err := app.Catalog.DB().QueryRow("SELECT sqlite_version()").Scan(&libsqlVersion); err != nil {
		t.Fatal(err)
	}
	if err := app.sessions.Conn().QueryRow("SELECT sqlite_version()").Scan(&sessionVersion); err != nil {
		t.Fatal(err)
	}
	if sessionVersion != libsqlVersion {
		t.Fatalf("session store runs SQLite %s, go-libsql %s: two engines are linked", sessionVersion, libsqlVersion)
	}
	t.Logf("one engine: SQLite %s", libsqlVersion)
}

// TestServerSchedulesSnoozes: the server's desk records a snoozed ticket's wake-up in the
// catalog (the scheduler reads nothing else), so a snooze set on this server wakes even after
// a restart.
func TestServerSchedulesSnoozes(t *testing.T) {
	app := openTestApp(t)
	ctx := context.Background()
	org := &catalog.Organization{Name: "Acme", Username: "acme", Email: "owner@acme.example", PasswordHash: "x",
		DBName: "tenantdesk-acme"}
	if err := app.Desk.Register(ctx, org); err != nil {
		t.Fatal(err)
	}
	tk, _, err := app.Desk.OpenTicket(ctx, org, desk.AsPublic(), desk.NewTicket{CustomerName: "Carla",
		CustomerEmail: "carla@example.net", Query: "Call me back next week"})
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	if err := app.Desk.SetStatus(ctx, org, desk.AsOwner(org.Name), tk.ID, desk.StatusSnoozed, until); err != nil {
		t.Fatal(err)
	}
	due, err := app.Catalog.Due(ctx, until, 10)
	if err != nil || len(due) != 1 || due[0].OrgID != org.ID || !due[0].DueAt.Equal(until) {
		t.Fatalf("wake-ups due by %s: %+v %v", until, due, err)
	}
}

// openTestApp opens the server's App (as serve does, without listening) on a fresh DATA_DIR.
func openTestApp(t *testing.T) *App {
	t.Helper()
	cfg, err := configFromEnv(func(k string) string { return map[string]string{"DATA_DIR": t.TempDir()}[k] })
	if err != nil {
		t.Fatal(err)
	}
	app, err := open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	return app
}
