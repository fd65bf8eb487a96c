package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/fileperm"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/search"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// Tenant is one line of `tenants list`.
type Tenant struct {
	Name    string `json:"name"`
	DBName  string `json:"db_name"`
	Backend string `json:"backend"`
	// SchemaVersion is the version the catalog records; FileVersion the one the database
	// holds (0 when it was not opened).
	SchemaVersion uint `json:"schema_version"`
	FileVersion   uint `json:"file_version,omitempty"`
	// Size in bytes (database plus WAL for local files), -1 when unknown.
	Size int64 `json:"size"`
	// LastActivity is the newest ticket, message or agent change (or, if the database was not
	// opened, the local file's modification time); zero when unknown.
	LastActivity time.Time `json:"last_activity"`
	CreatedAt    time.Time `json:"created_at"`
	// Health is "ok" or what is wrong.
	Health string `json:"health"`
}

// ListOptions are the flags of `tenants list`.
type ListOptions struct {
	Concurrency int
	// Open opens every database (remote ones too) to read its version, size and activity;
	// without it local files are opened and remote databases are described from the catalog.
	Open bool
}

// List describes every tenant: name, backend, schema version, size, last activity and health.
func (f *Fleet) List(ctx context.Context, opts ListOptions) ([]Tenant, error) {
	orgs, err := f.Catalog.All(ctx)
	if err != nil {
		return nil, err
	}
	latest, err := schema.Latest(f.migrations())
	if err != nil {
		return nil, err
	}
	locks, err := f.Catalog.MigrationLocks(ctx)
	if err != nil {
		return nil, err
	}
	held := map[string]catalog.MigrationLock{}
	for _, l := range locks {
		if l.ExpiresAt.After(time.Now()) {
			held[l.DBName] = l
		}
	}
	if opts.Concurrency < 1 {
		opts.Concurrency = DefaultConcurrency(f.Backend)
	}
	out := make([]Tenant, len(orgs))
	index := map[int64]int{}
	for i, org := range orgs {
		index[org.ID] = i
	}
	bar := newProgress(f.errw(), "list", len(orgs))
	var mu sync.Mutex
	each(ctx, orgs, opts.Concurrency, func(org catalog.Organization) {
		t := f.describe(ctx, org, latest, opts.Open || local(org))
		if l, ok := held[org.DBName]; ok && (t.Health == "ok" || strings.HasPrefix(t.Health, "behind")) {
			t.Health = "migrating (" + l.Holder + ")"
		}
		mu.Lock()
		out[index[org.ID]] = t
		mu.Unlock()
		bar.step(t.Health != "ok")
	})
	bar.finish()
	return out, ctx.Err()
}

// describe builds org's line; open says whether to open its database.
func (f *Fleet) describe(ctx context.Context, org catalog.Organization, latest uint, open bool) Tenant {
	t := Tenant{Name: org.Username, DBName: org.DBName, Backend: org.DBBackend, SchemaVersion: org.SchemaVersion,
		Size: -1, CreatedAt: org.CreatedAt, Health: "ok"}
	if t.Backend == "" {
		t.Backend = "local"
	}
	if local(org) {
		if path, err := (tenantdb.Local{Dir: f.DataDir}).File(org.DBName); err == nil {
			if st, err := os.Stat(path); err == nil {
				t.Size, t.LastActivity = st.Size(), st.ModTime().UTC()
				if wal, err := os.Stat(path + "-wal"); err == nil {
					t.Size += wal.Size()
				}
			} else if errors.Is(err, fs.ErrNotExist) {
				t.Health = "missing: no database file " + path
				return t
			}
		}
	}
	switch {
	case org.MigrationError != "":
		t.Health = "migration failed: " + org.MigrationError
	case org.SchemaVersion < latest:
		t.Health = fmt.Sprintf("behind: version %d, newest %d", org.SchemaVersion, latest)
	case org.SchemaVersion > latest:
		t.Health = fmt.Sprintf("newer than this build: version %d, newest known %d", org.SchemaVersion, latest)
	}
	if !open {
		return t
	}
	database, err := f.Tenants.Maintain(ctx, org)
	if err != nil {
		t.Health = "unreachable: " + oneLine(err)
		return t
	}
	defer database.Close()
	db := database.SQL()
	v, err := schema.Current(db)
	if err != nil {
		t.Health = "unreadable: " + oneLine(err)
		return t
	}
	t.FileVersion = v
	if v != org.SchemaVersion && t.Health == "ok" {
		t.Health = fmt.Sprintf("catalog says version %d, database holds %d (run migrate --recheck)", org.SchemaVersion, v)
	}
	if activity, ok := lastActivity(ctx, db); ok {
		t.LastActivity = activity
	}
	if !local(org) {
		var pages, pageSize int64
		if db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages) == nil &&
			db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize) == nil {
			t.Size = pages * pageSize
		}
	}
	return t
}

// lastActivity returns the newest change a helpdesk records: a ticket, a message, an agent.
// It reports false when the schema has none of those (or nothing happened yet).
func lastActivity(ctx context.Context, db *sql.DB) (time.Time, bool) {
	var t sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT max(t) FROM (
		SELECT max(updated_at) AS t FROM tickets
		UNION ALL SELECT max(created_at) FROM messages
		UNION ALL SELECT max(updated_at) FROM agents)`).Scan(&t)
	if err != nil || !t.Valid || t.Int64 == 0 {
		return time.Time{}, false
	}
	return time.Unix(t.Int64, 0).UTC(), true
}

// PrintList writes tenants as a table, or as JSON.
func (f *Fleet) PrintList(tenants []Tenant, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(f.out())
		enc.SetIndent("", "  ")
		if tenants == nil {
			tenants = []Tenant{}
		}
		return enc.Encode(tenants)
	}
	w := tabwriter.NewWriter(f.out(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tDATABASE\tBACKEND\tSCHEMA\tSIZE\tLAST ACTIVITY\tHEALTH")
	for _, t := range tenants {
		size, activity := "-", "-"
		if t.Size >= 0 {
			size = humanBytes(t.Size)
		}
		if !t.LastActivity.IsZero() {
			activity = t.LastActivity.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", t.Name, t.DBName, t.Backend, t.SchemaVersion, size, activity, t.Health)
	}
	return w.Flush()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// CheckOptions are the flags of `tenants check`.
type CheckOptions struct {
	Concurrency int
	// Full runs PRAGMA integrity_check and foreign_key_check instead of quick_check.
	Full   bool
	Tenant string
}

// CheckResult is what a check run found.
type CheckResult struct {
	Total    int
	OK       int
	Failures []Failure
	Elapsed  time.Duration
	// Pending lists databases still to be deleted on their backend (of deleted organizations,
	// or left behind by failed registrations): the server retries them until the backend
	// confirms. They are not failures of the check.
	Pending []catalog.PendingDrop
	// Loose lists the files and directories under DATA_DIR that users other than the owner
	// may read or enter (everything tenantdesk writes is 0600, its directories 0700).
	Loose []fileperm.Loose
}

// Check runs PRAGMA quick_check (integrity_check and foreign_key_check with Full) on every
// tenant database and compares its schema version with the catalog's; it also reports files
// under DATA_DIR whose modes let others in.
func (f *Fleet) Check(ctx context.Context, opts CheckOptions) (CheckResult, error) {
	start := time.Now()
	orgs, err := f.orgs(ctx, opts.Tenant)
	if err != nil {
		return CheckResult{}, err
	}
	var loose []fileperm.Loose
	if f.DataDir != "" {
		if loose, err = fileperm.Check(f.DataDir); err != nil {
			return CheckResult{}, fmt.Errorf("check: file modes under %s: %w", f.DataDir, err)
		}
	}
	if opts.Concurrency < 1 {
		opts.Concurrency = DefaultConcurrency(f.Backend)
	}
	res := CheckResult{Total: len(orgs), Loose: loose}
	bar := newProgress(f.errw(), "check", len(orgs))
	var mu sync.Mutex
	notStarted := each(ctx, orgs, opts.Concurrency, func(org catalog.Organization) {
		err := f.checkOne(ctx, org, opts.Full)
		mu.Lock()
		if err != nil {
			res.Failures = append(res.Failures, Failure{Tenant: org.Username, DBName: org.DBName, Err: oneLine(err)})
		} else {
			res.OK++
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
	if notStarted > 0 {
		return res, fmt.Errorf("interrupted: %d tenants not checked", notStarted)
	}
	if res.Pending, err = f.Catalog.PendingDrops(ctx); err != nil {
		return res, err
	}
	return res, nil
}

func (f *Fleet) checkOne(ctx context.Context, org catalog.Organization, full bool) error {
	database, err := f.Tenants.Maintain(ctx, org)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer database.Close()
	db := database.SQL()
	pragma := "PRAGMA quick_check(10)"
	if full {
		pragma = "PRAGMA integrity_check(10)"
	}
	var problems []string
	rows, err := db.QueryContext(ctx, pragma)
	if err != nil {
		return fmt.Errorf("%s: %w", pragma, err)
	}
	for rows.Next() {
		var line []byte
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return err
		}
		if string(line) != "ok" {
			problems = append(problems, string(line))
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("%s: %w", pragma, err)
	}
	if full {
		rows, err := db.QueryContext(ctx, "SELECT CAST(\"table\" AS BLOB), rowid, CAST(parent AS BLOB) FROM pragma_foreign_key_check LIMIT 10")
		if err != nil {
			return fmt.Errorf("foreign_key_check: %w", err)
		}
		for rows.Next() {
			var table, parent []byte
			var rowid sql.NullInt64
			if err := rows.Scan(&table, &rowid, &parent); err != nil {
				rows.Close()
				return err
			}
			problems = append(problems, fmt.Sprintf("%s row %d refers to a missing %s", table, rowid.Int64, parent))
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("foreign_key_check: %w", err)
		}
	}
	if ok, err := search.Installed(ctx, db); err != nil {
		return err
	} else if ok {
		if err := search.Check(ctx, db); err != nil {
			problems = append(problems, "the search index does not match its documents (tenantdesk tenants reindex repairs it)")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	v, err := schema.Current(db)
	if err != nil {
		return err
	}
	if v != org.SchemaVersion {
		return fmt.Errorf("schema version %d, but the catalog records %d (run tenantdesk migrate --recheck)", v, org.SchemaVersion)
	}
	return nil
}

// PrintCheck writes the summary of a check run.
func (f *Fleet) PrintCheck(r CheckResult) {
	w := f.out()
	fmt.Fprintf(w, "checked %d tenants: %d ok, %d with problems (%s)\n", r.Total, r.OK, len(r.Failures), r.Elapsed.Round(time.Millisecond))
	for _, fl := range r.Failures {
		fmt.Fprintf(w, "  %s (%s): %s\n", fl.Tenant, fl.DBName, fl.Err)
	}
	if len(r.Loose) > 0 {
		fmt.Fprintf(w, "%d files or directories that others than their owner may read (the data holds password hashes and conversations):\n", len(r.Loose))
		for _, l := range r.Loose {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	if len(r.Pending) == 0 {
		return
	}
	fmt.Fprintf(w, "%d databases still to be deleted on their backend (retried by the server until the backend confirms):\n", len(r.Pending))
	for _, d := range r.Pending {
		fmt.Fprintf(w, "  %s (%s, %s since %s): %d attempts", d.DBName, d.Backend, d.Reason,
			d.CreatedAt.Format("2006-01-02 15:04"), d.Attempts)
		if d.LastError != "" {
			fmt.Fprintf(w, ", last error: %s", oneLine(errors.New(d.LastError)))
		}
		if d.NotBefore.After(time.Now()) {
			fmt.Fprintf(w, ", next attempt after %s", d.NotBefore.Format("2006-01-02 15:04:05"))
		}
		fmt.Fprintln(w)
	}
}

// Delete deletes the organization named name (username or database name) exactly as its owner
// does from the dashboard: its database is closed, dropped on its backend with its local files,
// and its catalog row removed (its sessions end on their next request, which no longer finds
// it). What remains is a log line with the time.
func (f *Fleet) Delete(ctx context.Context, name string) (catalog.Organization, error) {
	org, err := f.lookup(ctx, name)
	if err != nil {
		return org, err
	}
	if err := f.Tenants.Delete(ctx, org); err != nil {
		return org, err
	}
	f.log().Info("organization deleted", "tenant", org.Username, "db", org.DBName, "by", "operator",
		"at", time.Now().UTC().Format(time.RFC3339))
	return org, nil
}
