package tenantdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// TestDeleteRemovesFilesStillHeld: deleting an organization while a request still holds its
// database keeps the files in place and the name reserved until the last holder releases it.
// Otherwise the username registered again gets new files under the same paths while the old
// handle is open, and SQLite's clean-up when that handle closes works on them by path.
func TestDeleteRemovesFilesStillHeld(t *testing.T) {
	dir := t.TempDir()
	reg, cat := newRegistry(t, tenantdb.Local{Dir: dir}, 4)
	ctx := context.Background()
	old := mustRegister(t, reg, "acme")
	h := mustAcquire(t, reg, old)
	if err := addAgent(ctx, h.DB, "Old Agent", "old@acme.example"); err != nil {
		t.Fatal(err)
	}
	if err := reg.Delete(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.ByID(ctx, old.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("catalog row after Delete: %v, want NotFound", err)
	}
	if got := tenantFiles(t, dir, old.DBName); len(got) == 0 {
		t.Fatal("the files were removed while a request still held the database")
	}
	if n := agentCount(t, h); n != 1 {
		t.Fatalf("the held handle sees %d agents, want 1", n)
	}
	_, err := reg.Acquire(ctx, old)
	wantKind(t, "Acquire of the deleted organization", err, apperr.Unavailable)

	// The name is reserved: registering it again waits for the release.
	registered := make(chan error, 1)
	fresh := newOrg("acme")
	go func() { registered <- reg.Register(ctx, &fresh) }()
	select {
	case err := <-registered:
		t.Fatalf("the name was registered again while the deleted database was held (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	h.Release()
	select {
	case err := <-registered:
		if err != nil {
			t.Fatalf("Register after the release: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Register still waits after the last holder released the deleted database")
	}
	fh := mustAcquire(t, reg, fresh)
	if n := agentCount(t, fh); n != 0 {
		t.Fatalf("the new organization sees %d agents of the deleted one, want 0", n)
	}
	if err := addAgent(ctx, fh.DB, "New Agent", "new@acme.example"); err != nil {
		t.Fatal(err)
	}
	fh.Release()
	reg.Close()
	reg = newRegistryOn(t, tenantdb.Local{Dir: dir}, cat, tenantMigrations, 4)
	fh = mustAcquire(t, reg, fresh)
	n := agentCount(t, fh)
	fh.Release()
	if n != 1 {
		t.Fatalf("after a restart the new organization has %d agents, want its 1", n)
	}

	// Deleting with no holder drops the files at once.
	if err := reg.Delete(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if got := tenantFiles(t, dir, fresh.DBName); len(got) != 0 {
		t.Fatalf("files left after deleting an unheld database: %v", got)
	}
	mustAcquire(t, reg, mustRegister(t, reg, "acme")).Release()
}
