package catalog_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// TestPendingDrops: deleting an organization records its database in the same transaction;
// a claim keeps other holders off until it expires or is released; a failure is recorded
// with its error and next attempt; finishing removes the record; an orphan is recorded once.
func TestPendingDrops(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	org := newOrg("acme")
	org.DBBackend = "turso"
	mustCreate(t, s, org)

	if err := s.DeleteQueueingDrop(ctx, org.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ByUsername(ctx, "acme"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("organization after DeleteQueueingDrop: %v", err)
	}
	wantKind(t, "deleting it again", s.DeleteQueueingDrop(ctx, org.ID), apperr.NotFound, "")
	list, err := s.PendingDrops(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("pending: %+v, %v", list, err)
	}
	if d := list[0]; d.Backend != "turso" || d.DBName != "tenantdesk-acme" || d.Reason != catalog.DropDeleted ||
		d.Attempts != 0 || d.NotBefore.After(time.Now()) {
		t.Fatalf("record: %+v", d)
	}

	if ok, err := s.ClaimDrop(ctx, "turso", "tenantdesk-acme", "a", time.Minute); err != nil || !ok {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, _ := s.ClaimDrop(ctx, "turso", "tenantdesk-acme", "b", time.Minute); ok {
		t.Fatal("a second holder claimed a held record")
	}
	if ok, _ := s.ClaimDrop(ctx, "local", "tenantdesk-acme", "b", time.Minute); ok {
		t.Fatal("claimed a record of another backend")
	}
	next := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := s.FailDrop(ctx, "turso", "tenantdesk-acme", "a", "500 boom", next); err != nil {
		t.Fatal(err)
	}
	d, ok, err := s.PendingDrop(ctx, "turso", "tenantdesk-acme")
	if err != nil || !ok || d.Attempts != 1 || d.LastError != "500 boom" || !d.NotBefore.Equal(next) || d.Holder != "" {
		t.Fatalf("after a failure: %+v %v %v", d, ok, err)
	}
	if ok, _ := s.ClaimDrop(ctx, "turso", "tenantdesk-acme", "b", time.Minute); !ok {
		t.Fatal("a released record could not be claimed")
	}
	if err := s.FinishDrop(ctx, "turso", "tenantdesk-acme", "a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.PendingDrop(ctx, "turso", "tenantdesk-acme"); !ok {
		t.Fatal("a holder that lost its claim removed the record")
	}
	if err := s.FinishDrop(ctx, "turso", "tenantdesk-acme", "b"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.PendingDrop(ctx, "turso", "tenantdesk-acme"); ok {
		t.Fatal("record left after FinishDrop")
	}

	for range 2 {
		if err := s.QueueDrop(ctx, "turso", "tenantdesk-lost", catalog.DropOrphan, "timeout"); err != nil {
			t.Fatal(err)
		}
	}
	if list, _ := s.PendingDrops(ctx); len(list) != 1 || list[0].Reason != catalog.DropOrphan || list[0].LastError != "timeout" {
		t.Fatalf("orphan records: %+v", list)
	}
	if held, err := s.HoldsDB(ctx, "turso", "tenantdesk-lost"); err != nil || held {
		t.Fatalf("HoldsDB of an orphan: %v %v", held, err)
	}
}

// TestSetDBSecret: a renewed credential replaces the stored one only while that is the one
// the caller read.
func TestSetDBSecret(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	org := newOrg("acme")
	org.DBSecret = "v1:old"
	mustCreate(t, s, org)
	if ok, err := s.SetDBSecret(ctx, org.ID, "v1:old", "v1:new"); err != nil || !ok {
		t.Fatalf("first renewal: %v %v", ok, err)
	}
	if ok, _ := s.SetDBSecret(ctx, org.ID, "v1:old", "v1:stale"); ok {
		t.Fatal("a renewal from a stale read overwrote a newer credential")
	}
	if got, _ := s.ByUsername(ctx, "acme"); got.DBSecret != "v1:new" {
		t.Fatalf("stored credential %q", got.DBSecret)
	}
	if held, _ := s.HoldsDB(ctx, "local", "tenantdesk-acme"); !held {
		t.Fatal("HoldsDB misses a registered database")
	}
}
