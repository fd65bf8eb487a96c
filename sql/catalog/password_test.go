package catalog_test

import (
	"context"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// TestSetPassword replaces one organization's hash and no other; a missing row is NotFound and
// an empty hash is refused.
func TestSetPassword(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a, b := newOrg("alpha"), newOrg("beta")
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	if err := s.SetPassword(ctx, a.ID, "new-hash"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ByID(ctx, a.ID); got.PasswordHash != "new-hash" {
		t.Errorf("alpha's hash = %q", got.PasswordHash)
	}
	if got, _ := s.ByID(ctx, b.ID); got.PasswordHash != "hash-beta" {
		t.Errorf("beta's hash changed to %q", got.PasswordHash)
	}
	wantKind(t, "unknown id", s.SetPassword(ctx, 999, "h"), apperr.NotFound, "")
	if err := s.SetPassword(ctx, a.ID, ""); err == nil {
		t.Error("an empty hash was accepted")
	}
}
