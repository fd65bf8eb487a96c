package tenantdb_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// BenchmarkAcquireCold opens a tenant that is not open, evicting another (MaxOpen 16, 200
// tenants in turn): what the first poll of a tenant after a while costs.
func BenchmarkAcquireCold(b *testing.B) {
	reg, _ := newRegistry(b, tenantdb.Local{Dir: b.TempDir()}, 16)
	orgs := make([]catalog.Organization, 200)
	for i := range orgs {
		orgs[i] = mustRegister(b, reg, fmt.Sprintf("t%03d", i))
	}
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		h, err := reg.Acquire(ctx, orgs[i%len(orgs)])
		if err != nil {
			b.Fatal(err)
		}
		h.Release()
		i++
	}
}

// BenchmarkRegister creates, migrates and records a tenant (POST /register without bcrypt).
func BenchmarkRegister(b *testing.B) {
	reg, _ := newRegistry(b, tenantdb.Local{Dir: b.TempDir()}, 16)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		mustRegister(b, reg, fmt.Sprintf("r%06d", i))
		i++
	}
}
