package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/fleet"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// TestMigrateFleetWithOneFailure migrates 200 local tenants with concurrency from the real
// schema to the test migration's version, one of them made to fail (two agents of the same
// name break its unique index): it is reported, the exit status is non-zero, it stays whole on
// the real version, the other 199 are current, and the next runs skip those and retry it until
// its data is fixed.
func TestMigrateFleetWithOneFailure(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, tenantMigrations)
	tmpl := e.register(t, "tmpl")
	var names []string
	for i := range 199 {
		names = append(names, fmt.Sprintf("t%03d", i))
	}
	e.clone(t, tmpl, names)
	bad := e.openTenant(t, "tenantdesk-t042")
	for _, email := range []string{"a@x.example", "b@x.example"} {
		if _, err := bad.Exec(`INSERT INTO agents (full_name, email, password_hash, created_at, updated_at)
			VALUES ('Same Name', ?, 'h', 1, 1)`, email); err != nil {
			t.Fatal(err)
		}
	}
	f2 := e.withMigrations(t, os.DirFS(migrationsWith(t, next)))

	// --dry-run lists every tenant and changes nothing.
	if err := e.main(f2, "", "migrate", "--dry-run"); err != nil {
		t.Fatalf("migrate --dry-run: %v\n%s%s", err, e.out, e.err)
	}
	if !strings.Contains(e.out.String(), "would migrate   200") || !strings.Contains(e.out.String(), fmt.Sprintf("t042: [%d]", testVersion)) {
		t.Fatalf("dry run output:\n%s", e.out)
	}
	if v := version(t, e.openTenant(t, "tenantdesk-t000")); v != realVersion {
		t.Fatalf("after --dry-run t000 is at version %d, want %d", v, realVersion)
	}

	// --tenant does one.
	if err := e.main(f2, "", "migrate", "--tenant", "tmpl"); err != nil {
		t.Fatalf("migrate --tenant tmpl: %v\n%s", err, e.out)
	}
	if got := e.byUsername(t, "tmpl").SchemaVersion; got != testVersion {
		t.Fatalf("tmpl recorded at %d, want %d", got, testVersion)
	}
	if got := e.byUsername(t, "t000").SchemaVersion; got != realVersion {
		t.Fatalf("--tenant tmpl touched t000 (recorded %d)", got)
	}

	e.out.b.Reset()
	start := time.Now()
	err := e.main(f2, "", "migrate", "--concurrency", "8")
	t.Logf("migrating 199 tenants took %s", time.Since(start))
	if !errors.Is(err, fleet.ErrFailed) {
		t.Fatalf("migrate with a failing tenant returned %v, want ErrFailed (non-zero exit)", err)
	}
	out := e.out.String()
	for _, want := range []string{"migrated        198", "failed          1", "t042 (tenantdesk-t042)", "UNIQUE constraint failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(e.err.String(), "t042") {
		t.Errorf("the failure was not reported while running:\n%s", e.err)
	}
	// Not a terminal: plain progress lines (done/total, failures, rate), the last one at the end.
	if !strings.Contains(e.err.String(), "migrate: 199/199 tenants, 1 failed, ") {
		t.Errorf("no final progress line:\n%s", e.err)
	}

	// Every tenant: the file is whole on the test version — or, for the failed one, whole on
	// the real version — and the catalog says the same.
	orgs, err := e.cat.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 200 {
		t.Fatalf("%d organizations, want 200", len(orgs))
	}
	for _, org := range orgs {
		db := e.openTenant(t, org.DBName)
		v := version(t, db)
		complete := hasColumn(t, db, "tickets", "test_flag") && hasObject(t, db, "test_labels") && hasObject(t, db, "agents_full_name")
		none := !hasColumn(t, db, "tickets", "test_flag") && !hasObject(t, db, "test_labels") && !hasObject(t, db, "agents_full_name")
		if org.Username == "t042" {
			if v != realVersion || !none {
				t.Fatalf("failed tenant: version %d, half-applied objects: %v", v, !none)
			}
			if org.SchemaVersion != realVersion || !strings.Contains(org.MigrationError, "UNIQUE") || org.MigratedAt.IsZero() {
				t.Fatalf("failed tenant recorded as version %d, error %q, at %v", org.SchemaVersion, org.MigrationError, org.MigratedAt)
			}
		} else {
			if v != testVersion || !complete {
				t.Fatalf("%s: version %d, complete %v", org.Username, v, complete)
			}
			if org.SchemaVersion != testVersion || org.MigrationError != "" {
				t.Fatalf("%s recorded as version %d, error %q", org.Username, org.SchemaVersion, org.MigrationError)
			}
		}
		db.Close()
	}

	// A second run resumes: the 199 current ones are skipped without being opened; the failed
	// one is retried (and fails again: its data is unchanged).
	res, err := f2.Migrate(ctx, fleet.MigrateOptions{Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != 199 || len(res.Failures) != 1 || res.Failures[0].Tenant != "t042" || res.Migrated != 0 {
		t.Fatalf("second run: %+v", res)
	}
	// Fixed data: the third run migrates it.
	if _, err := bad.Exec("UPDATE agents SET full_name = 'Other Name' WHERE email = 'b@x.example'"); err != nil {
		t.Fatal(err)
	}
	res, err = f2.Migrate(ctx, fleet.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Migrated != 1 || res.Failed() || res.Skipped != 199 {
		t.Fatalf("third run: %+v", res)
	}
	if org := e.byUsername(t, "t042"); org.SchemaVersion != testVersion || org.MigrationError != "" {
		t.Fatalf("t042 recorded as version %d, error %q", org.SchemaVersion, org.MigrationError)
	}
	if v := version(t, bad); v != testVersion {
		t.Fatalf("t042 at version %d", v)
	}
	locks, err := e.cat.MigrationLocks(ctx)
	if err != nil || len(locks) != 0 {
		t.Fatalf("migration locks left: %v %v", locks, err)
	}
}

// slowNext is a multi-statement test migration to testVersion that takes a while (a few
// hundred thousand rows and an index): long enough to kill a process in the middle of it, or
// to race two migrators.
func slowNext(rows int) map[string]string {
	return map[string]string{
		testMigration("filler", "up"): fmt.Sprintf(`CREATE TABLE filler (n INTEGER NOT NULL);
INSERT INTO filler (n) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %d) SELECT x FROM c;
CREATE INDEX filler_n ON filler (n);
ALTER TABLE tickets ADD COLUMN test_flag INTEGER NOT NULL DEFAULT 0;
`, rows),
	}
}

const (
	crashEnvDir        = "TENANTDESK_FLEET_CRASH_DIR"
	crashEnvMigrations = "TENANTDESK_FLEET_CRASH_MIGRATIONS"
)

// TestMigrateCrash kills a `migrate` process (this test binary, run as a child) with SIGKILL in
// the middle of migrating; afterwards every tenant is wholly on the old or wholly on the new
// version, never dirty, and the next run finishes the job at once (the dead process's locks are
// taken over without waiting for them to expire).
func TestMigrateCrash(t *testing.T) {
	if dir := os.Getenv(crashEnvDir); dir != "" {
		crashChild(t, dir, os.Getenv(crashEnvMigrations))
		return
	}
	const rows = 150000
	ctx := context.Background()
	e := newEnv(t, tenantMigrations)
	tmpl := e.register(t, "tmpl")
	var names []string
	for i := range 23 {
		names = append(names, fmt.Sprintf("c%03d", i))
	}
	e.clone(t, tmpl, names)
	migDir := migrationsWith(t, slowNext(rows))

	child := exec.Command(os.Args[0], "-test.run=^TestMigrateCrash$", "-test.count=1", "-test.v")
	child.Env = append(os.Environ(), crashEnvDir+"="+e.dir, crashEnvMigrations+"="+migDir)
	var childOut syncBuffer
	child.Stdout, child.Stderr = &childOut, &childOut
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once a few tenants are done: the others are then queued or half-way.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var done int
		if err := e.catDB.QueryRow("SELECT count(*) FROM organizations WHERE schema_version = ?", testVersion).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done >= 5 {
			break
		}
		if time.Now().After(deadline) {
			child.Process.Kill()
			child.Wait()
			t.Fatalf("the child migrated %d tenants in 60 s:\n%s", done, childOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	var locked int
	if err := e.catDB.QueryRow("SELECT count(*) FROM migration_locks").Scan(&locked); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the child with %d migration locks held", locked)

	onReal, onTest := 0, 0
	for _, name := range append(names, "tmpl") {
		db, err := sqlite.Open(filepath.Join(e.dir, "tenantdesk-"+name+".db"), 1)
		if err != nil {
			t.Fatal(err)
		}
		v := version(t, db) // fails on a dirty version
		var n int
		switch v {
		case realVersion:
			onReal++
			if hasObject(t, db, "filler") || hasColumn(t, db, "tickets", "test_flag") {
				t.Fatalf("%s: version %d with the test migration's objects", name, v)
			}
		case testVersion:
			onTest++
			if err := db.QueryRow("SELECT count(*) FROM filler").Scan(&n); err != nil || n != rows ||
				!hasObject(t, db, "filler_n") || !hasColumn(t, db, "tickets", "test_flag") {
				t.Fatalf("%s: version %d but filler has %d rows (%v), index %v", name, v, n, err, hasObject(t, db, "filler_n"))
			}
		default:
			t.Fatalf("%s: version %d", name, v)
		}
		var check string
		if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Fatalf("%s: integrity_check %q %v", name, check, err)
		}
		db.Close()
	}
	t.Logf("after the kill: %d tenants on version %d, %d on %d", onReal, realVersion, onTest, testVersion)
	if onReal == 0 {
		t.Fatalf("the child finished before it was killed:\n%s", childOut.String())
	}

	f2 := e.withMigrations(t, os.DirFS(migDir))
	start := time.Now()
	res, err := f2.Migrate(ctx, fleet.MigrateOptions{Concurrency: 4, LockWait: 5 * time.Second})
	if err != nil || res.Failed() {
		t.Fatalf("migrate after the crash: %+v %v", res, err)
	}
	t.Logf("the next run took %s: %+v", time.Since(start), res)
	orgs, err := e.cat.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 24 { // the template and its 23 clones
		t.Fatalf("the catalog lists %d tenants after the crash, want 24", len(orgs))
	}
	for _, org := range orgs {
		if org.SchemaVersion != testVersion || org.MigrationError != "" {
			t.Fatalf("%s recorded at %d, %q", org.Username, org.SchemaVersion, org.MigrationError)
		}
	}
}

// crashChild is the process TestMigrateCrash kills: `tenantdesk migrate` on dir.
func crashChild(t *testing.T, dir, migrations string) {
	e := openEnv(t, dir, os.DirFS(migrations))
	res, err := e.f.Migrate(context.Background(), fleet.MigrateOptions{Concurrency: 4})
	t.Logf("child finished before it was killed: %+v %v", res, err)
	time.Sleep(time.Minute)
}

// countingFS counts how often the test migration's up file is opened: once per migration
// actually run.
type countingFS struct {
	fs.FS
	ups atomic.Int64
}

func (c *countingFS) Open(name string) (fs.File, error) {
	if strings.HasPrefix(name, fmt.Sprintf("%04d_", testVersion)) && strings.HasSuffix(name, ".up.sql") {
		c.ups.Add(1)
	}
	return c.FS.Open(name)
}

func (c *countingFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(c.FS, name) }

// TestLazyMigrationAndCommandMigrateOnce races the server's lazy migration (a request's first
// Acquire) with `tenantdesk migrate --tenant` on the same tenant, each with its own Registry
// and database handle, as two processes would: the migration runs once.
func TestLazyMigrationAndCommandMigrateOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, tenantMigrations)
	for round := range 3 {
		org := e.register(t, fmt.Sprintf("race%d", round))
		counting := &countingFS{FS: os.DirFS(migrationsWith(t, slowNext(100000)))}
		server := e.registry(t, counting)
		cmd := e.withMigrations(t, counting)

		var wg sync.WaitGroup
		begin := make(chan struct{})
		var acquireErr error
		var res fleet.MigrateResult
		var migrateErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-begin
			h, err := server.Acquire(ctx, org)
			if err == nil {
				h.Release()
			}
			acquireErr = err
		}()
		go func() {
			defer wg.Done()
			<-begin
			res, migrateErr = cmd.Migrate(ctx, fleet.MigrateOptions{Tenant: org.Username})
		}()
		close(begin)
		wg.Wait()
		if acquireErr != nil || migrateErr != nil || res.Failed() {
			t.Fatalf("round %d: acquire %v, migrate %v %+v", round, acquireErr, migrateErr, res)
		}
		if n := counting.ups.Load(); n != 1 {
			t.Fatalf("round %d: the test migration ran %d times, want once", round, n)
		}
		db := e.openTenant(t, org.DBName)
		if v := version(t, db); v != testVersion {
			t.Fatalf("round %d: version %d, want %d", round, v, testVersion)
		}
		if got := e.byUsername(t, org.Username); got.SchemaVersion != testVersion || got.MigrationError != "" {
			t.Fatalf("round %d: recorded %d %q", round, got.SchemaVersion, got.MigrationError)
		}
		t.Logf("round %d: command migrated %d, found current %d", round, res.Migrated, res.Current)
	}
	locks, err := e.cat.MigrationLocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(locks) != 0 {
		t.Fatalf("locks left: %v", locks)
	}
}

// TestMigrationLock checks the catalog lock itself: exclusive across holders, a waiter gets
// it on release, a lock still held after the wait is a 503-kind LockedError, and a lock left
// by a dead process on this host is taken over at once (one on another host is not).
func TestMigrationLock(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, tenantMigrations)
	release, err := tenantdb.LockMigration(ctx, e.cat, "tenantdesk-x", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tenantdb.LockMigration(ctx, e.cat, "tenantdesk-x", 100*time.Millisecond)
	var le *tenantdb.LockedError
	if !errors.As(err, &le) || !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("second holder: %v, want a LockedError of kind Unavailable", err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := tenantdb.LockMigration(ctx, e.cat, "tenantdesk-x", 5*time.Second)
		if err == nil {
			r()
		}
		got <- err
	}()
	time.Sleep(150 * time.Millisecond)
	release()
	if err := <-got; err != nil {
		t.Fatalf("waiter after release: %v", err)
	}

	host, _ := os.Hostname()
	dead := strings.ReplaceAll(host, ":", "_") + ":" + strconv.Itoa(deadPID(t)) + ":1"
	future := time.Now().Add(time.Hour).Unix()
	if _, err := e.catDB.Exec("INSERT INTO migration_locks VALUES ('tenantdesk-dead', ?, ?), ('tenantdesk-far', 'elsewhere:1:1', ?)",
		dead, future, future); err != nil {
		t.Fatal(err)
	}
	r, err := tenantdb.LockMigration(ctx, e.cat, "tenantdesk-dead", 0)
	if err != nil {
		t.Fatalf("lock of a dead process on this host: %v", err)
	}
	r()
	if _, err := tenantdb.LockMigration(ctx, e.cat, "tenantdesk-far", 100*time.Millisecond); !errors.As(err, &le) || le.Holder != "elsewhere:1:1" {
		t.Fatalf("lock held on another host: %v", err)
	}
	// An expired lock is free.
	if _, err := e.catDB.Exec("UPDATE migration_locks SET expires_at = 1 WHERE db_name = 'tenantdesk-far'"); err != nil {
		t.Fatal(err)
	}
	if r, err := tenantdb.LockMigration(ctx, e.cat, "tenantdesk-far", 0); err != nil {
		t.Fatalf("expired lock: %v", err)
	} else {
		r()
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}
