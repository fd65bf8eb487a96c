package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/search"
)

// ReindexOptions are the arguments of `tenants reindex [NAME…]`.
type ReindexOptions struct {
	// Tenants names the organizations (usernames or database names); none means all.
	Tenants     []string
	Concurrency int
}

// ReindexResult is what a reindex run did.
type ReindexResult struct {
	Total, Done int
	Failures    []Failure
	NotStarted  int
	Elapsed     time.Duration
}

// Failed reports whether any tenant was not reindexed.
func (r ReindexResult) Failed() bool { return len(r.Failures) > 0 || r.NotStarted > 0 }

// Reindex rebuilds the full-text index of every tenant (or of opts.Tenants) from its rows,
// one transaction per tenant: a failure leaves that tenant's index as it was and never stops
// the others. The transaction holds the tenant's write lock while it runs (requests that write
// wait up to the busy timeout), so run it when the tenants are quiet. A tenant whose schema
// is older than the index is a failure: `tenantdesk migrate` first.
func (f *Fleet) Reindex(ctx context.Context, opts ReindexOptions) (ReindexResult, error) {
	start := time.Now()
	var orgs []catalog.Organization
	if len(opts.Tenants) == 0 {
		all, err := f.Catalog.All(ctx)
		if err != nil {
			return ReindexResult{}, err
		}
		orgs = all
	}
	for _, name := range opts.Tenants {
		org, err := f.lookup(ctx, name)
		if err != nil {
			return ReindexResult{}, err
		}
		if !slices.ContainsFunc(orgs, func(o catalog.Organization) bool { return o.ID == org.ID }) {
			orgs = append(orgs, org)
		}
	}
	if opts.Concurrency < 1 {
		opts.Concurrency = DefaultConcurrency(f.Backend)
	}
	res := ReindexResult{Total: len(orgs)}
	bar := newProgress(f.errw(), "reindex", len(orgs))
	var mu sync.Mutex
	res.NotStarted = each(ctx, orgs, opts.Concurrency, func(org catalog.Organization) {
		err := f.reindexOne(ctx, org)
		mu.Lock()
		if err != nil {
			res.Failures = append(res.Failures, Failure{Tenant: org.Username, DBName: org.DBName, Err: oneLine(err)})
		} else {
			res.Done++
		}
		mu.Unlock()
		if err != nil {
			bar.fail("%s (%s): %s", org.Username, org.DBName, oneLine(err))
		}
		bar.step(err != nil)
	})
	bar.finish()
	slices.SortFunc(res.Failures, func(a, b Failure) int { return strings.Compare(a.Tenant, b.Tenant) })
	res.Elapsed = time.Since(start)
	return res, nil
}

var errNoIndex = errors.New("the tenant's schema has no search index yet: run tenantdesk migrate first")

func (f *Fleet) reindexOne(ctx context.Context, org catalog.Organization) error {
	database, err := f.Tenants.Maintain(ctx, org)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer database.Close()
	db := database.SQL()
	ok, err := search.Installed(ctx, db)
	if err != nil {
		return err
	}
	if !ok {
		return errNoIndex
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := search.Rebuild(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// PrintReindex writes the summary of a reindex run.
func (f *Fleet) PrintReindex(r ReindexResult) {
	w := f.out()
	fmt.Fprintf(w, "reindexed %d of %d tenants (%s)\n", r.Done, r.Total, r.Elapsed.Round(time.Millisecond))
	for _, fl := range r.Failures {
		fmt.Fprintf(w, "  failed: %s (%s): %s\n", fl.Tenant, fl.DBName, fl.Err)
	}
	if r.NotStarted > 0 {
		fmt.Fprintf(w, "  not started: %d (interrupted)\n", r.NotStarted)
	}
}
