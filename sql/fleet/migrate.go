package fleet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// MigrateOptions are the flags of `tenantdesk migrate`.
type MigrateOptions struct {
	// Concurrency bounds the tenants migrated at once (DefaultConcurrency when < 1).
	Concurrency int
	// DryRun lists the versions each tenant would get, and changes nothing.
	DryRun bool
	// Tenant limits the run to one organization (username or database name).
	Tenant string
	// Recheck opens tenants the catalog records as current too, to find files that are
	// behind it (a restored file, say); otherwise they are skipped without being opened.
	Recheck bool
	// LockWait bounds how long a tenant waits for another migrator (a server's lazy
	// migration) to release it; default one minute. A tenant still locked then is a failure,
	// retried on the next run.
	LockWait time.Duration
}

// MigrateResult is what a migrate run did.
type MigrateResult struct {
	CatalogFrom, CatalogTo uint
	// Latest is the newest tenant schema version this build carries.
	Latest uint
	Total  int
	// Migrated ran at least one migration; Current needed none (Skipped of them without
	// being opened, because the catalog recorded them current); Newer are ahead of this build.
	Migrated, Current, Skipped, Newer int
	// WouldMigrate maps each tenant a dry run would change to the versions it would get.
	WouldMigrate map[string][]uint
	Failures     []Failure
	// NotStarted counts tenants left alone because the run was interrupted.
	NotStarted int
	Elapsed    time.Duration
}

// Failed reports whether any tenant failed or was not reached.
func (r MigrateResult) Failed() bool { return len(r.Failures) > 0 || r.NotStarted > 0 }

// Migrate brings every tenant (or opts.Tenant) to the newest schema on a bounded worker pool.
// Each tenant's version, error and time are recorded in the catalog; tenants the catalog
// records as current are skipped (a second run resumes) and failed ones are tried again. A
// failed migration leaves its tenant on the version before it (one transaction per file) and
// never stops the others. Migrations run under the cross-process migration lock that the
// server's lazy migration takes too. The error is for the run as a whole (the catalog cannot
// be read); tenant failures are in the result.
func (f *Fleet) Migrate(ctx context.Context, opts MigrateOptions) (MigrateResult, error) {
	start := time.Now()
	res := MigrateResult{CatalogFrom: f.CatalogFrom, CatalogTo: f.CatalogTo}
	latest, err := schema.Latest(f.migrations())
	if err != nil {
		return res, err
	}
	res.Latest = latest
	if opts.Concurrency < 1 {
		opts.Concurrency = DefaultConcurrency(f.Backend)
	}
	if opts.LockWait <= 0 {
		opts.LockWait = time.Minute
	}
	orgs, err := f.orgs(ctx, opts.Tenant)
	if err != nil {
		return res, err
	}
	res.Total = len(orgs)
	var todo []catalog.Organization
	for _, org := range orgs {
		if opts.Tenant == "" && !opts.Recheck && org.SchemaVersion == latest && org.MigrationError == "" {
			res.Current++
			res.Skipped++
			continue
		}
		todo = append(todo, org)
	}
	if opts.DryRun {
		res.WouldMigrate = map[string][]uint{}
	}

	label := "migrate"
	if opts.DryRun {
		label = "migrate --dry-run"
	}
	fmt.Fprintf(f.errw(), "%s: %d tenants, %d recorded current, %d to open, newest schema version %d, %d at a time\n",
		label, len(orgs), res.Skipped, len(todo), latest, opts.Concurrency)
	bar := newProgress(f.errw(), label, len(todo))
	var mu sync.Mutex
	res.NotStarted = each(ctx, todo, opts.Concurrency, func(org catalog.Organization) {
		m, pending, err := f.migrateOne(ctx, org, opts)
		mu.Lock()
		switch {
		case err != nil:
			res.Failures = append(res.Failures, Failure{Tenant: org.Username, DBName: org.DBName, Err: oneLine(err)})
		case opts.DryRun && len(pending) > 0:
			res.WouldMigrate[org.Username] = pending
		case m.Newer:
			res.Newer++
		case len(m.Applied) > 0:
			res.Migrated++
		default:
			res.Current++
		}
		mu.Unlock()
		if err != nil {
			bar.fail("%s (%s): %s", org.Username, org.DBName, oneLine(err))
		} else if opts.DryRun && len(pending) > 0 {
			bar.fail("%s (%s): would apply %v", org.Username, org.DBName, pending)
		}
		bar.step(err != nil)
	})
	bar.finish()
	slices.SortFunc(res.Failures, func(a, b Failure) int { return cmp.Compare(a.Tenant, b.Tenant) })
	res.Elapsed = time.Since(start)
	return res, nil
}

// migrateOne migrates one tenant and records the outcome in the catalog; on a dry run it only
// returns the pending versions.
func (f *Fleet) migrateOne(ctx context.Context, org catalog.Organization, opts MigrateOptions) (tenantdb.Migration, []uint, error) {
	database, err := f.Tenants.Maintain(ctx, org)
	if err != nil {
		err = fmt.Errorf("open: %w", err)
		if !opts.DryRun {
			f.record(ctx, org, org.SchemaVersion, err)
		}
		return tenantdb.Migration{}, nil, err
	}
	defer database.Close()
	db := database.SQL()
	if opts.DryRun {
		pending, err := schema.Pending(db, f.migrations())
		return tenantdb.Migration{}, pending, err
	}
	m, err := f.Tenants.MigrateDB(ctx, db, org.DBName, opts.LockWait)
	if err != nil {
		// A tenant another process is migrating, or a run interrupted while waiting for it,
		// has no migration error of its own to record.
		var locked *tenantdb.LockedError
		if !errors.As(err, &locked) && ctx.Err() == nil {
			f.record(ctx, org, m.To, err)
		}
		return m, nil, err
	}
	f.record(ctx, org, m.To, nil)
	if len(m.Applied) > 0 {
		f.log().Debug("tenant migrated", "tenant", org.Username, "from", m.From, "to", m.To)
	}
	return m, nil, nil
}

// record writes a tenant's schema version and last migration error into the catalog, when
// they differ from what it holds.
func (f *Fleet) record(ctx context.Context, org catalog.Organization, version uint, err error) {
	msg := ""
	if err != nil {
		msg = oneLine(err)
	}
	if version == org.SchemaVersion && msg == org.MigrationError {
		return
	}
	if cerr := f.Catalog.SetSchemaVersion(context.WithoutCancel(ctx), org.ID, version, msg); cerr != nil {
		f.log().Error("record schema version", "tenant", org.Username, "err", cerr)
	}
}

// PrintMigrate writes the summary of a migrate run.
func (f *Fleet) PrintMigrate(r MigrateResult, dryRun bool) {
	w := f.out()
	if r.CatalogFrom != r.CatalogTo {
		fmt.Fprintf(w, "catalog: schema version %d (was %d)\n", r.CatalogTo, r.CatalogFrom)
	} else {
		fmt.Fprintf(w, "catalog: schema version %d, current\n", r.CatalogTo)
	}
	fmt.Fprintf(w, "tenants: %d, newest schema version %d\n", r.Total, r.Latest)
	if dryRun {
		fmt.Fprintf(w, "  would migrate   %d\n", len(r.WouldMigrate))
		for _, name := range sortedKeys(r.WouldMigrate) {
			fmt.Fprintf(w, "    %s: %v\n", name, r.WouldMigrate[name])
		}
	} else {
		fmt.Fprintf(w, "  migrated        %d\n", r.Migrated)
	}
	fmt.Fprintf(w, "  already current %d (%d skipped as recorded in the catalog)\n", r.Current, r.Skipped)
	if r.Newer > 0 {
		fmt.Fprintf(w, "  newer than this build %d\n", r.Newer)
	}
	fmt.Fprintf(w, "  failed          %d\n", len(r.Failures))
	for _, fl := range r.Failures {
		fmt.Fprintf(w, "    %s (%s): %s\n", fl.Tenant, fl.DBName, fl.Err)
	}
	if r.NotStarted > 0 {
		fmt.Fprintf(w, "  not started     %d (interrupted)\n", r.NotStarted)
	}
	if opened := r.Total - r.Skipped - r.NotStarted; opened > 0 {
		fmt.Fprintf(w, "took %s (%d tenants opened, %.1f tenants/s)\n", r.Elapsed.Round(time.Millisecond), opened,
			float64(opened)/max(r.Elapsed.Seconds(), 1e-9))
	} else {
		fmt.Fprintf(w, "took %s (no tenant needed opening)\n", r.Elapsed.Round(time.Millisecond))
	}
	if r.Failed() {
		fmt.Fprintln(w, "Run `tenantdesk migrate` again to retry the failed tenants; the others are kept.")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
