package fleet_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/fleet"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// export snapshots org's database as GET /dash/export does (Handle.Snapshot) into a new file.
func (e *env) export(t *testing.T, org catalog.Organization) string {
	t.Helper()
	h, err := e.reg.Acquire(context.Background(), org)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	path := filepath.Join(t.TempDir(), org.Username+".sqlite")
	if err := h.Snapshot(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// openCopy dumps a copy of an SQLite file, leaving the file itself untouched.
func openCopy(t *testing.T, path string) map[string][]string {
	t.Helper()
	return dump(t, copyOf(t, path))
}

// copyOf opens a copy of the SQLite file at path (closed when the test ends).
func copyOf(t *testing.T, path string) *sql.DB {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(cp, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestExportImportRoundTrip exports a tenant with real data, imports the file as a new
// organization with `tenants import`, and finds every table equal row for row; the file is not
// changed, the login works, the new tenant opens like any other.
func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, tenantMigrations)
	acme := e.register(t, "acme")
	e.fill(t, acme, 12)
	path := e.export(t, acme)
	before := sum(t, path)

	err := e.main(e.f, "", "tenants", "import", path, "--username", "acme2", "--email", "Boss@Acme2.example", "--name", "Acme Two")
	if err != nil {
		t.Fatalf("tenants import: %v\n%s", err, e.err)
	}
	if sum(t, path) != before {
		t.Fatal("import changed the exported file")
	}
	m := regexp.MustCompile(`with the password (\S+) \(shown only now`).FindStringSubmatch(e.out.String())
	if m == nil {
		t.Fatalf("no generated password in the output:\n%s", e.out)
	}
	imported := e.byUsername(t, "acme2")
	if imported.Name != "Acme Two" || imported.Email != "boss@acme2.example" || imported.DBName != "tenantdesk-acme2" ||
		imported.SchemaVersion != realVersion || imported.DBBackend != "local" {
		t.Fatalf("imported organization: %+v", imported)
	}
	if bcrypt.CompareHashAndPassword([]byte(imported.PasswordHash), []byte(m[1])) != nil {
		t.Fatal("the printed password does not log in")
	}
	want := openCopy(t, path)
	if len(want["messages"]) == 0 || len(want["tickets"]) != 12 || len(want["agents"]) != 2 || len(want["conversations"]) != 12 ||
		len(want["contacts"]) != 6 || len(want["ticket_tags"]) == 0 || len(want["mentions"]) == 0 ||
		len(want["canned_replies"]) != 1 || len(want["settings"]) != 1 || len(want["attachments"]) != 4 ||
		len(want["attachment_chunks"]) != 6 || len(want["ticket_search"]) == 0 {
		t.Fatalf("the export holds too little to prove anything: %v", counts(want))
	}
	equalDumps(t, "imported tenant", dump(t, e.openTenant(t, imported.DBName)), want)
	// Ids once used stay used: the AUTOINCREMENT counters come along.
	if got, exp := sequences(t, e.openTenant(t, imported.DBName)), sequencesOf(t, path); got != exp || !strings.Contains(exp, "canned_replies=2") {
		t.Errorf("sqlite_sequence of the imported tenant: %s, of the export: %s", got, exp)
	}
	h, err := e.reg.Acquire(ctx, imported)
	if err != nil {
		t.Fatal(err)
	}
	var agents int
	err = h.DB.QueryRowContext(ctx, "SELECT count(*) FROM agents").Scan(&agents)
	h.Release()
	if err != nil || agents != 2 {
		t.Fatalf("agents of the imported tenant: %d %v", agents, err)
	}

	// The password can come from stdin instead.
	if err := e.main(e.f, "correct horse battery\n", "tenants", "import", path, "--username", "acme3",
		"--email", "acme3@example.com", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(e.byUsername(t, "acme3").PasswordHash), []byte("correct horse battery")) != nil {
		t.Fatal("--password-stdin: the password does not log in")
	}

	// An export of an older schema is migrated after the copy.
	f2 := e.withMigrations(t, os.DirFS(migrationsWith(t, next)))
	res, err := f2.Import(ctx, fleet.ImportOptions{File: path, Username: "acmev2", Email: "v2@example.com", Password: "long enough pw", BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	if res.FromVersion != realVersion || res.Org.SchemaVersion != testVersion {
		t.Fatalf("import of a version %d file into %d: %+v", realVersion, testVersion, res)
	}
	db := e.openTenant(t, "tenantdesk-acmev2")
	if !hasColumn(t, db, "tickets", "test_flag") || version(t, db) != testVersion {
		t.Fatal("the imported tenant was not migrated")
	}
	got := dump(t, db)
	if len(got["messages"]) != len(want["messages"]) || len(got["tickets"]) != len(want["tickets"]) {
		t.Fatal("rows lost importing an older export")
	}
}

// TestImportRejects checks the file and the arguments before anything is created.
func TestImportRejects(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, tenantMigrations)
	acme := e.register(t, "acme")
	good := e.export(t, acme)
	dir := t.TempDir()

	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("SQLite format 2, honestly"), 0o600)
	foreign := filepath.Join(dir, "foreign.db")
	if db, err := sqlite.Open(foreign, 1); err == nil {
		db.Exec("CREATE TABLE stuff (x)")
		db.Exec("VACUUM INTO ?", foreign+".snap")
		db.Close()
	}
	withTrigger := filepath.Join(dir, "trigger.db")
	{
		b, _ := os.ReadFile(good)
		os.WriteFile(withTrigger, b, 0o600)
		db, err := sqlite.Open(withTrigger, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("CREATE TRIGGER evil AFTER INSERT ON messages BEGIN DELETE FROM agents; END"); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	// A file from a newer build: the test migration's version.
	e2 := newEnv(t, os.DirFS(migrationsWith(t, next)))
	newer := e2.export(t, e2.register(t, "future"))

	for _, c := range []struct {
		name string
		opts fleet.ImportOptions
		want string
	}{
		{"not sqlite", fleet.ImportOptions{File: text}, "not an SQLite database"},
		{"foreign schema", fleet.ImportOptions{File: foreign + ".snap"}, "no tenantdesk helpdesk"},
		{"extra trigger", fleet.ImportOptions{File: withTrigger}, "trigger evil"},
		{"newer schema", fleet.ImportOptions{File: newer}, "newer than this build"},
		{"missing file", fleet.ImportOptions{File: filepath.Join(dir, "nope.db")}, "no such file"},
		{"no email", fleet.ImportOptions{File: good, Email: "-"}, "--email is required"},
		{"bad username", fleet.ImportOptions{File: good, Username: "../x"}, "--username"},
		{"reserved username", fleet.ImportOptions{File: good, Username: "login"}, "reserved"},
		{"short password", fleet.ImportOptions{File: good, Password: "short"}, "8–64"},
	} {
		o := c.opts
		if o.Username == "" {
			o.Username = "newco"
		}
		switch o.Email {
		case "":
			o.Email = "new@example.com"
		case "-":
			o.Email = ""
		}
		_, err := e.f.Import(ctx, o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	_, err := e.f.Import(ctx, fleet.ImportOptions{File: good, Username: "acme", Email: "other@example.com"})
	if !apperr.Is(err, apperr.Conflict) {
		t.Errorf("taken username: %v, want a Conflict", err)
	}
	_, err = e.f.Import(ctx, fleet.ImportOptions{File: good, Username: "newco", Email: acme.Email})
	if !apperr.Is(err, apperr.Conflict) {
		t.Errorf("taken email: %v, want a Conflict", err)
	}
	orgs, _ := e.cat.All(ctx)
	if len(orgs) != 1 {
		t.Fatalf("rejected imports left organizations: %d", len(orgs))
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(filepath.Join(e.dir, "tenantdesk-newco.db"+suffix)); err == nil {
			t.Fatalf("a rejected import left tenantdesk-newco.db%s", suffix)
		}
	}
}

// TestTenantsDelete deletes an organization as an operator: no file, no catalog row, no lock
// row remain; the others are untouched.
func TestTenantsDelete(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, tenantMigrations)
	gone := e.register(t, "gone")
	e.fill(t, gone, 3)
	kept := e.register(t, "kept")
	// Refused without confirmation.
	if err := e.main(e.f, "something else\n", "tenants", "delete", "gone"); err == nil {
		t.Fatal("delete without confirmation went ahead")
	}
	e.byUsername(t, "gone")
	if err := e.main(e.f, "gone\n", "tenants", "delete", "gone"); err != nil {
		t.Fatalf("tenants delete: %v", err)
	}
	if _, err := e.cat.ByUsername(ctx, "gone"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("catalog row remains: %v", err)
	}
	var locks int
	if err := e.catDB.QueryRow("SELECT count(*) FROM migration_locks").Scan(&locks); err != nil {
		t.Fatal(err)
	}
	if locks != 0 {
		t.Fatal("lock rows remain")
	}
	entries, err := os.ReadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, en := range entries {
		seen++
		if strings.HasPrefix(en.Name(), gone.DBName) {
			t.Fatalf("file %s remains", en.Name())
		}
	}
	if seen < 2 { // at least the catalog and the kept tenant
		t.Fatalf("DATA_DIR lists %d entries, want the catalog and the kept tenant at least", seen)
	}
	if _, err := os.Stat(filepath.Join(e.dir, kept.DBName+".db")); err != nil {
		t.Fatal("the other tenant's file is gone")
	}
	if err := e.main(e.f, "", "tenants", "delete", "gone", "--yes"); err == nil {
		t.Fatal("deleting a missing organization succeeded")
	}
}

// TestTenantsListAndCheck lists tenants with their health and checks their integrity; a
// damaged database, a failed migration and a missing file are each reported.
func TestTenantsListAndCheck(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, tenantMigrations)
	ok := e.register(t, "okay")
	e.fill(t, ok, 2)
	broken := e.register(t, "broken")
	e.fill(t, broken, 40)
	missing := e.register(t, "missing")
	failed := e.register(t, "failed")
	if err := e.cat.SetSchemaVersion(ctx, failed.ID, 1, "schema: migration 2: boom"); err != nil {
		t.Fatal(err)
	}
	e.reg.Close() // no tenant open while files are damaged
	os.Remove(filepath.Join(e.dir, missing.DBName+".db"))
	// Damage the messages table's pages (not the header or the schema).
	path := filepath.Join(e.dir, broken.DBName+".db")
	{
		db, err := sqlite.Open(path, 1)
		if err != nil {
			t.Fatal(err)
		}
		db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		var root int
		db.QueryRow("SELECT rootpage FROM sqlite_master WHERE name = 'messages'").Scan(&root)
		db.Close()
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte(strings.Repeat("\xff", 64)), int64(root-1)*4096+8)
		f.Close()
	}
	e.reg = e.registry(t, tenantMigrations)
	e.f.Tenants = e.reg

	if err := e.main(e.f, "", "tenants", "list", "--json"); err != nil {
		t.Fatal(err)
	}
	var list []fleet.Tenant
	if err := json.Unmarshal([]byte(e.out.String()), &list); err != nil {
		t.Fatalf("%v:\n%s", err, e.out)
	}
	health := map[string]fleet.Tenant{}
	for _, tn := range list {
		health[tn.Name] = tn
	}
	if h := health["okay"]; h.Health != "ok" || h.Size <= 0 || h.LastActivity.IsZero() || h.SchemaVersion != realVersion || h.Backend != "local" {
		t.Errorf("okay: %+v", h)
	}
	if h := health["missing"]; !strings.HasPrefix(h.Health, "missing") {
		t.Errorf("missing: %+v", h)
	}
	if h := health["failed"]; !strings.Contains(h.Health, "migration failed: schema: migration 2: boom") {
		t.Errorf("failed: %+v", h)
	}
	e.out.b.Reset()
	if err := e.main(e.f, "", "tenants", "list"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.out.String(), "NAME") || !strings.Contains(e.out.String(), "okay") {
		t.Errorf("table:\n%s", e.out)
	}

	e.out.b.Reset()
	err := e.main(e.f, "", "tenants", "check")
	if err == nil {
		t.Fatal("check passed a damaged and a missing database")
	}
	out := e.out.String()
	if !strings.Contains(out, "broken (tenantdesk-broken)") || !strings.Contains(out, "missing (tenantdesk-missing)") ||
		strings.Contains(out, "okay (") {
		t.Errorf("check summary:\n%s", out)
	}
	e.out.b.Reset()
	if err := e.main(e.f, "", "tenants", "check", "--full", "--tenant", "okay"); err != nil {
		t.Fatalf("check --full of a sound tenant: %v\n%s", err, e.out)
	}
}

// sequences lists db's AUTOINCREMENT counters, "name=seq" by name.
func sequences(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query("SELECT CAST(name AS BLOB), seq FROM sqlite_sequence ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name []byte
		var seq int64
		if err := rows.Scan(&name, &seq); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s=%d", name, seq))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

// sequencesOf is sequences of a copy of the SQLite file at path.
func sequencesOf(t *testing.T, path string) string {
	t.Helper()
	return sequences(t, copyOf(t, path))
}
