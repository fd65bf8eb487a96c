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

// TestAttachmentsOnSqld: files stream into an sqld tenant chunk by chunk (each chunk a write
// to the primary), join their message in its transaction, and read back exactly from the
// replica, by ranges too; a discarded upload leaves nothing on the primary.
func TestAttachmentsOnSqld(t *testing.T) {
	ctx := context.Background()
	d := newSqldDesk(t)
	tk, token, err := d.svc.OpenTicket(ctx, d.org, desk.AsPublic(), desk.NewTicket{CustomerName: "Carla",
		CustomerEmail: "carla@example.com", Query: "see the photos"})
	if err != nil {
		t.Fatal(err)
	}
	cust := customerOf(token)
	up, err := d.svc.StartUpload(ctx, d.org, cust, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Discard()
	big := randomBytes(desk.ChunkSize*2+777, 9)
	f, err := up.Add(ctx, desk.NewFile{Name: "scan.bin"}, bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Add(ctx, desk.NewFile{Name: "photo.png"}, bytes.NewReader(pngFile)); err != nil {
		t.Fatal(err)
	}
	m, err := d.svc.AddMessageWithFiles(ctx, d.org, cust, 0, "", up)
	if err != nil || len(m.Files) != 2 {
		t.Fatalf("message with files on sqld: %+v, %v", m, err)
	}
	owner := desk.AsOwner(d.org.Name)
	dl, err := d.svc.Download(ctx, d.org, owner, tk.ConversationID, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, dl.Reader(0, -1)); !bytes.Equal(got, big) {
		t.Fatalf("read back %d bytes, differently", len(got))
	}
	if got := readAll(t, dl.Reader(desk.ChunkSize-1, 2)); !bytes.Equal(got, big[desk.ChunkSize-1:desk.ChunkSize+1]) {
		t.Errorf("a range across chunks: %v", got)
	}
	discarded, err := d.svc.StartUpload(ctx, d.org, cust, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := discarded.Add(ctx, desk.NewFile{Name: "gone.bin"}, bytes.NewReader(randomBytes(1000, 3))); err != nil {
		t.Fatal(err)
	}
	discarded.Discard()
	st, err := d.svc.Storage(ctx, d.org, owner)
	if err != nil || st.Files != 2 || st.FileBytes != int64(len(big)+len(pngFile)) {
		t.Errorf("storage on sqld: %+v, %v", st, err)
	}
}
