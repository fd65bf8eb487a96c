package tenantdb_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/handlers"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb/sqldtest"
)

// TestReplicaSyncMetrics: the server's /metrics report, per backend, the frames its replicas
// pulled from a real sqld, the syncs that failed once the server stopped, how many replicas are
// open and how long the most lagging one has gone without a successful sync.
func TestReplicaSyncMetrics(t *testing.T) {
	s := sqldtest.Start(t)
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cat := openCatalog(t)
	reg, err := tenantdb.New(tenantdb.Config{Backend: newSqld(t, s, dir, log), Catalog: cat, Migrations: migTenant,
		MaxOpen: 4, Log: log, Sealer: testSealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	dk := desk.New(desk.Config{Registry: reg, Log: log})
	defer dk.Close()
	srv, err := handlers.New(handlers.Config{BcryptCost: bcrypt.MinCost, CookieSecret: bytes.Repeat([]byte{7}, 32)},
		handlers.Deps{Catalog: cat, Desk: dk, Views: os.DirFS("../../views"), Assets: os.DirFS("../../assets"), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	metric := func(name string) float64 {
		rec := httptest.NewRecorder()
		srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		m := regexp.MustCompile(`(?m)^` + name + `\{backend="sqld"\} (\S+)$`).FindStringSubmatch(rec.Body.String())
		if m == nil {
			t.Fatalf("no %s{backend=\"sqld\"} in:\n%s", name, rec.Body.String())
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if n := metric("tenantdesk_replica_open"); n != 0 {
		t.Fatalf("%v replicas open before any tenant", n)
	}

	h := mustAcquire(t, reg, mustRegister(t, reg, "acme"))
	defer h.Release()
	if n := metric("tenantdesk_replica_open"); n != 1 {
		t.Fatalf("%v replicas open, want 1", n)
	}
	// Another writer on the primary: the replica's periodic sync pulls its frames.
	o, token := primaryToken(t, cat, "acme")
	for i := range 3 {
		if _, err := s.Pipeline(o.DBName, token, "INSERT INTO agents (full_name, email, password_hash, created_at, updated_at) "+
			"VALUES ('Remote', ?, 'x', 0, 0)", "remote"+strconv.Itoa(i)+"@acme.example"); err != nil {
			t.Fatal(err)
		}
	}
	if !waitFor(10*time.Second, func() bool { return metric("tenantdesk_replica_frames_pulled_total") > 0 && agentCount(t, h) == 3 }) {
		t.Fatalf("frames pulled %v, agents on the replica %d: the primary's writes never arrived",
			metric("tenantdesk_replica_frames_pulled_total"), agentCount(t, h))
	}
	if n := metric("tenantdesk_replica_sync_errors_total"); n != 0 {
		t.Fatalf("%v sync errors while the primary answered", n)
	}
	if lag := metric("tenantdesk_replica_seconds_since_last_sync"); lag > 5 {
		t.Fatalf("%vs since the last sync while syncing every 300 ms", lag)
	}

	// The primary goes away: syncs fail, and the time since the last good one grows.
	s.Stop()
	if !waitFor(20*time.Second, func() bool {
		return metric("tenantdesk_replica_sync_errors_total") > 0 && metric("tenantdesk_replica_seconds_since_last_sync") >= 1
	}) {
		t.Fatalf("with the primary stopped: %v sync errors, %vs since the last sync",
			metric("tenantdesk_replica_sync_errors_total"), metric("tenantdesk_replica_seconds_since_last_sync"))
	}
}
