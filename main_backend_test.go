package main

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb/sqldtest"
)

// TestConfigRemoteBackends: the variables of the sqld and turso backends and of the catalog on
// Turso are read, defaulted and checked before anything opens.
func TestConfigRemoteBackends(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cfg, err := configFromEnv(env(map[string]string{"TENANT_BACKEND": "sqld",
		"SQLD_ADMIN_URL": "http://127.0.0.1:9090", "SQLD_ADMIN_KEY": "k", "SQLD_DB_URL": "http://{name}.db:8080",
		"SYNC_INTERVAL": "750ms"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SqldAdminURL != "http://127.0.0.1:9090" || cfg.SqldAdminKey != "k" || cfg.SqldDBURL != "http://{name}.db:8080" ||
		cfg.SyncInterval != 750*time.Millisecond || cfg.MaxOpenTenants > 64 {
		t.Errorf("sqld config = %+v", cfg)
	}
	cfg, err = configFromEnv(env(map[string]string{"TENANT_BACKEND": "turso", "TURSO_API_TOKEN": "t",
		"APP_ORGANIZATION": "org", "TURSO_DB_URL": "libsql://catalog-org.turso.io", "TURSO_DB_AUTH_TOKEN": "c"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TursoAPIURL != "https://api.turso.tech" || cfg.AppGroup != "default" || cfg.SyncInterval != 3*time.Second ||
		cfg.TursoDBURL != "libsql://catalog-org.turso.io" || cfg.TursoDBAuthToken != "c" {
		t.Errorf("turso config = %+v", cfg)
	}
	for name, kv := range map[string]map[string]string{
		"sqld without URLs":     {"TENANT_BACKEND": "sqld"},
		"sqld URL without name": {"TENANT_BACKEND": "sqld", "SQLD_ADMIN_URL": "http://a:1", "SQLD_DB_URL": "http://db:8080"},
		"turso without token":   {"TENANT_BACKEND": "turso", "APP_ORGANIZATION": "org"},
		"turso without org":     {"TENANT_BACKEND": "turso", "TURSO_API_TOKEN": "t"},
		"sync interval":         {"SYNC_INTERVAL": "often"},
		"sync interval tiny":    {"SYNC_INTERVAL": "1ms"},
		"catalog token alone":   {"TURSO_DB_AUTH_TOKEN": "c"},
	} {
		if _, err := configFromEnv(env(kv)); err == nil {
			t.Errorf("%s: %v accepted", name, kv)
		}
	}
}

// TestServeOnSqld boots the real server as the environment configures it: tenants on an sqld
// (TENANT_BACKEND=sqld) and the catalog an embedded replica of a database on the same server
// (TURSO_DB_URL, TURSO_DB_AUTH_TOKEN). A registration through real HTTP lands in its own
// namespace and in the remote catalog.
func TestServeOnSqld(t *testing.T) {
	s := sqldtest.Start(t)
	secret, public, err := tenantdb.KeyPair()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.RawURLEncoding.DecodeString(public)
	if err := s.CreateNamespace("catalog", pub); err != nil {
		t.Fatal(err)
	}
	catToken, _ := tenantdb.MintToken(secret, "catalog", 0)
	dir := t.TempDir()
	cfg, err := configFromEnv(func(k string) string {
		return map[string]string{"DATA_DIR": dir, "PORT": "0", "TENANT_BACKEND": "sqld",
			"SQLD_ADMIN_URL": s.AdminURL(), "SQLD_ADMIN_KEY": s.AdminKey, "SQLD_DB_URL": s.DBURLTemplate(),
			"SYNC_INTERVAL": "500ms", "TURSO_DB_URL": s.DBURL("catalog"), "TURSO_DB_AUTH_TOKEN": catToken,
			"SESSION_SECRET": "a session secret for the test"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg.bcryptCost = bcrypt.MinCost // the dummy hash at the real cost takes seconds under -race
	log, waitLog := newLogSignal(io.Discard, "tenantdesk serving")
	go func() { done <- serve(ctx, cfg, log, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		res, err := client.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	waitLog(t, "tenantdesk serving")
	if st, _ := get("/readyz"); st != http.StatusOK {
		t.Fatalf("/readyz = %d", st)
	}
	_, body := get("/register")
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on /register")
	}
	res, err := client.PostForm(base+"/register", url.Values{"_csrf": {m[1]}, "name": {"Remote Co"},
		"website": {""}, "username": {"remoteco"}, "email": {"boss@remote.example"},
		"password": {"long enough password"}, "password_repeat": {"long enough password"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/dash" {
		t.Fatalf("register: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	if st, body := get("/dash"); st != http.StatusOK || !strings.Contains(body, "Remote Co") {
		t.Fatalf("/dash = %d", st)
	}
	rows, err := s.Pipeline("catalog", catToken, "SELECT db_backend, db_url, db_secret FROM organizations WHERE username = 'remoteco'")
	if err != nil || len(rows) != 1 {
		t.Fatalf("the organization is not in the remote catalog: %v %v", rows, err)
	}
	if rows[0][0].String() != "sqld" || rows[0][1].String() != s.DBURL("tenantdesk-remoteco") || !strings.HasPrefix(rows[0][2].String(), "v1:") {
		t.Errorf("catalog row = %v", rows[0])
	}
	if _, err := s.Pipeline("tenantdesk-remoteco", "", "SELECT 1"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("the tenant namespace answers without its token (or is missing): %v", err)
	}
}
