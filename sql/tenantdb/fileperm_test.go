package tenantdb_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/fileperm"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb/sqldtest"
)

// wantPrivate fails the test for every file under root that is not 0600 and every directory
// that is not 0700; it returns how many files it saw.
func wantPrivate(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			n++
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// withUmask runs the rest of the test under umask mask, as a process started with it would.
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// A local tenant's database, its -wal and -shm, and a snapshot of it are owner-only under
// umask 0.
func TestLocalTenantFilesPrivate(t *testing.T) {
	withUmask(t, 0)
	dir := filepath.Join(t.TempDir(), "data")
	if err := fileperm.MkdirAll(dir); err != nil { // as main makes DATA_DIR
		t.Fatal(err)
	}
	reg, _ := newRegistry(t, tenantdb.Local{Dir: dir}, 4)
	h := mustAcquire(t, reg, mustRegister(t, reg, "acme"))
	defer h.Release()
	if err := addAgent(context.Background(), h.DB, "Ada", "ada@acme.example"); err != nil {
		t.Fatal(err)
	}
	snaps := filepath.Join(t.TempDir(), "snaps")
	if err := h.Snapshot(filepath.Join(dir, "snapshot.db")); err != nil {
		t.Fatal(err)
	}
	if n := wantPrivate(t, dir); n < 4 {
		t.Fatalf("saw %d files, want the database, its -wal and -shm and the snapshot", n)
	}
	if err := h.Snapshot(filepath.Join(snaps, "missing-dir.db")); err == nil {
		t.Fatal("a snapshot into a missing directory succeeded")
	}
}

// An embedded replica's directory and files (go-libsql makes them with no mode of ours) and a
// snapshot of it are owner-only under umask 0.
func TestReplicaFilesPrivate(t *testing.T) {
	s := sqldtest.Start(t)
	withUmask(t, 0)
	dir := filepath.Join(t.TempDir(), "data")
	prov := newSqld(t, s, dir, testLogger(t))
	cat := openCatalog(t)
	reg, err := tenantdb.New(tenantdb.Config{Backend: prov, Catalog: cat, Migrations: migTenant, MaxOpen: 4,
		Log: testLogger(t), Sealer: testSealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	h := mustAcquire(t, reg, mustRegister(t, reg, "acme"))
	defer h.Release()
	if err := addAgent(context.Background(), h.DB, "Ada", "ada@acme.example"); err != nil {
		t.Fatal(err)
	}
	if err := h.Snapshot(filepath.Join(dir, "replicas", "snapshot.db")); err != nil {
		t.Fatal(err)
	}
	if n := wantPrivate(t, filepath.Join(dir, "replicas")); n < 3 {
		t.Fatalf("saw %d files, want the replica's files and the snapshot", n)
	}
}
