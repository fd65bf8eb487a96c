package fleet_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/fileperm"
	"github.com/tenantdesk/tenantdesk/sql/fleet"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// One fs.FS value each, so schema's cache serves every test.
var (
	tenantMigrations  = os.DirFS("../migrations/tenant")
	catalogMigrations = os.DirFS("../migrations/catalog")
)

// migrationsWith returns a directory holding the real tenant migrations plus extra files
// (name → SQL): the next schema version of a test.
func migrationsWith(tb testing.TB, extra map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	entries, err := fs.ReadDir(tenantMigrations, ".")
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(tenantMigrations, e.Name())
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	for name, body := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// realVersion is the version of the real tenant schema; testVersion is the next one, which
// only the tests' migrations reach.
var (
	realVersion = mustLatest(tenantMigrations)
	testVersion = realVersion + 1
)

func mustLatest(migrations fs.FS) uint {
	v, err := schema.Latest(migrations)
	if err != nil {
		panic(err)
	}
	return v
}

// testMigration returns the file name of the test migration name in direction (up or down).
func testMigration(name, direction string) string {
	return fmt.Sprintf("%04d_%s.%s.sql", testVersion, name, direction)
}

// next is a test's next tenant schema version (testVersion), written expand-only: a column
// with a default, a new table, a new index, none of them in the real schema. The index fails
// on a tenant with two agents of the same name — and then the whole file rolls back.
var next = map[string]string{
	testMigration("test_labels", "up"): `-- test migration
ALTER TABLE tickets ADD COLUMN test_flag INTEGER NOT NULL DEFAULT 0;
CREATE TABLE test_labels (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    label     TEXT    NOT NULL,
    PRIMARY KEY (ticket_id, label)
);
CREATE UNIQUE INDEX agents_full_name ON agents (full_name);
`,
	testMigration("test_labels", "down"): `DROP INDEX agents_full_name;
DROP TABLE test_labels;
ALTER TABLE tickets DROP COLUMN test_flag;
`,
}

// syncBuffer is a bytes.Buffer safe for the fleet's concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a DATA_DIR with its catalog and a Fleet on it, laid out as main.go lays it out.
type env struct {
	dir      string
	catDB    *sql.DB
	cat      *catalog.Store
	reg      *tenantdb.Registry
	f        *fleet.Fleet
	out, err *syncBuffer
}

func testLogger(tb testing.TB) *slog.Logger {
	if t, ok := tb.(*testing.T); ok {
		return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newEnv opens a fresh DATA_DIR whose tenants get migrations.
func newEnv(tb testing.TB, migrations fs.FS) *env {
	tb.Helper()
	return openEnv(tb, filepath.Join(tb.TempDir(), "data"), migrations)
}

// openEnv opens the catalog in dir (migrating it; dir is made as main makes DATA_DIR) and a
// Fleet with its own Registry.
func openEnv(tb testing.TB, dir string, migrations fs.FS) *env {
	tb.Helper()
	if err := fileperm.MkdirAll(dir); err != nil {
		tb.Fatal(err)
	}
	db, err := sqlite.Open(filepath.Join(dir, "catalog.db"), 1) // as main opens it
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	from, _ := schema.Current(db)
	to, err := schema.Up(db, catalogMigrations)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{dir: dir, catDB: db, cat: catalog.New(db), out: &syncBuffer{}, err: &syncBuffer{}}
	e.reg = e.registry(tb, migrations)
	e.f = &fleet.Fleet{Catalog: e.cat, Tenants: e.reg, Backend: "local", DataDir: dir, AppName: "tenantdesk",
		CatalogFrom: from, CatalogTo: to, Out: e.out, Err: e.err, Log: testLogger(tb)}
	return e
}

// registry returns another Registry on e's catalog and files (as a second process has).
func (e *env) registry(tb testing.TB, migrations fs.FS) *tenantdb.Registry {
	tb.Helper()
	reg, err := tenantdb.New(tenantdb.Config{Backend: tenantdb.Local{Dir: e.dir}, Catalog: e.cat,
		Migrations: migrations, MaxOpen: 64, Log: testLogger(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(reg.Close)
	return reg
}

// withMigrations returns a Fleet on the same catalog and files whose tenants get migrations.
func (e *env) withMigrations(tb testing.TB, migrations fs.FS) *fleet.Fleet {
	f := *e.f
	f.Tenants = e.registry(tb, migrations)
	return &f
}

// main runs an operator command as `tenantdesk args...` would, on e.
func (e *env) main(f *fleet.Fleet, stdin string, args ...string) error {
	return fleet.Main(context.Background(), args, fleet.Env{
		Open:    func() (*fleet.Fleet, func(), error) { return f, func() {}, nil },
		DataDir: e.dir, Backend: "local", AppName: "tenantdesk", SecretFile: filepath.Join(e.dir, "session.secret"),
		Stdin: strings.NewReader(stdin), Stdout: e.out, Stderr: e.err,
	})
}

func newOrg(username string) catalog.Organization {
	return catalog.Organization{Name: "Org " + username, Username: username, Email: username + "@example.com",
		PasswordHash: "hash", DBName: "tenantdesk-" + username}
}

// register creates an organization through the Registry, as /register does.
func (e *env) register(tb testing.TB, username string) catalog.Organization {
	tb.Helper()
	org := newOrg(username)
	if err := e.reg.Register(context.Background(), &org); err != nil {
		tb.Fatalf("Register(%s): %v", username, err)
	}
	return org
}

// clone adds organizations named names whose databases are copies of template's (a consistent
// snapshot), in one catalog transaction: thousands of tenants in seconds.
func (e *env) clone(tb testing.TB, template catalog.Organization, names []string) {
	tb.Helper()
	ctx := context.Background()
	snap := filepath.Join(tb.TempDir(), "template.db")
	db, err := sqlite.Open(filepath.Join(e.dir, template.DBName+".db"), 1)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Exec("VACUUM INTO ?", snap); err != nil {
		tb.Fatal(err)
	}
	db.Close()
	body, err := os.ReadFile(snap)
	if err != nil {
		tb.Fatal(err)
	}
	tx, err := e.catDB.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	now := time.Now().Unix()
	for _, name := range names {
		o := newOrg(name)
		if err := os.WriteFile(filepath.Join(e.dir, o.DBName+".db"), body, 0o600); err != nil {
			tb.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO organizations (name, website, username, email, password_hash,
			logo, db_name, db_url, schema_version, migrated_at, created_at, updated_at)
			VALUES (?, '', ?, ?, 'hash', '', ?, ?, ?, ?, ?, ?)`, o.Name, o.Username, o.Email, o.DBName,
			"file:"+o.DBName+".db", int64(template.SchemaVersion), now, now, now); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// openTenant opens a tenant's file directly, as a new process would (no registry, no
// migration).
func (e *env) openTenant(tb testing.TB, dbName string) *sql.DB {
	tb.Helper()
	path := filepath.Join(e.dir, dbName+".db")
	if _, err := os.Stat(path); err != nil {
		tb.Fatal(err)
	}
	db, err := sqlite.Open(path, 1)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// fill writes a realistic helpdesk into org's database through the desk service, as its
// people would: agents (one of them an admin), the time zone setting, a canned reply, tickets
// (two per contact) with their conversations, most taken by an agent (an activity line) and
// answered, some with tags, a priority and a note that mentions the other agent, one in three
// closed and rated; with date-like text and non-ASCII text.
func (e *env) fill(tb testing.TB, org catalog.Organization, tickets int) {
	tb.Helper()
	ctx := context.Background()
	dk := desk.New(desk.Config{Registry: e.reg, Log: testLogger(tb)})
	defer dk.Close()
	o := &org
	owner := desk.AsOwner(org.Name)
	a1, err := dk.CreateAgent(ctx, o, owner, "Ada Agent", "ada@"+org.Username+".example", "h1")
	if err != nil {
		tb.Fatal(err)
	}
	a2, err := dk.CreateAgent(ctx, o, owner, "Bo Agent", "bo@"+org.Username+".example", "h2")
	if err != nil {
		tb.Fatal(err)
	}
	if a2, err = dk.SetRole(ctx, o, owner, a2.ID, desk.RoleAdmin); err != nil {
		tb.Fatal(err)
	}
	if err := dk.SetTimeZone(ctx, o, owner, "Europe/Berlin"); err != nil {
		tb.Fatal(err)
	}
	if _, err := dk.CreateCanned(ctx, o, owner, "Thanks", "Thank you, {{customer_name}} — ünïcode ✓"); err != nil {
		tb.Fatal(err)
	}
	// A deleted canned reply: its id is used up (AUTOINCREMENT), which a copy must keep.
	gone, err := dk.CreateCanned(ctx, o, owner, "Gone", "deleted")
	if err != nil {
		tb.Fatal(err)
	}
	if err := dk.DeleteCanned(ctx, o, owner, gone.ID); err != nil {
		tb.Fatal(err)
	}
	for i := range tickets {
		t, token, err := dk.OpenTicket(ctx, o, desk.AsPublic(), desk.NewTicket{CustomerName: fmt.Sprintf("Customer %d", i/2),
			CustomerEmail: fmt.Sprintf("c%d@example.com", i/2), Query: "2024-01-02 03:04:05 is when it broke — ünïcode ✓"})
		if err != nil {
			tb.Fatal(err)
		}
		if i%3 == 2 {
			continue // left open, nobody assigned
		}
		agent, other := desk.AsAgent(a1), a2
		if i%2 == 1 {
			agent, other = desk.AsAgent(a2), a1
		}
		customer := desk.AsCustomer(sha256.Sum256([]byte(token)))
		conv, err := dk.Take(ctx, o, agent, t.ID)
		if err != nil {
			tb.Fatal(err)
		}
		for m := range 3 {
			by := customer
			if m%2 == 1 {
				by = agent
			}
			if _, err := dk.AddMessage(ctx, o, by, conv, fmt.Sprintf("message %d of ticket %d: 2025-06-07T08:09:10Z", m, i)); err != nil {
				tb.Fatal(err)
			}
		}
		if i%4 == 0 {
			// Files, one of them over a chunk: exports, imports and backups carry them.
			up, err := dk.StartUpload(ctx, o, customer, 0)
			if err != nil {
				tb.Fatal(err)
			}
			big := bytes.Repeat([]byte(fmt.Sprintf("ticket %d file ", i)), desk.ChunkSize/10)
			for _, f := range []struct {
				name string
				data []byte
			}{{"receipt ünïcode.txt", []byte("2025-06-07 receipt\n")}, {"scan.bin", big}} {
				if _, err := up.Add(ctx, desk.NewFile{Name: f.name}, bytes.NewReader(f.data)); err != nil {
					tb.Fatal(err)
				}
			}
			if _, err := dk.AddMessageWithFiles(ctx, o, customer, 0, "", up); err != nil {
				tb.Fatal(err)
			}
		}
		if i%2 == 0 {
			if err := dk.SetTags(ctx, o, agent, t.ID, []string{"Billing", "ünïcode"}); err != nil {
				tb.Fatal(err)
			}
			if err := dk.SetPriority(ctx, o, agent, t.ID, desk.PriorityHigh); err != nil {
				tb.Fatal(err)
			}
			if _, err := dk.AddNote(ctx, o, agent, conv, "@"+other.Handle()+" can you check 2025-06-07?"); err != nil {
				tb.Fatal(err)
			}
		}
		if i%3 == 0 {
			if _, err := dk.CloseTicket(ctx, o, agent, t.ID); err != nil {
				tb.Fatal(err)
			}
			if err := dk.Rate(ctx, o, customer, 1+i%5, ""); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// dump returns every row of every table of db (schema_migrations aside), each cell with its
// storage class, in rowid order (primary key order for a WITHOUT ROWID table, which has no
// rowid): two dumps are equal when the data is equal row for row.
func dump(tb testing.TB, db *sql.DB) map[string][]string {
	tb.Helper()
	ctx := context.Background()
	// A virtual table is dumped through itself (a full-text index: its documents), not through
	// its shadow tables, whose layout depends on how the index was written.
	rows, err := db.QueryContext(ctx, `SELECT CAST(name AS BLOB) FROM sqlite_master m WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE 'libsql\_%' ESCAPE '\' AND name <> 'schema_migrations'
		AND NOT EXISTS (SELECT 1 FROM sqlite_master v WHERE v.type = 'table'
			AND v.sql LIKE 'CREATE VIRTUAL TABLE%' AND m.name LIKE v.name || '\_%' ESCAPE '\')
		ORDER BY name`)
	if err != nil {
		tb.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			tb.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string][]string{}
	for _, t := range tables {
		order := rowOrder(tb, db, t)
		r, err := db.QueryContext(ctx, `SELECT * FROM "`+t+`" ORDER BY `+order)
		if err != nil {
			tb.Fatal(err)
		}
		cols, _ := r.Columns()
		r.Close()
		var sel []string
		for _, c := range cols {
			sel = append(sel, fmt.Sprintf(`typeof("%s") || ':' || quote("%s")`, c, c))
		}
		r, err = db.QueryContext(ctx, `SELECT CAST(`+strings.Join(sel, " || '|' || ")+` AS BLOB) FROM "`+t+`" ORDER BY `+order)
		if err != nil {
			tb.Fatal(err)
		}
		out[t] = []string{}
		for r.Next() {
			var line string
			if err := r.Scan(&line); err != nil {
				tb.Fatal(err)
			}
			out[t] = append(out[t], line)
		}
		if err := r.Err(); err != nil {
			tb.Fatal(err)
		}
		r.Close()
	}
	return out
}

// rowOrder returns the ORDER BY list that lists table's rows in storage order: rowid, or for
// a WITHOUT ROWID table its primary key columns.
func rowOrder(tb testing.TB, db *sql.DB, table string) string {
	tb.Helper()
	var withoutRowid bool
	if err := db.QueryRow(`SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?`, table).Scan(&withoutRowid); err != nil {
		tb.Fatalf("%s: %v", table, err)
	}
	if !withoutRowid {
		return "rowid"
	}
	rows, err := db.Query(`SELECT CAST(name AS BLOB) FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var key []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			tb.Fatal(err)
		}
		key = append(key, `"`+c+`"`)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(key) == 0 {
		tb.Fatalf("%s: a WITHOUT ROWID table without a primary key", table)
	}
	return strings.Join(key, ", ")
}

// equalDumps fails the test where two dumps differ.
func equalDumps(tb testing.TB, what string, got, want map[string][]string) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: tables %v, want %v", what, keys(got), keys(want))
	}
	for t, w := range want {
		g := got[t]
		if len(g) != len(w) {
			tb.Fatalf("%s: %s has %d rows, want %d", what, t, len(g), len(w))
		}
		for i := range w {
			if g[i] != w[i] {
				tb.Fatalf("%s: %s row %d:\n got %s\nwant %s", what, t, i, g[i], w[i])
			}
		}
	}
}

// counts returns how many rows each table of a dump holds.
func counts(m map[string][]string) map[string]int {
	c := map[string]int{}
	for t, rows := range m {
		c[t] = len(rows)
	}
	return c
}

func keys(m map[string][]string) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}

// version returns the schema version in a tenant's file; dirty or unreadable fails the test.
func version(tb testing.TB, db *sql.DB) uint {
	tb.Helper()
	v, err := schema.Current(db)
	if err != nil {
		tb.Fatalf("schema.Current: %v", err)
	}
	return v
}

// hasObject reports whether db has a schema object (table, index) of that name.
func hasObject(tb testing.TB, db *sql.DB, name string) bool {
	tb.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = ?", name).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n > 0
}

// hasColumn reports whether table has column.
func hasColumn(tb testing.TB, db *sql.DB, table, column string) bool {
	tb.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM pragma_table_info(?) WHERE name = ?", table, column).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n > 0
}

// byUsername reads an organization from the catalog.
func (e *env) byUsername(tb testing.TB, name string) catalog.Organization {
	tb.Helper()
	org, err := e.cat.ByUsername(context.Background(), name)
	if err != nil {
		tb.Fatalf("catalog.ByUsername(%s): %v", name, err)
	}
	return org
}
