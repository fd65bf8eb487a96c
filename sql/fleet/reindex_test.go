package fleet_test

import (
	"reflect"
	"strings"
	"testing"
)

// TestReindex: `tenants check` finds a search index that no longer matches its documents,
// `tenants reindex NAME` rebuilds it from the rows (the same documents as before), and
// without names every tenant is rebuilt; an unknown name stops the command before it starts.
func TestReindex(t *testing.T) {
	e := newEnv(t, tenantMigrations)
	acme := e.register(t, "acme")
	e.fill(t, acme, 6)
	other := e.register(t, "other")
	e.fill(t, other, 3)
	db := e.openTenant(t, acme.DBName)
	want := dump(t, db)["ticket_search"]
	if len(want) < 6 {
		t.Fatalf("the filled tenant has %d documents", len(want))
	}
	// Damage the index behind FTS5's back: its stored text loses rows.
	if _, err := db.Exec(`DELETE FROM ticket_search_content WHERE id IN (SELECT id FROM ticket_search_content LIMIT 3)`); err != nil {
		t.Fatal(err)
	}
	err := e.main(e.f, "", "tenants", "check", "--tenant", "acme")
	if err == nil || !strings.Contains(e.out.String(), "search index") {
		t.Fatalf("check of a damaged index: %v\n%s", err, e.out)
	}

	e.out.b.Reset()
	if err := e.main(e.f, "", "tenants", "reindex", "acme"); err != nil {
		t.Fatalf("reindex acme: %v\n%s%s", err, e.out, e.err)
	}
	if !strings.Contains(e.out.String(), "reindexed 1 of 1 tenants") {
		t.Errorf("reindex output:\n%s", e.out)
	}
	if got := dump(t, db)["ticket_search"]; !reflect.DeepEqual(got, want) {
		t.Errorf("rebuilt index differs:\n got %v\nwant %v", got, want)
	}
	e.out.b.Reset()
	if err := e.main(e.f, "", "tenants", "check"); err != nil {
		t.Fatalf("check after reindex: %v\n%s", err, e.out)
	}

	e.out.b.Reset()
	if err := e.main(e.f, "", "tenants", "reindex"); err != nil || !strings.Contains(e.out.String(), "reindexed 2 of 2 tenants") {
		t.Errorf("reindex of every tenant: %v\n%s", err, e.out)
	}
	if err := e.main(e.f, "", "tenants", "reindex", "acme", "nosuch"); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("reindex of an unknown organization: %v", err)
	}
}
