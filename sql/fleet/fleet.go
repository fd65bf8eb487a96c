// Package fleet operates every tenant database at once, for the operator commands
// `tenantdesk migrate`, `tenantdesk tenants list|check|delete|import`, `tenantdesk backup` and
// `tenantdesk restore` (see Main). It works only through the catalog, the tenant Registry and
// the schema package, so it runs on every backend the Registry supports.
//
// A walk over the fleet runs on a bounded worker pool, shows a progress bar on a terminal
// (plain lines otherwise) and ends with a summary; one tenant's failure is reported and never
// stops the others.
package fleet

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"runtime"
	"strings"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// Fleet is an opened catalog and tenant registry, as the server has them, plus where command
// output goes.
type Fleet struct {
	Catalog *catalog.Store
	Tenants *tenantdb.Registry
	// Backend is TENANT_BACKEND ("local", "sqld", "turso"): the kind new tenants are made on.
	Backend string
	// DataDir is DATA_DIR; local tenant files live there.
	DataDir string
	// AppName prefixes every tenant database name: <AppName>-<username>.
	AppName string
	// CatalogFrom and CatalogTo are the catalog's schema versions before and after it was
	// opened (opening migrates it, as the server does).
	CatalogFrom, CatalogTo uint

	// Out receives results (tables, summaries); Err progress and failures. Both default to
	// io.Discard.
	Out, Err io.Writer
	Log      *slog.Logger
}

func (f *Fleet) out() io.Writer {
	if f.Out == nil {
		return io.Discard
	}
	return f.Out
}

func (f *Fleet) errw() io.Writer {
	if f.Err == nil {
		return io.Discard
	}
	return f.Err
}

func (f *Fleet) log() *slog.Logger {
	if f.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return f.Log
}

// migrations returns the tenant migrations the Registry applies.
func (f *Fleet) migrations() fs.FS { return f.Tenants.Migrations() }

// local reports whether tenants of this organization are local files (which backups copy).
func local(org catalog.Organization) bool { return org.DBBackend == "" || org.DBBackend == "local" }

// DefaultConcurrency is the worker pool size when --concurrency is not given: local files are
// bound by the disk and the CPU (statement parsing), so a few per core; a remote backend opens
// an embedded replica per tenant and holds a connection on the server, so few.
func DefaultConcurrency(backend string) int {
	if backend == "" || backend == "local" {
		return max(4, min(4*runtime.NumCPU(), 32))
	}
	return 4
}

// orgs returns the organizations to walk: all, or the one named by name (its username or its
// database name), which must exist.
func (f *Fleet) orgs(ctx context.Context, name string) ([]catalog.Organization, error) {
	if name == "" {
		return f.Catalog.All(ctx)
	}
	org, err := f.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	return []catalog.Organization{org}, nil
}

// lookup finds an organization by username, or by database name.
func (f *Fleet) lookup(ctx context.Context, name string) (catalog.Organization, error) {
	org, err := f.Catalog.ByUsername(ctx, name)
	if apperr.Is(err, apperr.NotFound) && strings.HasPrefix(name, f.AppName+"-") {
		org, err = f.Catalog.ByUsername(ctx, strings.TrimPrefix(name, f.AppName+"-"))
	}
	if apperr.Is(err, apperr.NotFound) {
		return catalog.Organization{}, fmt.Errorf("no organization %q in the catalog", name)
	}
	return org, err
}

// Failure is one tenant a command could not handle.
type Failure struct {
	Tenant string `json:"tenant"`
	DBName string `json:"db_name"`
	Err    string `json:"error"`
}

// oneLine shortens an error to one line for tables and summaries.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
