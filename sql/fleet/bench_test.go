package fleet_test

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/fleet"
)

// BenchmarkMigrate migrates FLEET_BENCH_TENANTS local tenants (default 200) from the real
// schema to a test migration's next version (a column, a table, an index: a typical expand
// step) with the default concurrency (FLEET_BENCH_CONCURRENCY overrides it), and reports
// tenants per second and the process's peak resident memory during the run. The README's figure comes from
//
//	FLEET_BENCH_TENANTS=10000 go test -tags libsqlite3 -run '^$' -bench BenchmarkMigrate -benchtime 1x ./sql/fleet/
func BenchmarkMigrate(b *testing.B) {
	n := 200
	if v := os.Getenv("FLEET_BENCH_TENANTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("FLEET_BENCH_TENANTS=%q", v)
		}
	}
	concurrency, _ := strconv.Atoi(os.Getenv("FLEET_BENCH_CONCURRENCY"))
	migrations := os.DirFS(migrationsWith(b, next))
	for range b.N {
		b.StopTimer()
		e := newEnv(b, tenantMigrations)
		tmpl := e.register(b, "tmpl")
		e.fill(b, tmpl, 5)
		names := make([]string, 0, n-1)
		for i := range n - 1 {
			names = append(names, fmt.Sprintf("b%05d", i))
		}
		e.clone(b, tmpl, names)
		f := e.withMigrations(b, migrations)
		resetPeakRSS()
		b.StartTimer()

		start := time.Now()
		res, err := f.Migrate(context.Background(), fleet.MigrateOptions{Concurrency: concurrency})
		elapsed := time.Since(start)

		b.StopTimer()
		if err != nil || res.Failed() || res.Migrated != n {
			b.Fatalf("migrate: %+v %v", res, err)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "tenants/s")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(n), "tenants")
		b.ReportMetric(float64(max(concurrency, 0)), "concurrency(0=default)")
	}
}

// BenchmarkMigrateTeamWorkflow migrates FLEET_BENCH_TENANTS local tenants (default 200) written
// by the first schema — 30 tickets each, a third waiting, a third engaged with a few messages,
// a third closed and rated — through the real second migration (the team workflow's table
// rebuild) and no further, and reports tenants per second. For more tenants:
//
//	FLEET_BENCH_TENANTS=10000 go test -tags libsqlite3 -run '^$' -bench BenchmarkMigrateTeamWorkflow -benchtime 1x ./sql/fleet/
func BenchmarkMigrateTeamWorkflow(b *testing.B) {
	n := 200
	if v := os.Getenv("FLEET_BENCH_TENANTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("FLEET_BENCH_TENANTS=%q", v)
		}
	}
	v1 := migrationsOf(b, "0001_helpdesk.up.sql", "0001_helpdesk.down.sql")
	// The later migrations are not this target's work: each has its own (BenchmarkMigrateReports,
	// the search index's reindex).
	v2 := migrationsOf(b, "0001_helpdesk.up.sql", "0001_helpdesk.down.sql", "0002_team.up.sql")
	for range b.N {
		b.StopTimer()
		e := newEnv(b, v1)
		tmpl := e.register(b, "tmpl")
		if tmpl.SchemaVersion != 1 {
			b.Fatalf("template at version %d, want 1", tmpl.SchemaVersion)
		}
		db := e.openTenant(b, tmpl.DBName)
		for _, q := range []string{
			`INSERT INTO agents (full_name, email, password_hash, created_at, updated_at) VALUES
				('Ann', 'ann@acme.example', 'h', 1, 1), ('Bob', 'bob@acme.example', 'h', 1, 1)`,
			`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30)
			 INSERT INTO tickets (customer_name, customer_email, query, token_hash, status, rating, created_at, updated_at, closed_at)
			 SELECT 'Customer ' || i, 'c' || (i % 12) || '@example.com', 'Question ' || i, randomblob(32),
			   CASE i % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'engaged' ELSE 'closed' END,
			   CASE WHEN i % 3 = 2 THEN 1 + i % 5 END, 1700000000 + i, 1700000000 + i,
			   CASE WHEN i % 3 = 2 THEN 1700003600 + i END FROM n`,
			`INSERT INTO conversations (ticket_id, agent_id, created_at) SELECT id, 1 + id % 2, created_at + 60 FROM tickets WHERE status <> 'open'`,
			`WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 4)
			 INSERT INTO messages (conversation_id, sender, agent_id, body, created_at)
			 SELECT v.id, CASE WHEN k.j % 2 = 0 THEN 'customer' ELSE 'agent' END, CASE WHEN k.j % 2 = 1 THEN v.agent_id END,
			   'Message ' || k.j || ' of a conversation, of ordinary length.', v.created_at + k.j
			 FROM conversations v, k ORDER BY v.id, k.j`,
		} {
			if _, err := db.Exec(q); err != nil {
				b.Fatal(err)
			}
		}
		db.Close()
		names := make([]string, 0, n-1)
		for i := range n - 1 {
			names = append(names, fmt.Sprintf("b%05d", i))
		}
		e.clone(b, tmpl, names)
		f := e.withMigrations(b, v2)
		resetPeakRSS()
		b.StartTimer()

		start := time.Now()
		res, err := f.Migrate(context.Background(), fleet.MigrateOptions{})
		elapsed := time.Since(start)

		b.StopTimer()
		if err != nil || res.Failed() || res.Migrated != n {
			b.Fatalf("migrate: %+v %v", res, err)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "tenants/s")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(n), "tenants")
	}
}

// migrationsOf is the tenant migration files named.
func migrationsOf(b *testing.B, names ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for _, name := range names {
		body, err := fs.ReadFile(tenantMigrations, name)
		if err != nil {
			b.Fatal(err)
		}
		m[name] = &fstest.MapFile{Data: body}
	}
	return m
}

// resetPeakRSS resets the kernel's high-water mark of this process's resident memory (Linux),
// so that peakRSS measures the migration, not the setup.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns VmHWM, the peak resident memory since resetPeakRSS, in bytes (0 elsewhere).
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
