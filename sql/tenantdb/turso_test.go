package tenantdb_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/fleet"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb/sqldtest"
)

// The Platform API's paths in the stand-in's organization.
const (
	databasesPath = "/v1/organizations/" + platformOrg + "/databases"
	groupsPath    = "/v1/organizations/" + platformOrg + "/groups"
)

// newTurso returns the turso backend against the stand-in, with replicas under dir; opts
// change its configuration.
func newTurso(t *testing.T, p *platform, dir string, log *slog.Logger, group, location string,
	opts ...func(*tenantdb.TursoConfig)) *tenantdb.Turso {
	t.Helper()
	cfg := tenantdb.TursoConfig{APIURL: p.api.URL, APIToken: platformToken,
		Organization: platformOrg, Group: group, Location: location, DBScheme: "http",
		Deadline: 1500 * time.Millisecond, Backoff: 20 * time.Millisecond, Replicas: replicaConfig(dir, log), Log: log}
	for _, o := range opts {
		o(&cfg)
	}
	b, err := tenantdb.NewTurso(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tursoApp starts the HTTP server on the turso backend against p, with group "default".
func tursoApp(t *testing.T, p *platform, dir string, app appOptions, opts ...func(*tenantdb.TursoConfig)) *app {
	t.Helper()
	return startAppWith(t, dir, nil, func(log *slog.Logger) tenantdb.Backend {
		return newTurso(t, p, dir, log, "default", "", opts...)
	}, app)
}

// pending returns the pending deletions the catalog records.
func pending(t *testing.T, cat *catalog.Store) []catalog.PendingDrop {
	t.Helper()
	list, err := cat.PendingDrops(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// sealedToken opens the database token the catalog holds for username.
func sealedToken(t *testing.T, cat *catalog.Store, username string) string {
	t.Helper()
	o, err := cat.ByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := testSealer(t).Open(o.DBName, o.DBSecret)
	if err != nil {
		t.Fatal(err)
	}
	return jwt
}

// TestTursoContractFlow runs the contract for two organizations with TENANT_BACKEND=turso
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
		return newTurso(t, p, dir, log, "tenants", "aws-eu-west-1")
	})
	contractFlow(t, a, "acme")
	contractFlow(t, a, "globex")

	if p.count("GET "+groupsPath+"/tenants") != 1 || p.count("POST "+groupsPath) != 1 {
		t.Errorf("group calls: %d GET, %d POST; want the group looked up and created once",
			p.count("GET "+groupsPath+"/tenants"), p.count("POST "+groupsPath))
	}
	for _, username := range []string{"acme", "globex"} {
		other := map[string]string{"acme": "globex", "globex": "acme"}[username]
		o, err := a.cat.ByUsername(context.Background(), username)
		if err != nil {
			t.Fatal(err)
		}
		if o.DBBackend != "turso" || o.DBURL != "http://"+p.host(o.DBName) || !strings.HasPrefix(o.DBSecret, "v1:") {
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
	a := tursoApp(t, p, dir, appOptions{})
	ctx := context.Background()

	for _, status := range []int{http.StatusConflict, http.StatusUnprocessableEntity} {
		p.setFault(func(r *http.Request) *reply {
			if r.Method == http.MethodPost && r.URL.Path == databasesPath {
				return &reply{status: status, body: `{"error":"database already exists: turso-internal-detail"}`}
			}
			return nil
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

	// 429 (twice, without Retry-After), then success.
	var mu sync.Mutex
	limited := 0
	p.setFault(func(r *http.Request) *reply {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost && r.URL.Path == databasesPath && limited < 2 {
			limited++
			return &reply{status: http.StatusTooManyRequests, body: `{"error":"rate limited"}`}
		}
		return nil
	})
	before := p.count("POST " + databasesPath)
	a.register("patient")
	if got := p.count("POST " + databasesPath); got-before != 3 {
		t.Errorf("create database calls for a 429, 429, 200 sequence: %d, want 3", got-before)
	}
	if !p.exists("tenantdesk-patient") {
		t.Error("the database of a registration after 429s does not exist")
	}

	// 500 while minting the token, every time: the created database is deleted again.
	p.setFault(func(r *http.Request) *reply {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/auth/tokens") {
			return &reply{status: http.StatusInternalServerError, body: `{"error":"token service exploded: turso-internal-detail"}`}
		}
		return nil
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
	if p.exists("tenantdesk-unlucky") || p.count("DELETE "+databasesPath+"/tenantdesk-unlucky") == 0 {
		t.Errorf("the half-made database was not deleted (calls %v)", p.calls)
	}
	if _, err := s.Pipeline("tenantdesk-unlucky", "", "SELECT 1"); !isStatus(err, http.StatusNotFound) {
		t.Errorf("the namespace of the failed registration: %v, want gone", err)
	}
	if _, err := a.cat.ByUsername(ctx, "unlucky"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("catalog row after a failed registration: %v", err)
	}
	if list := pending(t, a.cat); len(list) != 0 {
		t.Errorf("pending deletions after a clean undo: %+v", list)
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
	if p.exists("tenantdesk-patient") || len(pending(t, a.cat)) != 0 {
		t.Errorf("Delete left the Turso database (%v) or its record (%+v)", p.exists("tenantdesk-patient"), pending(t, a.cat))
	}
}

// TestTursoNameTakenLive (1): the live API answers a taken name with 400
// {"error":"database with same name already exists"}, not the documented 409; that is a taken
// username (409 and the form again), not "we could not create your helpdesk database", and it
// is not retried.
func TestTursoNameTakenLive(t *testing.T) {
	s := sqldtest.Start(t)
	p := newPlatform(t, s)
	a := tursoApp(t, p, t.TempDir(), appOptions{})
	p.createDirect(t, "tenantdesk-taken")

	_, r := a.registerForm("taken")
	wantStatus(t, r, http.StatusConflict)
	if !r.has("This username is taken.") || r.has("already exists") {
		t.Errorf("the page does not say the username is taken, or shows Turso's message:\n%.2000s", r.body)
	}
	if n := p.count("POST " + databasesPath); n != 1 {
		t.Errorf("create database calls: %d, want 1 (a taken name is not retried)", n)
	}
	if list := pending(t, a.cat); len(list) != 0 {
		t.Errorf("someone else's database recorded for deletion: %+v", list)
	}
	if !p.exists("tenantdesk-taken") {
		t.Error("the other database is gone")
	}
}

// TestTursoUsernameLimit (2): a database's host name begins with the label
// <APP_NAME>-<username>-<organization>, at most 63 characters. With a long APP_NAME the server
// allows only the usernames that fit: a longer one is refused on the form (422, saying the
// limit) before Turso is asked, and one that just fits registers.
func TestTursoUsernameLimit(t *testing.T) {
	s := sqldtest.Start(t)
	p := newPlatform(t, s)
	appName := "helpdesk-for-the-whole-company-x" // 32, the longest APP_NAME
	limit := min(30, tenantdb.TursoNameLimit(platformOrg)-len(appName)-1)
	if limit != 20 {
		t.Fatalf("limit = %d; the test expects 63 - len(%q) - len(%q) - 2 = 20", limit, platformOrg, appName)
	}
	a := tursoApp(t, p, t.TempDir(), appOptions{appName: appName, maxUsername: limit})

	_, r := a.registerForm(strings.Repeat("b", limit+1))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !r.has("Use 3–20 lower-case letters and digits only.") {
		t.Errorf("the form does not state the limit:\n%.3000s", r.body)
	}
	if n := p.count("POST " + databasesPath); n != 0 {
		t.Errorf("Turso was asked to create %d databases for a username that does not fit", n)
	}

	fits := strings.Repeat("c", limit)
	o := a.register(fits)
	wantStatus(t, o.b.get("/dash"), http.StatusOK)
	if name := appName + "-" + fits; len(name+"-"+platformOrg) != 63 || !p.exists(name) {
		t.Errorf("database %s (label of %d characters) exists: %v", name, len(name+"-"+platformOrg), p.exists(name))
	}

	// The backend refuses a name that does not fit without calling the API (operator imports
	// do not pass the form).
	b := newTurso(t, p, t.TempDir(), a.log, "default", "")
	before := p.count("POST " + databasesPath)
	if _, err := b.Provision(context.Background(), appName+"-"+strings.Repeat("d", limit+1)); err == nil {
		t.Error("Provision accepted a name longer than the host name allows")
	}
	if p.count("POST "+databasesPath) != before {
		t.Error("Provision called the API for a name that does not fit")
	}
}

// TestTursoAmbiguousCreate (3): when the creation's first attempt times out (or gets a 5xx)
// after Turso created the database, the retry finds the name taken — by that very attempt.
// That is "try again" (503), not "taken", whatever status the conflict has; the possibly
// orphaned database is recorded, and deleted before the name is registered again, or by the
// retries once its grace period is over.
func TestTursoAmbiguousCreate(t *testing.T) {
	s := sqldtest.Start(t)
	for _, taken := range []int{http.StatusBadRequest, http.StatusConflict} {
		t.Run(http.StatusText(taken), func(t *testing.T) {
			// Both runs share one sqld: their names differ by the status.
			retry, lost := "retry"+strconv.Itoa(taken), "lost"+strconv.Itoa(taken)
			p := newPlatform(t, s)
			p.takenStatus = taken
			a := tursoApp(t, p, t.TempDir(), appOptions{orphanGrace: 2 * time.Second},
				func(c *tenantdb.TursoConfig) {
					c.HTTPClient = &http.Client{Timeout: 500 * time.Millisecond}
					c.Deadline = 3 * time.Second
				})
			ctx := context.Background()

			// The first attempt creates the database, and its answer never arrives.
			var mu sync.Mutex
			hung := false
			p.setAfterCreate(func(string) (time.Duration, int) {
				mu.Lock()
				defer mu.Unlock()
				if hung {
					return 0, 0
				}
				hung = true
				return 3 * time.Second, 0
			})
			_, r := a.registerForm(retry)
			wantStatus(t, r, http.StatusServiceUnavailable)
			if r.has("This username is taken.") || !r.has("Please try again") {
				t.Errorf("the page after an ambiguous creation:\n%.2000s", r.body)
			}
			if n := p.count("POST " + databasesPath); n != 2 {
				t.Errorf("create calls: %d, want 2 (a time-out, then a conflict)", n)
			}
			list := pending(t, a.cat)
			if len(list) != 1 || list[0].DBName != "tenantdesk-"+retry || list[0].Reason != catalog.DropOrphan || list[0].Backend != "turso" {
				t.Fatalf("pending deletions after an ambiguous creation: %+v", list)
			}
			if !p.exists("tenantdesk-" + retry) {
				t.Fatal("the stand-in did not create the database")
			}

			// Trying again works: the orphan is deleted first, then the name is created anew.
			p.setAfterCreate(nil)
			o := a.register(retry)
			wantStatus(t, o.b.get("/dash"), http.StatusOK)
			if list := pending(t, a.cat); len(list) != 0 {
				t.Errorf("pending deletions after the registration went through: %+v", list)
			}
			if n := p.count("DELETE " + databasesPath + "/tenantdesk-" + retry); n != 1 {
				t.Errorf("DELETE calls for the orphan: %d, want 1", n)
			}

			// A 502 after the creation, every time: the orphan waits out its grace period, then
			// the retries delete it.
			p.setAfterCreate(func(string) (time.Duration, int) { return 0, http.StatusBadGateway })
			_, r = a.registerForm(lost)
			wantStatus(t, r, http.StatusServiceUnavailable)
			if r.has("This username is taken.") {
				t.Errorf("a 502 then a conflict is reported as a taken username:\n%.2000s", r.body)
			}
			if rep, err := a.reg.RetryDrops(ctx); err != nil || rep.Waiting != 1 || !p.exists("tenantdesk-"+lost) {
				t.Errorf("retries within the grace period: %+v, %v; database exists %v", rep, err, p.exists("tenantdesk-"+lost))
			}
			time.Sleep(2100 * time.Millisecond) // the catalog keeps whole seconds
			if rep, err := a.reg.RetryDrops(ctx); err != nil || rep.Done != 1 {
				t.Errorf("retries after the grace period: %+v, %v", rep, err)
			}
			if p.exists("tenantdesk-"+lost) || len(pending(t, a.cat)) != 0 {
				t.Errorf("orphan left: exists %v, pending %+v", p.exists("tenantdesk-"+lost), pending(t, a.cat))
			}
		})
	}
}

// TestTursoDeleteRetried (4): a deletion Turso does not confirm (5xx) leaves the database
// recorded in the catalog: the organization is gone at once, `tenants check` lists the
// database, a registration of the same name answers "try again" (not "taken") while the
// database is there, and the retries (at start and on a timer) delete it once Turso answers
// again; a 404 means it is gone already.
func TestTursoDeleteRetried(t *testing.T) {
	s := sqldtest.Start(t)
	p := newPlatform(t, s)
	a := tursoApp(t, p, t.TempDir(), appOptions{dropBackoff: 100 * time.Millisecond})
	ctx := context.Background()
	a.register("gone")
	org, err := a.cat.ByUsername(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	deleteFails := func(r *http.Request) *reply {
		if r.Method == http.MethodDelete {
			return &reply{status: http.StatusInternalServerError, body: `{"error":"delete exploded"}`}
		}
		return nil
	}
	p.setFault(deleteFails)
	if err := a.reg.Delete(ctx, org); err != nil {
		t.Fatalf("Delete with Turso failing: %v (the organization is gone either way)", err)
	}
	if _, err := a.cat.ByUsername(ctx, "gone"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("catalog row after Delete: %v", err)
	}
	if !p.exists("tenantdesk-gone") {
		t.Fatal("the stand-in deleted the database despite the fault")
	}
	list := pending(t, a.cat)
	if len(list) != 1 || list[0].DBName != "tenantdesk-gone" || list[0].Reason != catalog.DropDeleted ||
		list[0].Attempts != 1 || !strings.Contains(list[0].LastError, "delete exploded") {
		t.Fatalf("pending deletions: %+v", list)
	}

	// tenants check lists it.
	var out bytes.Buffer
	f := &fleet.Fleet{Catalog: a.cat, Tenants: a.reg, Backend: "turso", Out: &out}
	res, err := f.Check(ctx, fleet.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.PrintCheck(res)
	if len(res.Pending) != 1 || !strings.Contains(out.String(), "tenantdesk-gone (turso, deleted") ||
		!strings.Contains(out.String(), "delete exploded") {
		t.Errorf("tenants check output:\n%s", out.String())
	}

	// The name cannot be registered while its database is still there: "try again".
	_, r := a.registerForm("gone")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if r.has("This username is taken.") {
		t.Errorf("registration while the deletion is pending says taken:\n%.2000s", r.body)
	}

	// Turso answers again: the timer deletes it.
	p.setFault(nil)
	if err := a.reg.Start(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { return !p.exists("tenantdesk-gone") && len(pending(t, a.cat)) == 0 }) {
		t.Fatalf("the retries did not delete the database: exists %v, pending %+v", p.exists("tenantdesk-gone"), pending(t, a.cat))
	}
	a.register("gone")

	// A database already gone (404) is a confirmed deletion.
	a.register("vanish")
	org, err = a.cat.ByUsername(ctx, "vanish")
	if err != nil {
		t.Fatal(err)
	}
	p.setFault(deleteFails)
	if err := a.reg.Delete(ctx, org); err != nil {
		t.Fatal(err)
	}
	p.deleteDirect(t, "tenantdesk-vanish")
	p.setFault(nil)
	if !waitFor(10*time.Second, func() bool { return len(pending(t, a.cat)) == 0 }) {
		t.Errorf("a database Turso no longer has stays pending: %+v", pending(t, a.cat))
	}
}

// TestTursoGroupAtStart (5): at start the group is looked up; created when missing and a
// location is set; the start fails with Turso's own error when that creation fails (an
// invalid location, the starter plan's one-group limit), when the group is missing and no
// location is set, and when the API token is refused; a group elsewhere than
// APP_PRIMARY_LOCATION is used with a warning.
func TestTursoGroupAtStart(t *testing.T) {
	s := sqldtest.Start(t)
	for _, c := range []struct {
		name     string
		group    string
		location string
		setup    func(p *platform)
		token    string
		wantErr  string // "" for a start that succeeds
		wantLog  string
		created  bool
	}{
		{name: "missing, created", group: "tenants", location: "aws-eu-west-1", created: true},
		{name: "missing, no location", group: "tenants", wantErr: `group "tenants" does not exist`},
		{name: "invalid location", group: "tenants", location: "fra", wantErr: "invalid location: fra"},
		{name: "starter plan", group: "tenants", location: "aws-eu-west-1",
			setup: func(p *platform) { p.maxGroups = 1 }, wantErr: "your plan allows 1 group"},
		{name: "elsewhere", group: "tenants", location: "aws-eu-west-1",
			setup:   func(p *platform) { p.groups["tenants"] = "aws-us-east-1" },
			wantLog: "primary location is not APP_PRIMARY_LOCATION"},
		{name: "token refused", group: "default", token: "expired-token", wantErr: "401"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPlatform(t, s)
			if c.setup != nil {
				c.setup(p)
			}
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			b := newTurso(t, p, t.TempDir(), log, c.group, c.location, func(cfg *tenantdb.TursoConfig) {
				if c.token != "" {
					cfg.APIToken = c.token
				}
			})
			reg, err := tenantdb.New(tenantdb.Config{Backend: b, Catalog: openCatalog(t), Migrations: migTenant,
				MaxOpen: 2, Log: log, Sealer: testSealer(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			err = reg.Start(context.Background(), 0)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("Start: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("Start = %v, want an error with %q", err, c.wantErr)
			}
			if got := p.count("GET " + groupsPath + "/" + c.group); got != 1 {
				t.Errorf("group lookups: %d, want 1", got)
			}
			if got := p.count("POST "+groupsPath) == 1; got != (c.created || c.name == "invalid location" || c.name == "starter plan") {
				t.Errorf("group creation asked: %v", got)
			}
			p.mu.Lock()
			loc, exists := p.groups[c.group]
			p.mu.Unlock()
			if c.created && (!exists || loc != c.location) {
				t.Errorf("group %s: exists %v at %q, want it at %s", c.group, exists, loc, c.location)
			}
			if c.wantLog != "" && !strings.Contains(logs.String(), c.wantLog) {
				t.Errorf("log lacks %q:\n%s", c.wantLog, logs.String())
			}
		})
	}
}

// TestTursoTokenExpiry (6): tenant tokens expire (TokenTTL, here 10 s, sent as the documented
// expiration parameter); a replica is opened again with a new token at half the token's life,
// so the tenant keeps working past the first token's expiry, and the newest token is kept in
// the catalog for the next process.
func TestTursoTokenExpiry(t *testing.T) {
	// A registration runs all its migrations on the first token, so that token must outlive a
	// registration on a loaded machine: with -race on 2 busy cores one took up to 4.5 s, and a
	// token lives up to a second less than asked (exp is in whole seconds).
	const ttl = 10 * time.Second
	s := sqldtest.Start(t)
	p := newPlatform(t, s)
	a := tursoApp(t, p, t.TempDir(), appOptions{}, func(c *tenantdb.TursoConfig) { c.TokenTTL = ttl })
	o := a.register("tok")

	if minted := p.minted(); len(minted) != 1 || minted[0] != "10s" {
		t.Fatalf("token expirations asked for: %v, want [10s]", minted)
	}
	first := sealedToken(t, a.cat, "tok")
	firstExp := tokenExpiry(t, first)
	if firstExp.IsZero() || time.Until(firstExp) > ttl+time.Second {
		t.Fatalf("the stored token expires at %v, want within %v", firstExp, ttl)
	}

	wantStatus(t, o.b.get("/dash"), http.StatusOK)
	time.Sleep(time.Until(firstExp) + 1500*time.Millisecond)
	wantStatus(t, o.b.get("/dash"), http.StatusOK)
	a.openTicket("tok", "written after the first token expired")
	if n := len(p.minted()); n < 2 {
		t.Errorf("tokens minted: %d, want a renewal", n)
	}
	if renewed := sealedToken(t, a.cat, "tok"); renewed == first || !tokenExpiry(t, renewed).After(firstExp) {
		t.Errorf("the catalog still holds the first token (or an older one)")
	}
}

// TestTursoTokenRefused (6): after every token of a database is invalidated (turso db tokens
// invalidate), the open replica's next failing sync finds its token refused and the tenant
// writes again with a new one; a process that starts with an invalidated token in the catalog
// mints a new one once; and when no new token can be minted the tenant answers 503.
func TestTursoTokenRefused(t *testing.T) {
	s := sqldtest.Start(t)
	p := newPlatform(t, s)
	dir := t.TempDir()
	a := tursoApp(t, p, dir, appOptions{})
	o := a.register("tok")
	wantStatus(t, o.b.get("/dash"), http.StatusOK)
	write := func(a *app, query string) int {
		cust := a.browser()
		cust.get("/tok/open-ticket")
		return cust.post("/tok/open-ticket", form("customer_name", "Carla", "customer_email", "carla@example.net",
			"query", query)).status
	}
	if status := write(a, "before"); status != http.StatusSeeOther {
		t.Fatalf("write before the rotation: %d", status)
	}

	p.rotate(t, "tenantdesk-tok")
	if !waitFor(15*time.Second, func() bool { return write(a, "after the rotation") == http.StatusSeeOther }) {
		t.Fatalf("the tenant did not write again after its tokens were invalidated (refusals %d)", p.refusals())
	}
	if p.refusals() == 0 {
		t.Error("the edge refused no token after the rotation: the test proves nothing")
	}

	// A new process whose catalog token is invalidated mints one new token, once.
	a.close()
	p.rotate(t, "tenantdesk-tok")
	mintedBefore := len(p.minted())
	b := tursoApp(t, p, dir, appOptions{})
	if status := write(b, "after a restart"); status != http.StatusSeeOther {
		t.Fatalf("write after a restart with a refused token: %d", status)
	}
	if n := len(p.minted()) - mintedBefore; n != 1 {
		t.Errorf("tokens minted after a refused one: %d, want 1", n)
	}

	// Refused, and no new token to be had: the tenant is unavailable (503), quickly.
	b.close()
	p.rotate(t, "tenantdesk-tok")
	p.setFault(func(r *http.Request) *reply {
		if strings.HasSuffix(r.URL.Path, "/auth/tokens") {
			return &reply{status: http.StatusInternalServerError, body: `{"error":"token service down"}`}
		}
		return nil
	})
	c := tursoApp(t, p, dir, appOptions{})
	start := time.Now()
	if status := write(c, "with no token to be had"); status != http.StatusServiceUnavailable {
		t.Errorf("write with a refused token and no new one: %d, want 503", status)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("the unavailable tenant answered after %v", took)
	}
}

// TestTursoRetryAfter (7): a 429's Retry-After is honoured in seconds and as an HTTP date,
// and capped (MaxRetryAfter) when it asks for longer.
func TestTursoRetryAfter(t *testing.T) {
	s := sqldtest.Start(t)
	p := newPlatform(t, s)
	a := tursoApp(t, p, t.TempDir(), appOptions{}, func(c *tenantdb.TursoConfig) {
		c.Deadline = 6 * time.Second
		c.MaxRetryAfter = 1500 * time.Millisecond
	})
	for _, c := range []struct {
		username string
		header   func() string
		min, max time.Duration
	}{
		// The lower bounds are what matters (a backoff alone waits tens of milliseconds); the
		// upper ones leave room for a loaded machine.
		{"seconds", func() string { return seconds(1) }, 950 * time.Millisecond, 2500 * time.Millisecond},
		{"httpdate", func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }, 950 * time.Millisecond, 3000 * time.Millisecond},
		{"capped", func() string { return seconds(3600) }, 1450 * time.Millisecond, 3000 * time.Millisecond},
	} {
		var mu sync.Mutex
		sent := false
		p.setFault(func(r *http.Request) *reply {
			mu.Lock()
			defer mu.Unlock()
			if r.Method != http.MethodPost || r.URL.Path != databasesPath || sent {
				return nil
			}
			sent = true
			return &reply{status: http.StatusTooManyRequests, body: `{"error":"rate limited"}`,
				header: map[string]string{"Retry-After": c.header()}}
		})
		before := len(p.times("POST " + databasesPath))
		_, r := a.registerForm(c.username)
		if r.status != http.StatusSeeOther {
			t.Errorf("%s: registration after a 429: %d", c.username, r.status)
			continue
		}
		at := p.times("POST " + databasesPath)[before:]
		if len(at) != 2 {
			t.Errorf("%s: %d create calls, want 2", c.username, len(at))
			continue
		}
		if gap := at[1].Sub(at[0]); gap < c.min || gap > c.max {
			t.Errorf("%s: retried after %v, want between %v and %v", c.username, gap, c.min, c.max)
		}
	}
}

// TestTursoReadmeLocation (8): the README's Turso example uses a location the API lists.
func TestTursoReadmeLocation(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile(`(?:--location |APP_PRIMARY_LOCATION=)([a-z0-9-]+)`).FindAllStringSubmatch(string(b), -1)
	if len(found) == 0 {
		t.Fatal("the README shows no location")
	}
	for _, m := range found {
		if !standinLocations[m[1]] {
			t.Errorf("the README's example location %q is not one the Platform API lists", m[1])
		}
	}
}

func decodeKey(public string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(public)
}
