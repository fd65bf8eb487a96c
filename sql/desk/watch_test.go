package desk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// TestPollsOfEvictedTenantsNeedNoOpen: what the desk cached of a tenant stays good while the
// registry closes its database (more tenants than MaxOpen) and the watcher looks at it, from
// the first poll on: a poll of a tenant whose database is closed answers from memory, without
// opening it. Ten thousand tenants polled in turn would otherwise open a database per poll.
func TestPollsOfEvictedTenantsNeedNoOpen(t *testing.T) {
	tm := newTeam(t)
	ctx := context.Background()
	tk, cust := tm.open(t, "c@example.org", "Where is my parcel?")
	first, err := tm.svc.Poll(ctx, tm.org, cust, 0, 0, 50)
	if err != nil || len(first.Messages) == 0 {
		t.Fatalf("first poll: %+v, %v", first, err)
	}
	last := first.Messages[len(first.Messages)-1].ID
	// More tenants than the registry keeps open (8): acme's database is closed.
	for i := range 8 {
		org := &catalog.Organization{Name: "Other", Username: fmt.Sprintf("other%d", i), Email: fmt.Sprintf("o%d@example.org", i),
			PasswordHash: "x", DBName: fmt.Sprintf("tenantdesk-other%d", i)}
		if err := tm.svc.Register(ctx, org); err != nil {
			t.Fatal(err)
		}
		h, err := tm.reg.Acquire(ctx, *org)
		if err != nil {
			t.Fatal(err)
		}
		h.Release()
	}
	if tm.reg.IsOpen(tm.org.DBName) {
		t.Fatal("acme's database is still open")
	}
	_, opens, _ := tm.reg.Stats()
	for range 3 {
		time.Sleep(150 * time.Millisecond) // the watcher looks every 50 ms
		u, err := tm.svc.Poll(ctx, tm.org, cust, 0, last, 50)
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != "open" || len(u.Messages) != 0 {
			t.Fatalf("poll of ticket %d: status %q, %d messages", tk.ID, u.Status, len(u.Messages))
		}
	}
	if _, now, _ := tm.reg.Stats(); now != opens || tm.reg.IsOpen(tm.org.DBName) {
		t.Errorf("polls of a tenant nobody changed opened its database (%d opens before, %d after)", opens, now)
	}
}
