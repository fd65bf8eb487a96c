package catalog_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// migrations is one fs.FS value for the whole package, so schema's cache serves every test.
var migrations = os.DirFS("../migrations/catalog")

// openStore returns a Store on a fresh, migrated catalog in a temporary directory.
func openStore(tb testing.TB) *catalog.Store {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "catalog.db"), 4)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := schema.Up(db, migrations); err != nil {
		tb.Fatal(err)
	}
	return catalog.New(db)
}

// newOrg returns a valid organization whose unique fields derive from username.
func newOrg(username string) *catalog.Organization {
	return &catalog.Organization{
		Name:         "Org " + username,
		Website:      "https://" + username + ".example",
		Username:     username,
		Email:        username + "@example.com",
		PasswordHash: "hash-" + username,
		DBName:       "tenantdesk-" + username,
		DBURL:        "file:tenantdesk-" + username + ".db",
	}
}

// mustCreate inserts org or fails the test.
func mustCreate(tb testing.TB, s *catalog.Store, org *catalog.Organization) {
	tb.Helper()
	if err := s.Create(context.Background(), org); err != nil {
		tb.Fatalf("Create(%q): %v", org.Username, err)
	}
}

// wantKind fails the test unless err is an apperr of kind (and, if field != "", that field).
func wantKind(tb testing.TB, what string, err error, kind apperr.Kind, field string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%s: got nil error, want kind %d", what, kind)
	}
	e, ok := apperr.As(err)
	if !ok {
		tb.Fatalf("%s: got %T %v, want *apperr.Error of kind %d", what, err, err, kind)
	}
	if e.Kind != kind {
		tb.Errorf("%s: got kind %d (%v), want %d", what, e.Kind, err, kind)
	}
	if field != "" && e.Field != field {
		tb.Errorf("%s: got field %q, want %q", what, e.Field, field)
	}
}

func TestCreateSetsIDAndTimes(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	a, b := newOrg("acme"), newOrg("globex")
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	after := time.Now().Add(time.Second)
	if a.ID == 0 || b.ID == 0 || a.ID == b.ID {
		t.Fatalf("got IDs %d and %d, want two distinct non-zero IDs", a.ID, b.ID)
	}
	for name, tm := range map[string]time.Time{"CreatedAt": a.CreatedAt, "UpdatedAt": a.UpdatedAt, "MigratedAt": a.MigratedAt} {
		if tm.Before(before) || tm.After(after) {
			t.Errorf("%s = %v, want between %v and %v", name, tm, before, after)
		}
	}
	got, err := s.ByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(a.CreatedAt) || !got.UpdatedAt.Equal(a.UpdatedAt) {
		t.Errorf("stored times %v/%v, want %v/%v", got.CreatedAt, got.UpdatedAt, a.CreatedAt, a.UpdatedAt)
	}
	if *a != got {
		t.Errorf("ByID = %+v\nwant %+v", got, *a)
	}
}

// Empty optional text columns (website, logo, migration_error) are selected CAST AS BLOB: a
// zero-length blob must still scan into a string.
func TestEmptyOptionalFieldsRoundTrip(t *testing.T) {
	s := openStore(t)
	org := newOrg("plain")
	org.Website, org.Logo = "", ""
	mustCreate(t, s, org)
	got, err := s.ByUsername(context.Background(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	if got.Website != "" || got.Logo != "" || got.MigrationError != "" {
		t.Errorf("got website %q, logo %q, migration error %q; want all empty", got.Website, got.Logo, got.MigrationError)
	}
	list, err := s.List(context.Background(), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Website != "" {
		t.Errorf("List = %+v, want one listing with an empty website", list)
	}
}

func TestCreateDuplicateUsername(t *testing.T) {
	s := openStore(t)
	mustCreate(t, s, newOrg("acme"))
	dup := newOrg("acme")
	dup.Email = "other@example.com"
	dup.DBName, dup.DBURL = "tenantdesk-other", "file:tenantdesk-other.db"
	err := s.Create(context.Background(), dup)
	wantKind(t, "duplicate username", err, apperr.Conflict, "username")
	if dup.ID != 0 {
		t.Errorf("failed Create set ID %d, want 0", dup.ID)
	}
}

func TestCreateDuplicateEmail(t *testing.T) {
	s := openStore(t)
	mustCreate(t, s, newOrg("acme"))
	dup := newOrg("other")
	dup.Email = "acme@example.com"
	err := s.Create(context.Background(), dup)
	wantKind(t, "duplicate email", err, apperr.Conflict, "email")
	if _, err := s.ByUsername(context.Background(), "other"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("ByUsername after failed Create: got %v, want NotFound", err)
	}
}

func TestLookupsNotFound(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	org := newOrg("acme")
	mustCreate(t, s, org)
	_, err := s.ByUsername(ctx, "nobody")
	wantKind(t, "ByUsername", err, apperr.NotFound, "")
	_, err = s.ByEmail(ctx, "nobody@example.com")
	wantKind(t, "ByEmail", err, apperr.NotFound, "")
	_, err = s.ByID(ctx, org.ID+100)
	wantKind(t, "ByID", err, apperr.NotFound, "")

	for name, lookup := range map[string]func() (catalog.Organization, error){
		"ByUsername": func() (catalog.Organization, error) { return s.ByUsername(ctx, "acme") },
		"ByEmail":    func() (catalog.Organization, error) { return s.ByEmail(ctx, "acme@example.com") },
		"ByID":       func() (catalog.Organization, error) { return s.ByID(ctx, org.ID) },
	} {
		got, err := lookup()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got != *org {
			t.Errorf("%s = %+v\nwant %+v", name, got, *org)
		}
	}
}

func TestTaken(t *testing.T) {
	s := openStore(t)
	mustCreate(t, s, newOrg("acme"))
	for _, tc := range []struct {
		username, email string
		user, mail      bool
	}{
		{"acme", "new@example.com", true, false},
		{"new", "acme@example.com", false, true},
		{"acme", "acme@example.com", true, true},
		{"new", "new@example.com", false, false},
		{"ACME", "ACME@example.com", false, false}, // callers lower-case; the store compares exactly
	} {
		user, mail, err := s.Taken(context.Background(), tc.username, tc.email)
		if err != nil {
			t.Fatal(err)
		}
		if user != tc.user || mail != tc.mail {
			t.Errorf("Taken(%q, %q) = %v, %v; want %v, %v", tc.username, tc.email, user, mail, tc.user, tc.mail)
		}
	}
}

func TestListOrderLimitOffset(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	// Inserted out of order; two share a name, so id breaks the tie.
	for _, u := range []struct{ username, name string }{
		{"delta", "Delta"}, {"alpha", "Alpha"}, {"charlie", "Charlie"}, {"bravo1", "Bravo"}, {"bravo2", "Bravo"},
	} {
		org := newOrg(u.username)
		org.Name = u.name
		mustCreate(t, s, org)
	}
	all, err := s.List(ctx, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"alpha", "bravo1", "bravo2", "charlie", "delta"}
	if got := usernames(all); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("List(100, 0) = %v, want %v", got, want)
	}
	if all[0].Name != "Alpha" || all[0].Website != "https://alpha.example" {
		t.Errorf("List[0] = %+v, want Name Alpha and its website", all[0])
	}
	for _, tc := range []struct {
		limit, offset int
		want          []string
	}{
		{2, 0, want[:2]},
		{2, 2, want[2:4]},
		{2, 4, want[4:]},
		{2, 5, nil},
		{0, 0, nil},
	} {
		got, err := s.List(ctx, tc.limit, tc.offset)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(usernames(got)) != fmt.Sprint(tc.want) {
			t.Errorf("List(%d, %d) = %v, want %v", tc.limit, tc.offset, usernames(got), tc.want)
		}
	}
}

func usernames(ls []catalog.Listing) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Username)
	}
	return out
}

func TestAll(t *testing.T) {
	s := openStore(t)
	var want []int64
	for _, u := range []string{"zeta", "alpha", "mid"} {
		org := newOrg(u)
		mustCreate(t, s, org)
		want = append(want, org.ID)
	}
	all, err := s.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, o := range all {
		got = append(got, o.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("All ids = %v, want %v (by id)", got, want)
	}
}

func TestSetSchemaVersion(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	org := newOrg("acme")
	mustCreate(t, s, org)

	if err := s.SetSchemaVersion(ctx, org.ID, 7, "boom: no such table"); err != nil {
		t.Fatal(err)
	}
	got, err := s.ByID(ctx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SchemaVersion != 7 || got.MigrationError != "boom: no such table" {
		t.Errorf("got version %d, error %q; want 7, %q", got.SchemaVersion, got.MigrationError, "boom: no such table")
	}
	if got.MigratedAt.IsZero() {
		t.Error("MigratedAt is zero after SetSchemaVersion")
	}

	if err := s.SetSchemaVersion(ctx, org.ID, 8, ""); err != nil {
		t.Fatal(err)
	}
	if got, err = s.ByID(ctx, org.ID); err != nil {
		t.Fatal(err)
	}
	if got.SchemaVersion != 8 || got.MigrationError != "" {
		t.Errorf("got version %d, error %q; want 8, empty", got.SchemaVersion, got.MigrationError)
	}
}

func TestDelete(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	org, keep := newOrg("acme"), newOrg("keep")
	mustCreate(t, s, org)
	mustCreate(t, s, keep)
	if err := s.Delete(ctx, org.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.ByID(ctx, org.ID)
	wantKind(t, "ByID after Delete", err, apperr.NotFound, "")
	_, err = s.ByUsername(ctx, "acme")
	wantKind(t, "ByUsername after Delete", err, apperr.NotFound, "")
	wantKind(t, "second Delete", s.Delete(ctx, org.ID), apperr.NotFound, "")
	if _, err := s.ByID(ctx, keep.ID); err != nil {
		t.Errorf("other organization after Delete: %v", err)
	}
	// The username and email are free again.
	mustCreate(t, s, newOrg("acme"))
}

// go-libsql returns date-like TEXT as time.Time; the store selects text CAST AS BLOB so that
// such values come back exactly as stored.
func TestDateLikeTextRoundTrips(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	values := []string{
		"2024-01-02",
		"2024-01-02T03:04:05Z",
		"2024-01-02 03:04:05",
		"2024-01-02T03:04:05.999999999+01:00",
		"03:04:05",
	}
	for i, v := range values {
		org := newOrg(fmt.Sprintf("date%d", i))
		org.Name, org.Website, org.Logo, org.PasswordHash = v, v, v, v
		mustCreate(t, s, org)
		if err := s.SetSchemaVersion(ctx, org.ID, 1, v); err != nil {
			t.Fatal(err)
		}
		got, err := s.ByID(ctx, org.ID)
		if err != nil {
			t.Fatalf("ByID with %q: %v", v, err)
		}
		for field, g := range map[string]string{
			"Name": got.Name, "Website": got.Website, "Logo": got.Logo,
			"PasswordHash": got.PasswordHash, "MigrationError": got.MigrationError,
		} {
			if g != v {
				t.Errorf("%s = %q, want %q", field, g, v)
			}
		}
	}
	list, err := s.List(ctx, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(values) {
		t.Fatalf("List returned %d rows, want %d", len(list), len(values))
	}
	seen := map[string]bool{}
	for _, l := range list {
		if l.Name != l.Website {
			t.Errorf("listing %q: name %q, website %q; want both the stored text", l.Username, l.Name, l.Website)
		}
		seen[l.Name] = true
	}
	for _, v := range values {
		if !seen[v] {
			t.Errorf("List lost name %q; got %+v", v, list)
		}
	}
}

func TestPing(t *testing.T) {
	s := openStore(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.DB().Close()
	if err := s.Ping(context.Background()); err == nil {
		t.Error("Ping on a closed database: got nil error")
	}
}
