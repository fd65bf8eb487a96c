package desk_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/search"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb/sqldtest"
)

// sqldDesk is a desk whose tenants live on a real sqld (each an embedded replica of its own
// namespace), with one organization registered.
type sqldDesk struct {
	svc *desk.Service
	org *catalog.Organization
	s   *sqldtest.Server
}

func newSqldDesk(t *testing.T) *sqldDesk {
	t.Helper()
	s := sqldtest.Start(t)
	dir := t.TempDir()
	catDB, err := sqlite.Open(filepath.Join(dir, "catalog.db"), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catDB.Close() })
	if _, err := schema.Up(catDB, catalogMigrations); err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(catDB)
	prov, err := tenantdb.NewSqld(tenantdb.SqldConfig{AdminURL: s.AdminURL(), AdminKey: s.AdminKey,
		DBURL: s.DBURLTemplate(), Replicas: tenantdb.ReplicaConfig{Dir: filepath.Join(dir, "replicas"), SyncInterval: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := tenantdb.CredentialKey(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := tenantdb.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := tenantdb.New(tenantdb.Config{Backend: prov, Catalog: cat, Migrations: tenantMigrations, MaxOpen: 8,
		Log: log, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	svc := desk.New(desk.Config{Registry: reg, Catalog: cat, Log: log, StateTTL: time.Second})
	t.Cleanup(func() { svc.Close(); reg.Close() })
	org := &catalog.Organization{Name: "Remote", Username: "remote", Email: "owner@remote.example", PasswordHash: "x",
		DBName: "tenantdesk-remote"}
	if err := svc.Register(context.Background(), org); err != nil {
		t.Fatal(err)
	}
	return &sqldDesk{svc: svc, org: org, s: s}
}

// TestSearchOnSqld: on an sqld tenant the migration's triggers run on the primary in each
// write's transaction, and searches read the replica's copy of the index.
func TestSearchOnSqld(t *testing.T) {
	ctx := context.Background()
	d := newSqldDesk(t)
	owner := desk.AsOwner(d.org.Name)
	ag, err := d.svc.CreateAgent(ctx, d.org, owner, "Rita Remote", "rita@remote.example", "h")
	if err != nil {
		t.Fatal(err)
	}
	rita := desk.AsAgent(ag)
	tk, _, err := d.svc.OpenTicket(ctx, d.org, desk.AsPublic(), desk.NewTicket{CustomerName: "Zoë Ümlaut",
		CustomerEmail: "zoe@example.com", Query: "Le colis est arrivé cassé"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.AddMessage(ctx, d.org, rita, tk.ConversationID, "Refund approved for the broken parcel"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.AddNote(ctx, d.org, rita, tk.ConversationID, "supplier warned"); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.SetTags(ctx, d.org, rita, tk.ID, []string{"damaged"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		text string
		kind search.Kind
	}{
		{"colis arrive casse", search.KindMessage},
		{"refun broken", search.KindMessage},
		{"supplier", search.KindNote},
		{"damaged", search.KindTag},
		{"zoe umlaut", search.KindContact},
	} {
		res, err := d.svc.Search(ctx, d.org, rita, desk.SearchQuery{Text: c.text, Priority: -1})
		if err != nil {
			t.Fatalf("Search(%q) on sqld: %v", c.text, err)
		}
		if len(res.Hits) != 1 || res.Hits[0].Ticket.ID != tk.ID || res.Hits[0].Kind != c.kind {
			t.Errorf("Search(%q) on sqld = %+v, want ticket %d by kind %d", c.text, res.Hits, tk.ID, c.kind)
		}
	}
}
