package tenantdb_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// TestRegisterAndUseStress registers tenants two at a time and uses each (open, agent, ticket,
// take, message, release) with MaxOpen 32, so databases open and close all the time: 150 in
// every `go test`, 10,000 with TENANTDESK_STRESS=1 (one to two minutes). Without
// sql/sqlite/closeonce_linux.go the 10,000-tenant run fails in a quarter to a half of the runs
// — SQLITE_MISUSE on a fresh connection, a statement run on another tenant's connection ("no
// such table"), or a crash — because libSQL closes every connection twice.
func TestRegisterAndUseStress(t *testing.T) {
	tenants := int64(150)
	if os.Getenv("TENANTDESK_STRESS") != "" {
		tenants = 10000
	}
	cat := openCatalog(t)
	reg, err := tenantdb.New(tenantdb.Config{Backend: tenantdb.Local{Dir: t.TempDir()}, Catalog: cat,
		Migrations: tenantMigrations, MaxOpen: 32, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var next, used atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for {
				i := next.Add(1)
				if i > tenants {
					return
				}
				org := newOrg(fmt.Sprintf("s%05d", i))
				if err := reg.Register(ctx, &org); err != nil {
					t.Errorf("Register %d: %v", i, err)
					continue
				}
				h, err := reg.Acquire(ctx, org)
				if err != nil {
					t.Errorf("Acquire %d: %v", i, err)
					continue
				}
				err = addAgent(ctx, h.DB, "A", "a@x.example")
				if err == nil {
					err = addConversation(ctx, h.DB, "q", []byte(fmt.Sprint("tok", i)), "a@x.example", "m")
				}
				if err != nil {
					t.Errorf("tenant %d: %v", i, err)
				} else {
					used.Add(1)
				}
				h.Release()
			}
		}()
	}
	wg.Wait()
	if used.Load() != tenants {
		t.Fatalf("%d of %d tenants registered and used", used.Load(), tenants)
	}
	if open, opens, _ := reg.Stats(); open > 32 || opens < tenants {
		t.Fatalf("%d databases open (bound 32), %d opens for %d tenants", open, opens, tenants)
	}
}
