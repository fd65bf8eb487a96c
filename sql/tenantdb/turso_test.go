package tenantdb_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb/sqldtest"
)

const (
	platformToken = "platform-api-token"
	platformOrg   = "acme-corp"
)

// platform is a stand-in for the Turso Platform API, built from its documented request and
// response shapes: databases are namespaces on a real sqld, each with its own signing key, and
// their host names point at that sqld. fault, when set, may answer a request instead.
type platform struct {
	t   *testing.T
	s   *sqldtest.Server
	srv *httptest.Server

	mu     sync.Mutex
	keys   map[string]string // database → signing key seed
	groups map[string]string // group → location
	calls  []string          // "METHOD path" of every request
	fault  func(r *http.Request) (status int, body string, ok bool)
}

func newPlatform(t *testing.T, s *sqldtest.Server) *platform {
	p := &platform{t: t, s: s, keys: map[string]string{}, groups: map[string]string{"default": "fra"}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *platform) setFault(f func(r *http.Request) (int, string, bool)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

func (p *platform) count(call string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.calls {
		if c == call {
			n++
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (p *platform) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.calls = append(p.calls, r.Method+" "+r.URL.Path)
	fault := p.fault
	p.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+platformToken {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		return
	}
	if fault != nil {
		if status, body, ok := fault(r); ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(body))
			return
		}
	}
	prefix := "/v1/organizations/" + platformOrg + "/"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "organization not found"})
		return
	}
	parts := strings.Split(rest, "/")
	switch {
	case r.Method == http.MethodPost && rest == "groups":
		var in struct{ Name, Location string }
		json.NewDecoder(r.Body).Decode(&in)
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, ok := p.groups[in.Name]; ok {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "group already exists"})
			return
		}
		p.groups[in.Name] = in.Location
		writeJSON(w, http.StatusOK, map[string]any{"group": map[string]any{"name": in.Name, "primary": in.Location}})

	case r.Method == http.MethodPost && rest == "databases":
		var in struct{ Name, Group string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid body"})
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, ok := p.groups[in.Group]; !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "group not found"})
			return
		}
		if _, ok := p.keys[in.Name]; ok {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "database " + in.Name + " already exists"})
			return
		}
		secret, public, _ := tenantdb.KeyPair()
		pub, _ := decodeKey(public)
		if err := p.s.CreateNamespace(in.Name, pub); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		p.keys[in.Name] = secret
		writeJSON(w, http.StatusOK, map[string]any{"database": map[string]string{
			"DbId": rand.Text(), "Hostname": in.Name + ".localhost:" + p.s.Port(), "Name": in.Name}})

	case r.Method == http.MethodPost && len(parts) == 4 && parts[0] == "databases" && parts[2] == "auth" && parts[3] == "tokens":
		if r.URL.Query().Get("authorization") != "full-access" || r.URL.Query().Get("expiration") != "never" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unexpected token parameters " + r.URL.RawQuery})
			return
		}
		p.mu.Lock()
		secret, ok := p.keys[parts[1]]
		p.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "database not found"})
			return
		}
		jwt, _ := tenantdb.MintToken(secret, parts[1], 0)
		writeJSON(w, http.StatusOK, map[string]string{"jwt": jwt})

	case r.Method == http.MethodDelete && len(parts) == 2 && parts[0] == "databases":
		p.mu.Lock()
		_, ok := p.keys[parts[1]]
		delete(p.keys, parts[1])
		p.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "database not found"})
			return
		}
		if err := p.s.DeleteNamespace(parts[1]); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"database": parts[1]})

	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no route " + r.Method + " " + r.URL.Path})
	}
}

func (p *platform) exists(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.keys[name]
	return ok
}

func (p *platform) token(t *testing.T, name string) string {
	t.Helper()
	p.mu.Lock()
	secret := p.keys[name]
	p.mu.Unlock()
	tok, err := tenantdb.MintToken(secret, name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// newTurso returns the turso backend against the stand-in, with replicas under dir.
func newTurso(t *testing.T, p *platform, dir string, log *slog.Logger, group, location string) *tenantdb.Turso {
	t.Helper()
	b, err := tenantdb.NewTurso(tenantdb.TursoConfig{APIURL: p.srv.URL, APIToken: platformToken,
		Organization: platformOrg, Group: group, Location: location, DBScheme: "http",
		Deadline: 1500 * time.Millisecond, Backoff: 20 * time.Millisecond, Replicas: replicaConfig(dir, log), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTursoContractFlow runs every route for two organizations with TENANT_BACKEND=turso
// against the stand-in Platform API, with the catalog itself an embedded replica of a remote
// database (TURSO_DB_URL); each organization's rows are in its own database only.
func TestTursoContractFlow(t *testing.T) {
	s := sqldtest.Start(t)
	p := newPlatform(t, s)
	dir := t.TempDir()

	// The catalog on the server, opened as main does with TURSO_DB_URL and TURSO_DB_AUTH_TOKEN.
	catSecret, catPublic, _ := tenantdb.KeyPair()
	pub, _ := decodeKey(catPublic)
	if err := s.CreateNamespace("catalog", pub); err != nil {
		t.Fatal(err)
	}
	catToken, _ := tenantdb.MintToken(catSecret, "catalog", 0)
	log := slog.New(slog.NewTextHandler(&syncBuffer{}, nil))
	catDB, err := tenantdb.OpenReplica(context.Background(), tenantdb.ReplicaConfig{Timeout: remoteTimeout, MaxConns: 2, Log: log},
		filepath.Join(dir, "catalog-replica", "catalog.db"), s.DBURL("catalog"), catToken)
	if err != nil {
		t.Fatal(err)
	}
	defer catDB.Close()
	if _, err := schema.Up(catDB.SQL(), migCatalog); err != nil {
		t.Fatalf("catalog migrations through a replica: %v", err)
	}
	a := startAppOn(t, dir, catalog.New(catDB.SQL()), func(log *slog.Logger) tenantdb.Backend {
		return newTurso(t, p, dir, log, "tenants", "fra")
	})
	contractFlow(t, a, "acme")
	contractFlow(t, a, "globex")

	if p.count("POST /v1/organizations/"+platformOrg+"/groups") != 1 {
		t.Errorf("group creation calls: %v", p.calls)
	}
	for _, username := range []string{"acme", "globex"} {
		other := map[string]string{"acme": "globex", "globex": "acme"}[username]
		o, err := a.cat.ByUsername(context.Background(), username)
		if err != nil {
			t.Fatal(err)
		}
		if o.DBBackend != "turso" || o.DBURL != "http://"+o.DBName+".localhost:"+s.Port() || !strings.HasPrefix(o.DBSecret, "v1:") {
			t.Errorf("%s's catalog row: %q %q %.6q", username, o.DBBackend, o.DBURL, o.DBSecret)
		}
		if jwt, _ := testSealer(t).Open(o.DBName, o.DBSecret); strings.Count(jwt, ".") != 2 {
			t.Errorf("%s's sealed credential does not open to a JWT", username)
		}
		bodies := strings.Join(column(t, s, o.DBName, p.token(t, o.DBName), "SELECT body FROM messages"), "\n")
		if !strings.Contains(bodies, username+" agent: unplug it") || strings.Contains(bodies, other) {
			t.Errorf("%s's database on the primary holds:\n%s", username, bodies)
		}
	}
	// The catalog rows are on the catalog's primary, not only in the local copy.
	names := column(t, s, "catalog", catToken, "SELECT username FROM organizations ORDER BY username")
	if strings.Join(names, ",") != "acme,globex" {
		t.Errorf("organizations on the catalog's primary = %v", names)
	}
}

// TestTursoRegistrationErrors: 409 and 422 from the Platform API are a taken username; 429 is
// retried and the registration succeeds; a 500 while minting the token deletes the database
// again and leaves no catalog row, Turso's message goes to the log and never to the page, and
// the same username registers once the API is healthy.
func TestTursoRegistrationErrors(t *testing.T) {
	s := sqldtest.Start(t)
	p := newPlatform(t, s)
	dir := t.TempDir()
	a := startApp(t, dir, func(log *slog.Logger) tenantdb.Backend { return newTurso(t, p, dir, log, "default", "") })
	ctx := context.Background()
	createPath := "/v1/organizations/" + platformOrg + "/databases"

	for _, status := range []int{http.StatusConflict, http.StatusUnprocessableEntity} {
		p.setFault(func(r *http.Request) (int, string, bool) {
			if r.Method == http.MethodPost && r.URL.Path == createPath {
				return status, `{"error":"database already exists: turso-internal-detail"}`, true
			}
			return 0, "", false
		})
		_, r := a.registerForm("taken")
		wantStatus(t, r, http.StatusConflict)
		if !r.has("This username is taken.") || r.has("turso-internal-detail") {
			t.Errorf("%d: the page does not say the username is taken, or shows Turso's message:\n%.2000s", status, r.body)
		}
		if _, err := a.cat.ByUsername(ctx, "taken"); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("%d: catalog row for a taken name: %v", status, err)
		}
	}

	// 429 (twice, once with Retry-After), then success.
	var mu sync.Mutex
	limited := 0
	p.setFault(func(r *http.Request) (int, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost && r.URL.Path == createPath && limited < 2 {
			limited++
			return http.StatusTooManyRequests, `{"error":"rate limited"}`, true
		}
		return 0, "", false
	})
	before := p.count("POST " + createPath)
	a.register("patient")
	if got := p.count("POST " + createPath); got-before != 3 {
		t.Errorf("create database calls for a 429, 429, 200 sequence: %d, want 3", got-before)
	}
	if !p.exists("tenantdesk-patient") {
		t.Error("the database of a registration after 429s does not exist")
	}

	// 500 while minting the token, every time: the created database is deleted again.
	p.setFault(func(r *http.Request) (int, string, bool) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/auth/tokens") {
			return http.StatusInternalServerError, `{"error":"token service exploded: turso-internal-detail"}`, true
		}
		return 0, "", false
	})
	start := time.Now()
	_, r := a.registerForm("unlucky")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the failing registration took %v, want within the API deadline (1.5 s)", took)
	}
	if r.has("turso-internal-detail") || r.has("exploded") {
		t.Errorf("the page shows Turso's error message:\n%.2000s", r.body)
	}
	if !strings.Contains(a.logs.String(), "token service exploded") {
		t.Error("Turso's error message is not in the log")
	}
	if p.exists("tenantdesk-unlucky") || p.count("DELETE "+createPath+"/tenantdesk-unlucky") == 0 {
		t.Errorf("the half-made database was not deleted (calls %v)", p.calls)
	}
	if _, err := s.Pipeline("tenantdesk-unlucky", "", "SELECT 1"); !isStatus(err, http.StatusNotFound) {
		t.Errorf("the namespace of the failed registration: %v, want gone", err)
	}
	if _, err := a.cat.ByUsername(ctx, "unlucky"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("catalog row after a failed registration: %v", err)
	}

	// Healthy again: the same username registers.
	p.setFault(nil)
	contractFlow(t, a, "unlucky")

	// A deletion goes through the API and removes the database.
	o, err := a.cat.ByUsername(ctx, "patient")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.reg.Delete(ctx, o); err != nil {
		t.Fatal(err)
	}
	if p.exists("tenantdesk-patient") {
		t.Error("Delete left the Turso database")
	}
}

func decodeKey(public string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(public)
}
