package fleet_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/fleet"
)

// populated returns an env with n organizations holding real data, and a session secret.
func populated(t *testing.T, n int) (*env, []catalog.Organization) {
	t.Helper()
	e := newEnv(t, tenantMigrations)
	var orgs []catalog.Organization
	for i := range n {
		org := e.register(t, fmt.Sprintf("org%d", i))
		e.fill(t, org, 3+i)
		orgs = append(orgs, org)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "session.secret"), []byte("a secret of sufficient length\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return e, orgs
}

func readManifest(t *testing.T, dir string) fleet.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m fleet.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// snapshotState records every tenant's rows and the catalog's organizations.
func snapshotState(t *testing.T, e *env) (map[string]map[string][]string, []catalog.Organization) {
	t.Helper()
	orgs, err := e.cat.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]map[string][]string{}
	for _, org := range orgs {
		db := e.openTenant(t, org.DBName)
		data[org.Username] = dump(t, db)
		db.Close()
	}
	return data, orgs
}

// TestBackupWipeRestore backs up the catalog and every tenant, wipes DATA_DIR, restores it all
// and finds every organization and every row as it was.
func TestBackupWipeRestore(t *testing.T) {
	e, _ := populated(t, 5)
	out := filepath.Join(t.TempDir(), "backup")
	if err := e.main(e.f, "", "backup", "--out", out, "--concurrency", "3"); err != nil {
		t.Fatalf("backup: %v\n%s", err, e.err)
	}
	m := readManifest(t, out)
	if len(m.Files) != 7 || m.Files[0].Kind != "catalog" || m.CompletedAt.IsZero() || m.CatalogVersion == 0 || m.TenantVersion != realVersion {
		t.Fatalf("manifest: %+v", m)
	}
	for _, mf := range m.Files {
		b, err := os.ReadFile(filepath.Join(out, mf.Path))
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		if hex.EncodeToString(s[:]) != mf.SHA256 || int64(len(b)) != mf.Size {
			t.Fatalf("%s: size or checksum differs from the manifest", mf.Path)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.partial.jsonl")); !os.IsNotExist(err) {
		t.Fatal("the journal of a complete backup remains")
	}
	if err := e.main(e.f, "", "backup", "--out", out); err == nil || !strings.Contains(err.Error(), "already holds a complete backup") {
		t.Fatalf("a second backup into the same directory: %v", err)
	}
	wantData, wantOrgs := snapshotState(t, e)

	// Wipe: the server is stopped, DATA_DIR is lost.
	e.reg.Close()
	e.catDB.Close()
	if err := os.RemoveAll(e.dir); err != nil {
		t.Fatal(err)
	}
	restore := func(args ...string) error {
		return fleet.Main(context.Background(), append([]string{"restore", "--from", out}, args...), fleet.Env{
			Open: func() (*fleet.Fleet, func(), error) {
				return nil, nil, errors.New("a full restore must not open the catalog")
			},
			DataDir: e.dir, Backend: "local", AppName: "tenantdesk", Stdout: e.out, Stderr: e.err,
		})
	}
	if err := restore(); err != nil {
		t.Fatalf("restore: %v\n%s", err, e.err)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, "session.secret")); err != nil || string(b) != "a secret of sufficient length\n" {
		t.Fatalf("session secret: %q %v", b, err)
	}
	r := openEnv(t, e.dir, tenantMigrations)
	gotData, gotOrgs := snapshotState(t, r)
	if len(gotOrgs) != len(wantOrgs) {
		t.Fatalf("%d organizations after restore, want %d", len(gotOrgs), len(wantOrgs))
	}
	for i := range wantOrgs {
		if gotOrgs[i] != wantOrgs[i] {
			t.Fatalf("organization %d:\n got %+v\nwant %+v", i, gotOrgs[i], wantOrgs[i])
		}
		equalDumps(t, "restored "+wantOrgs[i].Username, gotData[wantOrgs[i].Username], wantData[wantOrgs[i].Username])
	}
	// The restored tenants open and migrate like any other.
	if res, err := r.f.Migrate(context.Background(), fleet.MigrateOptions{Recheck: true}); err != nil || res.Failed() || res.Current != 5 {
		t.Fatalf("migrate after restore: %+v %v", res, err)
	}
	// A full restore over a live catalog needs --force.
	if err := restore(); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("restore over a live catalog: %v", err)
	}
}

// TestBackupResumes interrupts a backup (one tenant cannot be read), then runs it again: the
// files already written are kept when their checksums match and written again when not.
func TestBackupResumes(t *testing.T) {
	ctx := context.Background()
	e, orgs := populated(t, 5)
	out := filepath.Join(t.TempDir(), "backup")
	hidden := filepath.Join(e.dir, orgs[2].DBName+".db")
	if err := os.Rename(hidden, hidden+".away"); err != nil {
		t.Fatal(err)
	}
	res, err := e.f.Backup(ctx, fleet.BackupOptions{Out: out, Concurrency: 2, SecretFile: filepath.Join(e.dir, "session.secret")})
	if err == nil || len(res.Failures) != 1 || res.Failures[0].Tenant != "org2" || res.Written != 6 {
		t.Fatalf("backup with an unreadable tenant: %+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); !os.IsNotExist(err) {
		t.Fatal("an incomplete backup wrote manifest.json")
	}
	// Restoring an incomplete backup is refused.
	if err := e.main(e.f, "", "restore", "--from", out, "--tenant", "org1"); err == nil || !strings.Contains(err.Error(), "not a complete backup") {
		t.Fatalf("restore of an incomplete backup: %v", err)
	}
	// Damage one written file: it must be written again.
	damaged := filepath.Join(out, "tenants", orgs[4].DBName+".db")
	if err := os.WriteFile(damaged, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(hidden+".away", hidden); err != nil {
		t.Fatal(err)
	}
	res, err = e.f.Backup(ctx, fleet.BackupOptions{Out: out, Concurrency: 2, SecretFile: filepath.Join(e.dir, "session.secret")})
	if err != nil {
		t.Fatalf("resumed backup: %v", err)
	}
	// catalog, secret and three tenants kept; org2 and the damaged org4 written.
	if res.Resumed != 5 || res.Written != 2 {
		t.Fatalf("resumed backup: kept %d, wrote %d; want 5 and 2", res.Resumed, res.Written)
	}
	m := readManifest(t, out)
	if len(m.Files) != 7 {
		t.Fatalf("manifest lists %d files", len(m.Files))
	}
	if err := e.main(e.f, "", "restore", "--from", out, "--tenant", "org4", "--force"); err != nil {
		t.Fatalf("restore from the resumed backup: %v", err)
	}
}

// TestRestoreOneTenant puts one deleted organization back into a running system, refuses to
// overwrite a live one without --force, and refuses a backup whose checksum does not match.
func TestRestoreOneTenant(t *testing.T) {
	ctx := context.Background()
	e, orgs := populated(t, 3)
	out := filepath.Join(t.TempDir(), "backup")
	if _, err := e.f.Backup(ctx, fleet.BackupOptions{Out: out}); err != nil {
		t.Fatal(err)
	}
	want := dump(t, e.openTenant(t, orgs[1].DBName))
	if _, err := e.f.Delete(ctx, "org1"); err != nil {
		t.Fatal(err)
	}
	if err := e.main(e.f, "", "restore", "--from", out, "--tenant", "org1"); err != nil {
		t.Fatalf("restore --tenant: %v", err)
	}
	got := e.byUsername(t, "org1")
	if got.Email != orgs[1].Email || got.PasswordHash != orgs[1].PasswordHash || got.Name != orgs[1].Name || got.SchemaVersion != realVersion {
		t.Fatalf("restored organization: %+v", got)
	}
	equalDumps(t, "restored org1", dump(t, e.openTenant(t, got.DBName)), want)

	// Live: refused, then replaced with --force (a row written since is gone again).
	h, err := e.reg.Acquire(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.DB.ExecContext(ctx, `INSERT INTO agents (full_name, email, password_hash, created_at, updated_at)
		VALUES ('Late Agent', 'late@example.com', 'h', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	h.Release()
	if err := e.main(e.f, "", "restore", "--from", out, "--tenant", "org1"); err == nil || !strings.Contains(err.Error(), "is live") {
		t.Fatalf("restore over a live organization: %v", err)
	}
	if err := e.main(e.f, "", "restore", "--from", out, "--tenant", "org1", "--force"); err != nil {
		t.Fatalf("restore --force: %v", err)
	}
	equalDumps(t, "force-restored org1", dump(t, e.openTenant(t, "tenantdesk-org1")), want)

	// A damaged backup restores nothing.
	path := filepath.Join(out, "tenants", "tenantdesk-org0.db")
	b, _ := os.ReadFile(path)
	b[len(b)-1] ^= 0xff
	os.WriteFile(path, b, 0o600)
	if err := e.main(e.f, "", "restore", "--from", out, "--tenant", "org0", "--force"); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("restore from a damaged backup: %v", err)
	}
	e.byUsername(t, "org0") // still there
}
