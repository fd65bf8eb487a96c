package fleet_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/sql/fleet"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb/sqldtest"
)

// sqldRegistry returns a Registry on sqld whose replicas live in their own directory, as each
// process (the server, an operator command) has.
func sqldRegistry(t *testing.T, e *env, s *sqldtest.Server, migrations fs.FS, replicas string) *tenantdb.Registry {
	t.Helper()
	prov, err := tenantdb.NewSqld(tenantdb.SqldConfig{AdminURL: s.AdminURL(), AdminKey: s.AdminKey,
		DBURL: s.DBURLTemplate(), Replicas: tenantdb.ReplicaConfig{Dir: filepath.Join(e.dir, replicas)}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := tenantdb.CredentialKey(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := tenantdb.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := tenantdb.New(tenantdb.Config{Backend: prov, Catalog: e.cat, Migrations: migrations, MaxOpen: 8,
		Log: testLogger(t), Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	return reg
}

// TestFleetOnSqld runs the operator commands against tenants on a real sqld (each tenant a
// namespace, opened as an embedded replica): migrate, list, check, import of a local export,
// backup (replicas skipped unless asked) and restore of one tenant.
func TestFleetOnSqld(t *testing.T) {
	ctx := context.Background()
	s := sqldtest.Start(t)
	e := newEnv(t, tenantMigrations)
	server := sqldRegistry(t, e, s, tenantMigrations, "replicas")
	e.reg = server
	for _, name := range []string{"rema", "remb"} {
		e.register(t, name)
	}
	rema := e.byUsername(t, "rema")
	e.fill(t, rema, 3)
	server.Close() // a stopped server: the operator command has the replicas to itself

	m2 := os.DirFS(migrationsWith(t, next))
	f := *e.f
	f.Backend = "sqld"
	f.Tenants = sqldRegistry(t, e, s, m2, "maintenance")
	res, err := f.Migrate(ctx, fleet.MigrateOptions{})
	if err != nil || res.Failed() || res.Migrated != 2 {
		t.Fatalf("migrate on sqld: %+v %v", res, err)
	}
	list, err := f.List(ctx, fleet.ListOptions{Open: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range list {
		if tn.Health != "ok" || tn.FileVersion != testVersion || tn.Backend != "sqld" || tn.Size <= 0 {
			t.Errorf("list: %+v", tn)
		}
	}
	if res, err := f.Check(ctx, fleet.CheckOptions{Full: true}); err != nil || len(res.Failures) != 0 {
		t.Fatalf("check on sqld: %+v %v", res, err)
	}
	if res, err := f.Reindex(ctx, fleet.ReindexOptions{}); err != nil || res.Failed() || res.Done != 2 {
		t.Fatalf("reindex on sqld: %+v %v", res, err)
	}

	// A local export imported onto sqld, equal row for row.
	local := newEnv(t, tenantMigrations)
	acme := local.register(t, "acme")
	local.fill(t, acme, 4)
	export := local.export(t, acme)
	imp, err := f.Import(ctx, fleet.ImportOptions{File: export, Username: "remc", Email: "c@example.com",
		Password: "long enough pw", BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatalf("import onto sqld: %v", err)
	}
	if imp.Org.DBBackend != "sqld" || imp.Org.SchemaVersion != testVersion || imp.Org.DBSecret == "" {
		t.Fatalf("imported: %+v", imp.Org)
	}
	snap := func(username string) map[string][]string {
		h, err := f.Tenants.Acquire(ctx, e.byUsername(t, username))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), username+".db")
		err = h.Snapshot(path)
		h.Release()
		if err != nil {
			t.Fatal(err)
		}
		return openCopy(t, path)
	}
	got, want := snap("remc"), openCopy(t, export)
	for _, table := range []string{"agents", "tickets", "conversations", "messages"} {
		if len(got[table]) != len(want[table]) {
			t.Fatalf("%s: %d rows on sqld, %d in the export", table, len(got[table]), len(want[table]))
		}
	}
	f.Tenants.Close()
	f.Tenants = sqldRegistry(t, e, s, m2, "maintenance2")

	// Backups skip replicas unless asked.
	out := filepath.Join(t.TempDir(), "skip")
	br, err := f.Backup(ctx, fleet.BackupOptions{Out: out})
	if err != nil || len(br.Manifest.Skipped) != 3 || len(br.Manifest.Files) != 1 {
		t.Fatalf("backup without --include-replicas: %+v %v", br, err)
	}
	if !strings.Contains(e.err.String(), "primary is the source of truth") {
		t.Errorf("backup did not say why it skipped:\n%s", e.err)
	}
	out = filepath.Join(t.TempDir(), "all")
	br, err = f.Backup(ctx, fleet.BackupOptions{Out: out, IncludeReplicas: true})
	if err != nil || len(br.Manifest.Files) != 4 {
		t.Fatalf("backup --include-replicas: %+v %v", br, err)
	}
	before := snap("rema")
	f.Tenants.Close()
	f.Tenants = sqldRegistry(t, e, s, m2, "maintenance3")
	if _, err := f.RestoreTenant(ctx, fleet.RestoreOptions{From: out, Tenant: "rema", Force: true}); err != nil {
		t.Fatalf("restore --tenant --force on sqld: %v", err)
	}
	equalDumps(t, "rema restored on sqld", snap("rema"), before)
}
