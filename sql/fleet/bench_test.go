package fleet_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/fleet"
)

// BenchmarkMigrate migrates FLEET_BENCH_TENANTS local tenants (default 200) from the real
// schema to a test v2 (a column, a table, an index: a typical expand step) with the default
// concurrency (FLEET_BENCH_CONCURRENCY overrides it), and reports tenants per second and the
// process's peak resident memory during the run. The README's figure comes from
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
	migrations := os.DirFS(migrationsWith(b, v2))
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
