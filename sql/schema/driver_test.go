package schema

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// newMigrate returns a golang-migrate instance on our driver, for the operations the package
// API does not offer (Force, Down, Drop).
func newMigrate(t *testing.T, drv database.Driver, migrations fstest.MapFS) *migrate.Migrate {
	t.Helper()
	src, err := iofs.New(migrations, ".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "libsql", drv)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDriverVersionTable(t *testing.T) {
	db := openDB(t)
	if ok, err := tableExists(context.Background(), db, versionTable); err != nil || ok {
		t.Fatalf("version table before WithInstance: %v, %v", ok, err)
	}
	drv, err := WithInstance(db)
	if err != nil {
		t.Fatal(err)
	}
	if v, dirty, err := drv.Version(); v != database.NilVersion || dirty || err != nil {
		t.Errorf("Version on a fresh db = %d, %v, %v", v, dirty, err)
	}
	if ver, dirty, n := versionRow(t, db); ver != -1 || dirty != 0 || n != 1 {
		t.Errorf("schema_migrations = (%d, %d) in %d rows", ver, dirty, n)
	}
	// A second driver finds the table and adds nothing.
	if _, err := WithInstance(db); err != nil {
		t.Fatal(err)
	}
	if _, _, n := versionRow(t, db); n != 1 {
		t.Errorf("schema_migrations has %d rows after a second WithInstance", n)
	}
	if _, err := drv.Open("libsql://x"); err == nil {
		t.Error("Open(url) did not fail")
	}
	if err := drv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(context.Background(), "SELECT 1 WHERE 0"); err != nil {
		t.Fatalf("Close closed the caller's db: %v", err)
	}
	// With the table gone, Version reports no version; with the db closed, an error.
	if _, err := db.ExecContext(context.Background(), "DROP TABLE schema_migrations"); err != nil {
		t.Fatal(err)
	}
	if v, _, err := drv.Version(); v != database.NilVersion || err != nil {
		t.Errorf("Version without the table = %d, %v", v, err)
	}
	db.Close()
	if _, _, err := drv.Version(); err == nil {
		t.Error("Version on a closed db: no error")
	} else {
		t.Logf("Version on a closed db: %v", err)
	}
}

func TestDriverSetVersionProtocol(t *testing.T) {
	db := openDB(t)
	drv, err := WithInstance(db)
	if err != nil {
		t.Fatal(err)
	}
	// SetVersion(v, true) writes nothing; a crash before Run leaves the old version.
	if err := drv.SetVersion(5, true); err != nil {
		t.Fatal(err)
	}
	if ver, dirty, _ := versionRow(t, db); ver != -1 || dirty != 0 {
		t.Errorf("after SetVersion(5, true): (%d, %d), want (-1, 0)", ver, dirty)
	}
	// Run commits the version with the statements.
	if err := drv.Run(strings.NewReader("CREATE TABLE a (x); CREATE TABLE b (y);")); err != nil {
		t.Fatal(err)
	}
	if ver, dirty, _ := versionRow(t, db); ver != 5 || dirty != 0 {
		t.Errorf("after Run: (%d, %d), want (5, 0)", ver, dirty)
	}
	before := totalChanges(t, db)
	if err := drv.SetVersion(5, false); err != nil {
		t.Fatal(err)
	}
	if totalChanges(t, db) != before {
		t.Error("SetVersion(v, false) after Run committed v wrote again")
	}
	// SetVersion(v, false) on its own (migrate.Force) writes.
	if err := drv.SetVersion(7, false); err != nil {
		t.Fatal(err)
	}
	if v, dirty, err := drv.Version(); v != 7 || dirty || err != nil {
		t.Errorf("Version after SetVersion(7, false) = %d, %v, %v", v, dirty, err)
	}
	if err := drv.SetVersion(-1, false); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := drv.Version(); v != database.NilVersion {
		t.Errorf("Version after SetVersion(-1, false) = %d", v)
	}
	if err := drv.SetVersion(-2, false); err == nil {
		t.Error("SetVersion(-2) accepted")
	}
}

func TestDriverLock(t *testing.T) {
	db := openDB(t)
	d1, err := WithInstance(db)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := WithInstance(db)
	if err != nil {
		t.Fatal(err)
	}
	other, err := WithInstance(openDB(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := d1.Unlock(); !errors.Is(err, database.ErrNotLocked) {
		t.Errorf("Unlock before Lock = %v, want ErrNotLocked", err)
	}
	if err := d1.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := d1.Lock(); !errors.Is(err, database.ErrLocked) {
		t.Errorf("second Lock by the same driver = %v, want ErrLocked", err)
	}
	if err := d2.Lock(); !errors.Is(err, database.ErrLocked) {
		t.Errorf("Lock by another driver on the same db = %v, want ErrLocked", err)
	}
	if err := d2.Unlock(); !errors.Is(err, database.ErrNotLocked) {
		t.Errorf("Unlock by a driver that holds no lock = %v, want ErrNotLocked", err)
	}
	if err := other.Lock(); err != nil {
		t.Errorf("Lock on another db = %v", err)
	}
	other.Unlock()
	if err := d1.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := d2.Lock(); err != nil {
		t.Errorf("Lock after the holder unlocked = %v", err)
	}
	d2.Close() // releases the lock
	if err := d1.Lock(); err != nil {
		t.Errorf("Lock after the holder closed = %v", err)
	}
	d1.Unlock()
	dbLocks.Lock()
	n := len(dbLocks.m)
	dbLocks.Unlock()
	if n != 0 {
		t.Errorf("%d lock entries left behind", n)
	}
}

func TestDriverForceDownDrop(t *testing.T) {
	migrations := fstest.MapFS{
		"0001_a.up.sql":   {Data: []byte("CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE INDEX a_id ON a (id);")},
		"0001_a.down.sql": {Data: []byte("DROP INDEX a_id; DROP TABLE a;")},
		"0002_b.up.sql":   {Data: []byte("CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id)); CREATE VIEW bv AS SELECT * FROM b;")},
		"0002_b.down.sql": {Data: []byte("DROP VIEW bv; DROP TABLE b;")},
	}
	db := openDB(t)
	drv, err := WithInstance(db)
	if err != nil {
		t.Fatal(err)
	}
	m := newMigrate(t, drv, migrations)
	if err := m.Up(); err != nil {
		t.Fatal(err)
	}
	if got, want := objects(t, db), []string{"index a_id", "table a", "table b", "view bv"}; !slices.Equal(got, want) {
		t.Fatalf("after Up: %q, want %q", got, want)
	}
	if err := m.Steps(-1); err != nil {
		t.Fatal(err)
	}
	if v, dirty, err := m.Version(); v != 1 || dirty || err != nil {
		t.Errorf("after Steps(-1): %d, %v, %v", v, dirty, err)
	}
	if got, want := objects(t, db), []string{"index a_id", "table a"}; !slices.Equal(got, want) {
		t.Errorf("after Steps(-1): %q, want %q", got, want)
	}
	if err := m.Down(); err != nil {
		t.Fatal(err)
	}
	if got := objects(t, db); len(got) != 0 {
		t.Errorf("after Down: %q", got)
	}
	if v, err := Current(db); v != 0 || err != nil {
		t.Errorf("Current after Down = %d, %v", v, err)
	}
	if err := m.Force(2); err != nil {
		t.Fatal(err)
	}
	if v, err := Current(db); v != 2 || err != nil {
		t.Errorf("Current after Force(2) = %d, %v", v, err)
	}
	if err := m.Force(-1); err != nil {
		t.Fatal(err)
	}
	if err := m.Up(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, q := range []string{"INSERT INTO a (id) VALUES (1)", "INSERT INTO b (id, a_id) VALUES (1, 1)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// Drop removes everything, a parent table with children included, foreign keys on.
	if err := m.Drop(); err != nil {
		t.Fatal(err)
	}
	if got := objects(t, db); len(got) != 0 {
		t.Errorf("after Drop: %q", got)
	}
	if ok, err := tableExists(ctx, db, versionTable); ok || err != nil {
		t.Errorf("version table after Drop: %v, %v", ok, err)
	}
	if srcErr, dbErr := m.Close(); srcErr != nil || dbErr != nil {
		t.Fatal(srcErr, dbErr)
	}
	// The caller's db survives m.Close, and the package API starts over.
	if v, err := Up(db, migrations); v != 2 || err != nil {
		t.Fatalf("Up after Drop = %d, %v", v, err)
	}
}

// If another migrator moves the version between golang-migrate reading it and Run's
// transaction, Run fails without changing anything.
func TestRunNoticesConcurrentMigrator(t *testing.T) {
	db := openDB(t)
	drv, err := WithInstance(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := drv.Version(); err != nil { // the driver now expects -1
		t.Fatal(err)
	}
	other, err := WithInstance(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.SetVersion(1, false); err != nil {
		t.Fatal(err)
	}
	drv.SetVersion(1, true)
	err = drv.Run(strings.NewReader("CREATE TABLE a (x);"))
	if !errors.Is(err, errVersionMoved) {
		t.Fatalf("Run = %v, want errVersionMoved", err)
	}
	if got := objects(t, db); len(got) != 0 {
		t.Errorf("objects = %q", got)
	}
}
