package tenantdb_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// One fs.FS value each for the whole package, so schema's cache serves every test.
var (
	tenantMigrations  = os.DirFS("../migrations/tenant")
	catalogMigrations = os.DirFS("../migrations/catalog")
)

// latest is the newest tenant schema version.
func latest(tb testing.TB) uint {
	tb.Helper()
	v, err := schema.Latest(tenantMigrations)
	if err != nil {
		tb.Fatal(err)
	}
	if v == 0 {
		tb.Fatal("no tenant migrations")
	}
	return v
}

// openCatalog returns a migrated catalog in its own temporary directory, apart from the tenant
// files, so that tests can list the tenant directory.
func openCatalog(tb testing.TB) *catalog.Store {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "catalog.db"), 4)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := schema.Up(db, catalogMigrations); err != nil {
		tb.Fatal(err)
	}
	return catalog.New(db)
}

// testLogger sends the Registry's logs to the test's output (shown on failure or with -v).
func testLogger(tb testing.TB) *slog.Logger {
	if t, ok := tb.(*testing.T); ok {
		return slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newRegistry returns a Registry on backend with a fresh catalog; it is closed at cleanup.
func newRegistry(tb testing.TB, backend tenantdb.Backend, maxOpen int) (*tenantdb.Registry, *catalog.Store) {
	tb.Helper()
	cat := openCatalog(tb)
	reg := newRegistryOn(tb, backend, cat, tenantMigrations, maxOpen)
	return reg, cat
}

// newRegistryOn returns a Registry on an existing catalog with the given migrations.
func newRegistryOn(tb testing.TB, backend tenantdb.Backend, cat *catalog.Store, migrations fs.FS, maxOpen int) *tenantdb.Registry {
	tb.Helper()
	reg, err := tenantdb.New(tenantdb.Config{Backend: backend, Catalog: cat, Migrations: migrations,
		MaxOpen: maxOpen, Log: testLogger(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(reg.Close)
	return reg
}

// newOrg returns an organization ready for Register, named as the register handler names it.
func newOrg(username string) catalog.Organization {
	return catalog.Organization{
		Name:         "Org " + username,
		Username:     username,
		Email:        username + "@example.com",
		PasswordHash: "hash",
		DBName:       "tenantdesk-" + username,
	}
}

func mustRegister(tb testing.TB, reg *tenantdb.Registry, username string) catalog.Organization {
	tb.Helper()
	org := newOrg(username)
	if err := reg.Register(context.Background(), &org); err != nil {
		tb.Fatalf("Register(%q): %v", username, err)
	}
	return org
}

func mustAcquire(tb testing.TB, reg *tenantdb.Registry, org catalog.Organization) *tenantdb.Handle {
	tb.Helper()
	h, err := reg.Acquire(context.Background(), org)
	if err != nil {
		tb.Fatalf("Acquire(%q): %v", org.DBName, err)
	}
	return h
}

// wantKind fails the test unless err is an apperr of kind.
func wantKind(tb testing.TB, what string, err error, kind apperr.Kind) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%s: got nil error, want kind %d", what, kind)
	}
	if got := apperr.KindOf(err); got != kind {
		tb.Errorf("%s: got kind %d (%v), want %d", what, got, err, kind)
	}
}

// files lists the names in dir, sorted.
func files(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// tenantFiles lists the files in dir that belong to database name.
func tenantFiles(tb testing.TB, dir, name string) []string {
	tb.Helper()
	var out []string
	for _, f := range files(tb, dir) {
		if strings.HasPrefix(f, name+".db") {
			out = append(out, f)
		}
	}
	return out
}

// agentCount counts the agents in a handle's database.
func agentCount(tb testing.TB, h *tenantdb.Handle) int {
	tb.Helper()
	n, err := countRows(context.Background(), h.DB, "agents")
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// backend is tenantdb.Local with failures and hooks on demand: the only fake, and it sits at
// the storage boundary.
type backend struct {
	tenantdb.Local

	mu           sync.Mutex
	failCreate   error
	failOpen     error
	beforeCreate func(name string)
	beforeDrop   func(name string)

	opens atomic.Int64
}

func (b *backend) set(fn func(b *backend)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fn(b)
}

func (b *backend) Provision(ctx context.Context, name string) (tenantdb.Location, error) {
	b.mu.Lock()
	hook, fail := b.beforeCreate, b.failCreate
	b.mu.Unlock()
	if hook != nil {
		hook(name)
	}
	if fail != nil {
		return tenantdb.Location{}, fail
	}
	return b.Local.Provision(ctx, name)
}

func (b *backend) Connect(ctx context.Context, name string, loc tenantdb.Location) (tenantdb.Database, error) {
	b.mu.Lock()
	fail := b.failOpen
	b.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	b.opens.Add(1)
	return b.Local.Connect(ctx, name, loc)
}

func (b *backend) Drop(ctx context.Context, name string) error {
	b.mu.Lock()
	hook := b.beforeDrop
	b.mu.Unlock()
	if hook != nil {
		hook(name)
	}
	return b.Local.Drop(ctx, name)
}

func TestValidateName(t *testing.T) {
	valid := []string{
		"tenantdesk-acme", "acme", "a", "0", "0acme", "a-", "a--b",
		"con", "nul", "aux", "com1", "lpt1", // device names are harmless in lower case on Linux
		strings.Repeat("a", 63),
	}
	for _, name := range valid {
		if err := tenantdb.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
		}
	}
	invalid := []string{
		"", ".", "..", "../x", "..%2fx", "..%2Fx", "%2e%2e", "/etc/x", "/etc/passwd", "a/b", `a\b`, `..\x`,
		":memory:", "file::memory:", "file:x", "x?mode=ro", "x?mode=memory&cache=shared", "x#y",
		"CON", "NUL", "Acme", "ACME", "acme.db", "acme.", ".acme", "-acme", "_acme", "a_b",
		"a b", " acme", "acme ", "acme\n", "acme\r", "acme\t", "acme\x00", "\x00", "acme\x00../x",
		"~root", "$HOME", "a*", "a;b", "a'b", `a"b`,
		"аcme",            // Cyrillic а
		"acmе",            // Cyrillic е
		"ａcme",            // fullwidth a
		"tenantdesk‐acme", // U+2010 hyphen
		"acme\u200b",      // zero-width space
		"acme\u0301",      // combining accent
		"ac\u202eme",      // right-to-left override
		strings.Repeat("a", 64), strings.Repeat("a", 255),
	}
	for _, name := range invalid {
		if err := tenantdb.ValidateName(name); err == nil {
			t.Errorf("ValidateName(%q) = nil, want an error", name)
		}
	}
}

// Local must refuse a bad name before it touches the file system: no file in its directory,
// none beside it, and no existing file removed.
func TestLocalRejectsBadNames(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Bait for path traversal: Drop("../victim") must not remove it.
	victim := filepath.Join(parent, "victim.db")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	wdBefore := files(t, wd)

	l := tenantdb.Local{Dir: dir}
	ctx := context.Background()
	for _, name := range []string{
		"../victim", "..%2fvictim", "../x", "..%2fx", "/etc/x", "a/b", ":memory:", "file::memory:",
		"x?mode=ro", "CON", "", strings.Repeat("a", 64), "аcme", "acme.db", "acme\x00", "..",
		filepath.Join(parent, "abs"),
	} {
		if loc, err := l.Provision(ctx, name); err == nil {
			t.Errorf("Provision(%q) = %q, nil; want an error", name, loc.URL)
		}
		if db, err := l.Connect(ctx, name, tenantdb.Location{URL: "file:" + name + ".db"}); err == nil {
			db.Close()
			t.Errorf("Connect(%q) = nil error, want an error", name)
		}
		if err := l.Drop(ctx, name); err == nil {
			t.Errorf("Drop(%q) = nil, want an error", name)
		}
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("data directory holds %v, want nothing", got)
	}
	if got, want := files(t, parent), []string{"data", "victim.db"}; !slices.Equal(got, want) {
		t.Errorf("parent directory holds %v, want %v", got, want)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "keep" {
		t.Errorf("victim.db = %q, %v; want it untouched", b, err)
	}
	if got := files(t, wd); !slices.Equal(got, wdBefore) {
		t.Errorf("working directory changed: %v, was %v", got, wdBefore)
	}
}

func TestLocalCreateOpenDrop(t *testing.T) {
	dir := t.TempDir()
	l := tenantdb.Local{Dir: dir}
	ctx := context.Background()
	if got := l.Kind(); got != "local" {
		t.Errorf("Kind() = %q, want local", got)
	}

	// Connect never creates a database.
	if db, err := l.Connect(ctx, "acme", tenantdb.Location{URL: "file:acme.db"}); err == nil {
		db.Close()
		t.Fatal("Connect to a missing database: got nil error")
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("Connect to a missing database left %v", got)
	}

	loc, err := l.Provision(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if loc.URL != "file:acme.db" || loc.Secret != "" {
		t.Errorf("Provision = %+v, want URL file:acme.db and no secret", loc)
	}
	if _, err := os.Stat(filepath.Join(dir, "acme.db")); err != nil {
		t.Fatalf("Provision made no file: %v", err)
	}
	db, err := l.Connect(ctx, "acme", loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec("CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if len(tenantFiles(t, dir, "acme")) < 2 {
		t.Errorf("files after a write in WAL mode: %v, want the database and its -wal", files(t, dir))
	}
	db.Close()

	// Provision again replaces leftovers with an empty database.
	if _, err := l.Provision(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	db, err = l.Connect(ctx, "acme", loc)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.SQL().QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n); err != nil || n != 0 {
		t.Errorf("objects in a re-created database = %d, %v; want 0", n, err)
	}
	db.Close()

	if err := l.Drop(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("Drop left %v", got)
	}
	if err := l.Drop(ctx, "acme"); err != nil {
		t.Errorf("Drop of a missing database = %v, want nil", err)
	}
}

func TestRegister(t *testing.T) {
	dir := t.TempDir()
	reg, cat := newRegistry(t, tenantdb.Local{Dir: dir}, 4)
	ctx := context.Background()
	org := mustRegister(t, reg, "acme")

	if org.ID == 0 || org.DBURL == "" || org.SchemaVersion != latest(t) {
		t.Errorf("registered org: ID %d, DBURL %q, SchemaVersion %d; want an id, a URL and version %d",
			org.ID, org.DBURL, org.SchemaVersion, latest(t))
	}
	if _, err := os.Stat(filepath.Join(dir, "tenantdesk-acme.db")); err != nil {
		t.Errorf("no database file: %v", err)
	}
	row, err := cat.ByUsername(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if row.SchemaVersion != latest(t) || row.DBName != "tenantdesk-acme" || row.DBURL != org.DBURL || row.MigrationError != "" {
		t.Errorf("catalog row = %+v, want SchemaVersion %d, DBName tenantdesk-acme, DBURL %q", row, latest(t), org.DBURL)
	}

	// The database is migrated: every tenant table answers.
	h := mustAcquire(t, reg, row)
	defer h.Release()
	if h.Name != "tenantdesk-acme" {
		t.Errorf("Handle.Name = %q", h.Name)
	}
	for _, table := range []string{"agents", "tickets", "conversations", "messages"} {
		var n int
		if err := h.DB.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows, %v; want an empty table", table, n, err)
		}
	}
	if v, err := schema.Current(h.DB); err != nil || v != latest(t) {
		t.Errorf("schema.Current = %d, %v; want %d", v, err, latest(t))
	}

	bad := newOrg("bad")
	bad.DBName = "../bad"
	if err := reg.Register(ctx, &bad); err == nil {
		t.Error("Register with DBName ../bad: got nil error")
	}
	if got := files(t, filepath.Dir(dir)); slices.ContainsFunc(got, func(f string) bool { return strings.HasPrefix(f, "bad") }) {
		t.Errorf("Register with DBName ../bad left files beside the data directory: %v", got)
	}
}

func TestRegisterTaken(t *testing.T) {
	dir := t.TempDir()
	reg, cat := newRegistry(t, tenantdb.Local{Dir: dir}, 4)
	ctx := context.Background()
	org := mustRegister(t, reg, "acme")
	h := mustAcquire(t, reg, org)
	if err := addAgent(ctx, h.DB, "Ada", "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	h.Release()
	path := filepath.Join(dir, "tenantdesk-acme.db")
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	filesBefore := files(t, dir)

	again := newOrg("acme")
	again.Email = "someone-else@example.com"
	err = reg.Register(ctx, &again)
	wantKind(t, "Register of a taken username", err, apperr.Conflict)
	if e, _ := apperr.As(err); e == nil || e.Field != "username" {
		t.Errorf("Register of a taken username: got %v, want an error on field username", err)
	}

	sameEmail := newOrg("other")
	sameEmail.Email = "acme@example.com"
	err = reg.Register(ctx, &sameEmail)
	wantKind(t, "Register of a taken email", err, apperr.Conflict)
	if e, _ := apperr.As(err); e == nil || e.Field != "email" {
		t.Errorf("Register of a taken email: got %v, want an error on field email", err)
	}

	after, err := os.Stat(path)
	if err != nil {
		t.Fatalf("existing tenant's file: %v", err)
	}
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) || after.Size() != before.Size() {
		t.Errorf("existing tenant's file changed: %v %d → %v %d", before.ModTime(), before.Size(), after.ModTime(), after.Size())
	}
	if got := files(t, dir); !slices.Equal(got, filesBefore) {
		t.Errorf("tenant directory = %v, want %v", got, filesBefore)
	}
	// The data is still there, read through a fresh connection rather than the cached one.
	db, err := sqlite.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM agents").Scan(&n); err != nil || n != 1 {
		t.Errorf("agents in the existing tenant = %d, %v; want 1", n, err)
	}
	all, err := cat.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Errorf("catalog holds %d organizations, want 1", len(all))
	}
}

// A registration that fails at any step leaves neither a file nor a catalog row, and the same
// username can be registered right after.
func TestRegisterFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	wantNothing := func(t *testing.T, dir string, cat *catalog.Store, username string) {
		t.Helper()
		if got := files(t, dir); len(got) != 0 {
			t.Errorf("tenant directory holds %v, want nothing", got)
		}
		if _, err := cat.ByUsername(ctx, username); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("catalog row for %q: %v, want NotFound", username, err)
		}
	}
	retry := func(t *testing.T, reg *tenantdb.Registry, dir string) {
		t.Helper()
		org := mustRegister(t, reg, "acme")
		if got := tenantFiles(t, dir, org.DBName); len(got) == 0 {
			t.Errorf("retry made no database file")
		}
		h := mustAcquire(t, reg, org)
		defer h.Release()
		if n := agentCount(t, h); n != 0 {
			t.Errorf("retried tenant has %d agents, want 0", n)
		}
	}

	t.Run("catalog insert", func(t *testing.T) {
		dir := t.TempDir()
		b := &backend{Local: tenantdb.Local{Dir: dir}}
		reg, cat := newRegistry(t, b, 4)
		// Another registration takes the email between Register's check and its insert.
		interloper := catalog.Organization{
			Name: "Interloper", Username: "interloper", Email: "acme@example.com", PasswordHash: "x",
			DBName: "tenantdesk-interloper", DBURL: "file:tenantdesk-interloper.db",
		}
		b.set(func(b *backend) {
			b.beforeCreate = func(string) {
				if err := cat.Create(ctx, &interloper); err != nil {
					t.Errorf("inserting the interloper: %v", err)
				}
			}
		})
		org := newOrg("acme")
		err := reg.Register(ctx, &org)
		wantKind(t, "Register", err, apperr.Conflict)
		if e, _ := apperr.As(err); e == nil || e.Field != "email" {
			t.Errorf("Register: got %v, want an error on field email", err)
		}
		wantNothing(t, dir, cat, "acme")

		b.set(func(b *backend) { b.beforeCreate = nil })
		if err := cat.Delete(ctx, interloper.ID); err != nil {
			t.Fatal(err)
		}
		retry(t, reg, dir)
	})

	t.Run("create", func(t *testing.T) {
		dir := t.TempDir()
		b := &backend{Local: tenantdb.Local{Dir: dir}}
		reg, cat := newRegistry(t, b, 4)
		b.set(func(b *backend) { b.failCreate = errors.New("disk full") })
		org := newOrg("acme")
		wantKind(t, "Register", reg.Register(ctx, &org), apperr.Unavailable)
		wantNothing(t, dir, cat, "acme")
		b.set(func(b *backend) { b.failCreate = nil })
		retry(t, reg, dir)
	})

	t.Run("open", func(t *testing.T) {
		dir := t.TempDir()
		b := &backend{Local: tenantdb.Local{Dir: dir}}
		reg, cat := newRegistry(t, b, 4)
		b.set(func(b *backend) { b.failOpen = errors.New("too many open files") })
		org := newOrg("acme")
		wantKind(t, "Register", reg.Register(ctx, &org), apperr.Unavailable)
		wantNothing(t, dir, cat, "acme")
		b.set(func(b *backend) { b.failOpen = nil })
		retry(t, reg, dir)
	})

	t.Run("migration", func(t *testing.T) {
		dir := t.TempDir()
		cat := openCatalog(t)
		broken := fstest.MapFS{
			"0001_a.up.sql": {Data: []byte("CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE a (id INTEGER);")},
		}
		bad := newRegistryOn(t, tenantdb.Local{Dir: dir}, cat, broken, 4)
		org := newOrg("acme")
		wantKind(t, "Register", bad.Register(ctx, &org), apperr.Unavailable)
		wantNothing(t, dir, cat, "acme")
		retry(t, newRegistryOn(t, tenantdb.Local{Dir: dir}, cat, tenantMigrations, 4), dir)
	})
}

func TestAcquireColdConcurrently(t *testing.T) {
	b := &backend{Local: tenantdb.Local{Dir: t.TempDir()}}
	reg, _ := newRegistry(t, b, 4)
	org := mustRegister(t, reg, "acme")
	_, opensBefore, _ := reg.Stats()
	backendBefore := b.opens.Load()

	const n = 50
	handles := make([]*tenantdb.Handle, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			handles[i], errs[i] = reg.Acquire(context.Background(), org)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Acquire %d: %v", i, err)
		}
	}
	for i, h := range handles {
		if h != handles[0] {
			t.Errorf("Acquire %d returned handle %p, want %p", i, h, handles[0])
		}
	}
	open, opens, _ := reg.Stats()
	if opens-opensBefore != 1 || b.opens.Load()-backendBefore != 1 {
		t.Errorf("%d concurrent Acquires opened the database %d times (backend: %d), want 1",
			n, opens-opensBefore, b.opens.Load()-backendBefore)
	}
	if open != 1 {
		t.Errorf("Stats open = %d, want 1", open)
	}
	for _, h := range handles {
		h.Release()
	}
	// Released, not evicted: still open and usable.
	if !reg.IsOpen(org.DBName) {
		t.Error("database closed after its handles were released, want it kept open")
	}
	h := mustAcquire(t, reg, org)
	defer h.Release()
	if agentCount(t, h) != 0 {
		t.Error("unexpected agents")
	}
}

func TestLRUEviction(t *testing.T) {
	reg, _ := newRegistry(t, tenantdb.Local{Dir: t.TempDir()}, 2)
	ctx := context.Background()
	o1, o2, o3 := mustRegister(t, reg, "one"), mustRegister(t, reg, "two"), mustRegister(t, reg, "three")

	h1 := mustAcquire(t, reg, o1)
	h2 := mustAcquire(t, reg, o2)
	h3 := mustAcquire(t, reg, o3) // evicts one, the least recently used
	open, opens, evictions := reg.Stats()
	if open != 2 || opens != 3 || evictions != 1 {
		t.Errorf("Stats = open %d, opens %d, evictions %d; want 2, 3, 1", open, opens, evictions)
	}
	if reg.IsOpen(o1.DBName) || !reg.IsOpen(o2.DBName) || !reg.IsOpen(o3.DBName) {
		t.Errorf("open: one %v, two %v, three %v; want false, true, true",
			reg.IsOpen(o1.DBName), reg.IsOpen(o2.DBName), reg.IsOpen(o3.DBName))
	}

	// The evicted database still serves the request that holds it.
	if err := addAgent(ctx, h1.DB, "Ada", "ada@example.com"); err != nil {
		t.Fatalf("evicted but held handle: %v", err)
	}
	h1.Release()
	var one int
	err := h1.DB.QueryRow("SELECT 1").Scan(&one)
	if err == nil || !strings.Contains(err.Error(), "sql: database is closed") {
		t.Errorf("query on an evicted handle after Release: %v, want sql: database is closed", err)
	}

	// Handles in the cache stay open after Release.
	h2.Release()
	h3.Release()
	if err := h3.DB.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Errorf("cached handle after Release: %v", err)
	}

	// Acquiring one again opens it anew (its data intact) and evicts the LRU (two), which
	// nobody holds, so it is closed at once.
	again := mustAcquire(t, reg, o1)
	defer again.Release()
	if again == h1 {
		t.Error("Acquire after eviction returned the closed handle")
	}
	if n := agentCount(t, again); n != 1 {
		t.Errorf("agents after reopening = %d, want 1", n)
	}
	if open, opens, evictions = reg.Stats(); open != 2 || opens != 4 || evictions != 2 {
		t.Errorf("Stats = open %d, opens %d, evictions %d; want 2, 4, 2", open, opens, evictions)
	}
	if err := h2.DB.QueryRow("SELECT 1").Scan(&one); err == nil || !strings.Contains(err.Error(), "sql: database is closed") {
		t.Errorf("query on an evicted, released handle: %v, want sql: database is closed", err)
	}
}

// Many requests over more tenants than may stay open: a handle is never closed while a request
// holds it.
func TestAcquireReleaseChurn(t *testing.T) {
	reg, _ := newRegistry(t, tenantdb.Local{Dir: t.TempDir()}, 3)
	var orgs []catalog.Organization
	for i := range 8 {
		orgs = append(orgs, mustRegister(t, reg, fmt.Sprintf("t%d", i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				org := orgs[(g*7+i*3)%len(orgs)]
				h, err := reg.Acquire(context.Background(), org)
				if err != nil {
					errs <- err
					return
				}
				var n int
				err = h.DB.QueryRow("SELECT count(*) FROM tickets").Scan(&n)
				h.Release()
				if err != nil {
					errs <- fmt.Errorf("%s: %w", org.DBName, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if open, _, evictions := reg.Stats(); open > 3 || evictions == 0 {
		t.Errorf("Stats: open %d, evictions %d; want at most 3 open and some evictions", open, evictions)
	}
}

func TestAcquireAfterClose(t *testing.T) {
	reg, _ := newRegistry(t, tenantdb.Local{Dir: t.TempDir()}, 4)
	org, idle := mustRegister(t, reg, "acme"), mustRegister(t, reg, "idle")
	held := mustAcquire(t, reg, org)
	mustAcquire(t, reg, idle).Release()

	reg.Close()
	_, err := reg.Acquire(context.Background(), org)
	wantKind(t, "Acquire after Close", err, apperr.Unavailable)
	if open, _, _ := reg.Stats(); open != 0 {
		t.Errorf("Stats open after Close = %d, want 0", open)
	}
	var one int
	if err := held.DB.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Errorf("handle held across Close: %v, want it usable until Release", err)
	}
	held.Release()
	if err := held.DB.QueryRow("SELECT 1").Scan(&one); err == nil || !strings.Contains(err.Error(), "database is closed") {
		t.Errorf("handle after Release following Close: %v, want database is closed", err)
	}
	reg.Close() // twice is harmless
}

func TestDelete(t *testing.T) {
	dir := t.TempDir()
	reg, cat := newRegistry(t, tenantdb.Local{Dir: dir}, 4)
	ctx := context.Background()
	org, other := mustRegister(t, reg, "acme"), mustRegister(t, reg, "other")
	h := mustAcquire(t, reg, org)
	if err := addAgent(ctx, h.DB, "Ada", "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	if len(tenantFiles(t, dir, org.DBName)) < 2 {
		t.Fatalf("expected the database and its WAL files, got %v", files(t, dir))
	}

	// A request still holds the database while it is deleted: the files stay until it lets go
	// (registering the name again meanwhile: TestDeleteRemovesFilesStillHeld).
	if err := reg.Delete(ctx, org); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.ByID(ctx, org.ID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("catalog row after Delete: %v, want NotFound", err)
	}
	if reg.IsOpen(org.DBName) {
		t.Error("deleted database still in the cache")
	}
	if got := tenantFiles(t, dir, org.DBName); len(got) == 0 {
		t.Error("files removed while a request held the database")
	}
	var one int
	if err := h.DB.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Errorf("handle held across Delete: %v, want it usable until Release", err)
	}
	h.Release()
	if err := h.DB.QueryRow("SELECT 1").Scan(&one); err == nil {
		t.Error("handle of a deleted tenant still open after Release")
	}
	if got := tenantFiles(t, dir, org.DBName); len(got) != 0 {
		t.Errorf("files left after the last holder released the deleted database: %v", got)
	}

	_, err := reg.Acquire(ctx, org)
	wantKind(t, "Acquire of the deleted organization", err, apperr.Unavailable)
	if got := tenantFiles(t, dir, org.DBName); len(got) != 0 {
		t.Errorf("Acquire of a deleted tenant re-created %v", got)
	}
	wantKind(t, "second Delete", reg.Delete(ctx, org), apperr.NotFound)

	// Other tenants are untouched.
	if _, err := cat.ByID(ctx, other.ID); err != nil {
		t.Errorf("other tenant after Delete: %v", err)
	}
	if got := tenantFiles(t, dir, other.DBName); len(got) == 0 {
		t.Error("other tenant's files removed")
	}
}

// A request that acquires a tenant while it is being deleted (it looked the organization up
// just before) must not leave the deleted database in the cache: a later registration of the
// same username would be handed the old organization's data.
func TestDeleteRacesAcquire(t *testing.T) {
	dir := t.TempDir()
	b := &backend{Local: tenantdb.Local{Dir: dir}}
	reg, _ := newRegistry(t, b, 4)
	ctx := context.Background()
	org := mustRegister(t, reg, "acme")
	h := mustAcquire(t, reg, org)
	if err := addAgent(ctx, h.DB, "Ada", "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	h.Release()

	// Between Delete's eviction and its Drop, a request acquires the stale organization.
	var racer sync.WaitGroup
	var racerErr error
	var racerHandle *tenantdb.Handle
	b.set(func(b *backend) {
		b.beforeDrop = func(string) {
			done := make(chan struct{})
			racer.Add(1)
			go func() {
				defer racer.Done()
				defer close(done)
				racerHandle, racerErr = reg.Acquire(ctx, org)
			}()
			select { // give it time to open the file before it is dropped
			case <-done:
			case <-time.After(150 * time.Millisecond):
			}
		}
	})
	if err := reg.Delete(ctx, org); err != nil {
		t.Fatal(err)
	}
	b.set(func(b *backend) { b.beforeDrop = nil })
	racer.Wait()
	if racerErr == nil {
		racerHandle.Release()
	}

	if _, err := reg.Acquire(ctx, org); err == nil {
		t.Error("Acquire of the deleted organization after Delete returned: got nil error")
	}
	fresh := mustRegister(t, reg, "acme")
	h = mustAcquire(t, reg, fresh)
	defer h.Release()
	if n := agentCount(t, h); n != 0 {
		t.Errorf("the new organization acme sees %d agents of the deleted one, want 0", n)
	}
}

func TestSnapshot(t *testing.T) {
	reg, _ := newRegistry(t, tenantdb.Local{Dir: t.TempDir()}, 4)
	ctx := context.Background()
	org := mustRegister(t, reg, "acme")
	h := mustAcquire(t, reg, org)
	defer h.Release()
	if err := addAgent(ctx, h.DB, "Ada", "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		agent := ""
		if i == 0 {
			agent = "ada@example.com"
		}
		if err := addConversation(ctx, h.DB, "2024-01-02", []byte{byte(i)}, agent, "hello"); err != nil {
			t.Fatal(err)
		}
	}
	// WITHOUT ROWID tables have no rowid to copy by.
	for _, stmt := range []string{
		`INSERT INTO ticket_tags (ticket_id, tag) VALUES (1, 'billing'), (1, 'ünïcode')`,
		`INSERT INTO settings (key, value, updated_at) VALUES ('time_zone', 'Europe/Berlin', 1)`,
	} {
		if _, err := h.DB.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}

	path := filepath.Join(t.TempDir(), "snap.db")
	if err := h.Snapshot(path); err != nil {
		t.Fatal(err)
	}
	snap, err := sqlite.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	for _, table := range []string{"agents", "contacts", "tickets", "conversations", "messages", "ticket_tags", "settings", "schema_migrations"} {
		var got, want int
		if err := snap.QueryRow("SELECT count(*) FROM " + table).Scan(&got); err != nil {
			t.Fatalf("snapshot %s: %v", table, err)
		}
		if err := h.DB.QueryRow("SELECT count(*) FROM " + table).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got != want || want == 0 {
			t.Errorf("%s: snapshot has %d rows, live database %d (want equal and non-zero)", table, got, want)
		}
	}
	if v, err := schema.Current(snap); err != nil || v != latest(t) {
		t.Errorf("snapshot schema version = %d, %v; want %d", v, err, latest(t))
	}
	var bodies []string
	rows, err := snap.QueryContext(ctx, "SELECT CAST(body AS BLOB) FROM messages ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bodies, []string{"2024-01-02", "hello", "2024-01-02", "2024-01-02"}) {
		t.Errorf("snapshot messages = %q; want each ticket's query, the first one answered with hello", bodies)
	}

	// The target must not exist: an existing file is refused, not overwritten.
	if err := h.Snapshot(path); err == nil {
		t.Error("Snapshot onto an existing file: got nil error")
	}
}

func TestAcquireUpdatesSchemaVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	reg, cat := newRegistry(t, tenantdb.Local{Dir: dir}, 4)

	t.Run("catalog behind", func(t *testing.T) {
		org := mustRegister(t, reg, "behind")
		if err := cat.SetSchemaVersion(ctx, org.ID, 0, ""); err != nil {
			t.Fatal(err)
		}
		org, err := cat.ByID(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if org.SchemaVersion != 0 {
			t.Fatalf("SchemaVersion = %d after setting 0", org.SchemaVersion)
		}
		mustAcquire(t, reg, org).Release()
		if org, err = cat.ByID(ctx, org.ID); err != nil {
			t.Fatal(err)
		}
		if org.SchemaVersion != latest(t) || org.MigrationError != "" {
			t.Errorf("catalog after Acquire: version %d, error %q; want %d, empty", org.SchemaVersion, org.MigrationError, latest(t))
		}
	})

	t.Run("old migration error cleared", func(t *testing.T) {
		org := mustRegister(t, reg, "failed")
		if err := cat.SetSchemaVersion(ctx, org.ID, latest(t), "disk I/O error"); err != nil {
			t.Fatal(err)
		}
		org, err := cat.ByID(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		mustAcquire(t, reg, org).Release()
		if org, err = cat.ByID(ctx, org.ID); err != nil || org.MigrationError != "" {
			t.Errorf("migration error after a successful Acquire = %q, want empty", org.MigrationError)
		}
	})

	t.Run("database never migrated", func(t *testing.T) {
		// A tenant whose file exists but was never migrated (an older build created it).
		local := tenantdb.Local{Dir: dir}
		loc, err := local.Provision(ctx, "tenantdesk-old")
		if err != nil {
			t.Fatal(err)
		}
		org := catalog.Organization{Name: "Old", Username: "old", Email: "old@example.com",
			PasswordHash: "x", DBName: "tenantdesk-old", DBURL: loc.URL}
		if err := cat.Create(ctx, &org); err != nil {
			t.Fatal(err)
		}
		h := mustAcquire(t, reg, org)
		defer h.Release()
		if v, err := schema.Current(h.DB); err != nil || v != latest(t) {
			t.Errorf("schema.Current = %d, %v; want %d", v, err, latest(t))
		}
		if err := addAgent(ctx, h.DB, "Ada", "ada@example.com"); err != nil {
			t.Errorf("crm on a freshly migrated tenant: %v", err)
		}
		if org, err = cat.ByID(ctx, org.ID); err != nil || org.SchemaVersion != latest(t) {
			t.Errorf("catalog SchemaVersion = %d, want %d", org.SchemaVersion, latest(t))
		}
	})
}

// A tenant whose pending migration fails is Unavailable, the failure is recorded in the catalog
// (version unchanged), and a good build clears it.
func TestAcquireFailedMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good, cat := newRegistry(t, tenantdb.Local{Dir: dir}, 4)
	org := mustRegister(t, good, "acme")

	broken := fstest.MapFS{}
	entries, err := fs.ReadDir(tenantMigrations, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := fs.ReadFile(tenantMigrations, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		broken[e.Name()] = &fstest.MapFile{Data: data}
	}
	next := fmt.Sprintf("%04d_broken.up.sql", latest(t)+1)
	broken[next] = &fstest.MapFile{Data: []byte("ALTER TABLE agents ADD COLUMN x TEXT; ALTER TABLE nosuchtable ADD COLUMN y TEXT;")}

	bad := newRegistryOn(t, tenantdb.Local{Dir: dir}, cat, broken, 4)
	_, err = bad.Acquire(ctx, org)
	wantKind(t, "Acquire with a failing migration", err, apperr.Unavailable)
	row, err := cat.ByID(ctx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.SchemaVersion != latest(t) || !strings.Contains(row.MigrationError, "nosuchtable") {
		t.Errorf("catalog after failed migration: version %d, error %q; want %d and the error", row.SchemaVersion, row.MigrationError, latest(t))
	}
	if bad.IsOpen(org.DBName) {
		t.Error("a database that failed to migrate is cached")
	}

	h := mustAcquire(t, good, row)
	defer h.Release()
	if row, err = cat.ByID(ctx, org.ID); err != nil || row.MigrationError != "" {
		t.Errorf("migration error after a good Acquire = %q, want empty", row.MigrationError)
	}
	// The failed file left nothing behind: agents has no column x.
	if _, err := h.DB.Exec("ALTER TABLE agents ADD COLUMN x TEXT"); err != nil {
		t.Errorf("column x exists after its migration failed: %v", err)
	}
}

func TestAcquireInvalidName(t *testing.T) {
	dir := t.TempDir()
	reg, _ := newRegistry(t, tenantdb.Local{Dir: dir}, 4)
	org := catalog.Organization{ID: 1, Username: "x", DBName: "../x", DBURL: "file:../x.db"}
	if _, err := reg.Acquire(context.Background(), org); err == nil {
		t.Error("Acquire with DBName ../x: got nil error")
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("tenant directory holds %v", got)
	}
}

func TestNewRegistryRejects(t *testing.T) {
	cat := openCatalog(t)
	log := testLogger(t)
	local := tenantdb.Local{Dir: t.TempDir()}
	if _, err := tenantdb.New(tenantdb.Config{Backend: local, Catalog: cat, Migrations: tenantMigrations, MaxOpen: 0, Log: log}); err == nil {
		t.Error("New with MaxOpen 0: got nil error")
	}
	if _, err := tenantdb.New(tenantdb.Config{Backend: local, Catalog: cat, Migrations: os.DirFS(t.TempDir() + "/missing"), MaxOpen: 1, Log: log}); err == nil {
		t.Error("New with a missing migrations directory: got nil error")
	}
	if _, err := tenantdb.New(tenantdb.Config{Catalog: cat, Migrations: tenantMigrations, MaxOpen: 1, Log: log}); err == nil {
		t.Error("New without a Backend: got nil error")
	}
}

func BenchmarkAcquireHot(b *testing.B) {
	reg, _ := newRegistry(b, tenantdb.Local{Dir: b.TempDir()}, 4)
	org := mustRegister(b, reg, "acme")
	mustAcquire(b, reg, org).Release()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h, err := reg.Acquire(ctx, org)
		if err != nil {
			b.Fatal(err)
		}
		h.Release()
	}
}

// TestDeletedElsewhereAndReregistered: an operator command (another process, here another
// Registry on the same catalog and directory) deletes an organization this Registry has open,
// and the name is registered again. The cached handle belongs to the old organization and
// must not be handed to the new one.
func TestDeletedElsewhereAndReregistered(t *testing.T) {
	dir := t.TempDir()
	server, cat := newRegistry(t, tenantdb.Local{Dir: dir}, 4)
	operator := newRegistryOn(t, tenantdb.Local{Dir: dir}, cat, tenantMigrations, 4)
	ctx := context.Background()

	old := mustRegister(t, server, "acme")
	h := mustAcquire(t, server, old)
	if err := addAgent(ctx, h.DB, "Old Agent", "old@acme.example"); err != nil {
		t.Fatal(err)
	}
	h.Release()

	if err := operator.Delete(ctx, old); err != nil {
		t.Fatal(err)
	}
	fresh := mustRegister(t, operator, "acme")
	if fresh.ID == old.ID {
		t.Fatal("the re-registered organization reused the old id")
	}
	h = mustAcquire(t, server, fresh)
	defer h.Release()
	agents, err := countRows(ctx, h.DB, "agents")
	if err != nil {
		t.Fatal(err)
	}
	if agents != 0 {
		t.Fatalf("the new organization sees %d agents of the deleted one", agents)
	}
}

// TestChangesSeesOtherWriters: Changes moves when another connection (another process)
// commits to a tenant's file, whether the registry has it open or closed, and not for what
// the registry's own connection writes.
func TestChangesSeesOtherWriters(t *testing.T) {
	dir := t.TempDir()
	reg, _ := newRegistry(t, tenantdb.Local{Dir: dir}, 1)
	ctx := context.Background()
	org := mustRegister(t, reg, "acme")
	other := mustRegister(t, reg, "other")
	changes := func() uint64 {
		t.Helper()
		v, err := reg.Changes(ctx, org.DBName)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	outsider := func(stmt string) {
		t.Helper()
		db, err := sqlite.Open(filepath.Join(dir, org.DBName+".db"), 1)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}

	h := mustAcquire(t, reg, org)
	v0 := changes()
	if err := addAgent(ctx, h.DB, "Own", "own@acme.example"); err != nil {
		t.Fatal(err)
	}
	if v := changes(); v != v0 {
		t.Error("the registry's own write moved Changes")
	}
	outsider("INSERT INTO agents (full_name, email, password_hash, created_at, updated_at) VALUES ('Out', 'out@acme.example', 'x', 1, 1)")
	v1 := changes()
	if v1 == v0 {
		t.Fatal("another connection's commit to an open database did not move Changes")
	}
	if v := changes(); v != v1 {
		t.Error("Changes moved without a write")
	}
	h.Release()

	// Opening another tenant closes acme's database (MaxOpen 1).
	mustAcquire(t, reg, other).Release()
	if reg.IsOpen(org.DBName) {
		t.Fatal("acme is still open")
	}
	// Its own close is no change: what is cached about the tenant stays good while it is
	// closed (a poll of an evicted tenant needs no open).
	closed := changes()
	if closed != v1 {
		t.Error("closing the database counted as a change")
	}
	if v := changes(); v != closed {
		t.Error("Changes moved for a closed database nobody wrote")
	}
	// Reopened as its close left it, it has not changed either; closed again, the same.
	h = mustAcquire(t, reg, org)
	if v := changes(); v != closed {
		t.Error("reopening a database nobody wrote while it was closed counted as a change")
	}
	h.Release()
	mustAcquire(t, reg, other).Release()
	if v := changes(); v != closed {
		t.Error("a second close counted as a change")
	}
	// A closed file is told apart by size and modification time, which the kernel stamps from
	// a coarse clock (a few ms): a write within the same tick as the close is not seen here
	// (the desk's StateTTL bounds that), so this one comes a tick later.
	time.Sleep(20 * time.Millisecond)
	outsider("UPDATE agents SET full_name = 'Renamed' WHERE email = 'out@acme.example'")
	written := changes()
	if written == closed {
		t.Error("another process's write to a closed database did not move Changes")
	}
	// Opened after that write, it must not take the value from before it.
	h = mustAcquire(t, reg, org)
	defer h.Release()
	if v := changes(); v == closed {
		t.Error("a database written while closed and then reopened reports no change")
	}
}
