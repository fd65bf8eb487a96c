package fleet

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/fileperm"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// The layout of a backup directory.
const (
	manifestName = "manifest.json"
	// journalName records each finished file while a backup runs, one JSON line each, so that
	// an interrupted backup resumes without redoing them; it is removed once manifest.json
	// is written.
	journalName = "manifest.partial.jsonl"
	catalogFile = "catalog.db"
	secretFile  = "session.secret"
	tenantsDir  = "tenants"
	// manifestFormat is the version of the manifest's layout.
	manifestFormat = 1
)

// Manifest describes a complete backup: every file with its size and SHA-256.
type Manifest struct {
	Format      int       `json:"format"`
	AppName     string    `json:"app_name"`
	Backend     string    `json:"backend"`
	StartedAt   time.Time `json:"started_at"`
	CompletedAt time.Time `json:"completed_at"`
	// CatalogVersion and TenantVersion are the newest schema versions of the build that took
	// it.
	CatalogVersion uint           `json:"catalog_schema_version"`
	TenantVersion  uint           `json:"tenant_schema_version"`
	Files          []ManifestFile `json:"files"`
	// Skipped lists tenants whose database is not in the backup, and why.
	Skipped []Failure `json:"skipped,omitempty"`
}

// ManifestFile is one file of a backup. Path is relative to the backup directory.
type ManifestFile struct {
	Path          string `json:"path"`
	Kind          string `json:"kind"` // "catalog", "tenant" or "secret"
	Tenant        string `json:"tenant,omitempty"`
	DBName        string `json:"db_name,omitempty"`
	SchemaVersion uint   `json:"schema_version,omitempty"`
	Size          int64  `json:"size"`
	SHA256        string `json:"sha256"`
}

// BackupOptions are the flags of `tenantdesk backup`.
type BackupOptions struct {
	Out         string
	Concurrency int
	// IncludeReplicas also snapshots tenants on a remote backend (their embedded replica's
	// copy); by default they are skipped, because their primary is the source of truth.
	IncludeReplicas bool
	// SecretFile is DATA_DIR's session.secret, copied when it exists: sealed credentials of
	// remote tenants are keyed from it.
	SecretFile string
}

// BackupResult is what a backup run did.
type BackupResult struct {
	Manifest Manifest
	// Resumed counts files an interrupted run had already written (checksums verified).
	Resumed  int
	Written  int
	Failures []Failure
	Elapsed  time.Duration
}

// Backup writes a consistent snapshot of the catalog and every local tenant database into
// opts.Out: each file is a VACUUM INTO snapshot (never a copy of a live file), written under a
// temporary name, synced and renamed. The tenants backed up are those of the catalog snapshot,
// which is taken first, so the catalog in the backup lists every tenant in it. It is
// resumable: a run interrupted (or with failed tenants) leaves manifest.partial.jsonl, and the
// next run into the same directory keeps every file recorded there whose checksum still
// matches. manifest.json is written only when every tenant is in; a directory that already
// holds a complete backup is refused.
func (f *Fleet) Backup(ctx context.Context, opts BackupOptions) (BackupResult, error) {
	start := time.Now()
	var res BackupResult
	if opts.Out == "" {
		return res, errors.New("backup: --out DIR is required")
	}
	if opts.Concurrency < 1 {
		opts.Concurrency = DefaultConcurrency(f.Backend)
	}
	if m, err := readManifest(opts.Out); err == nil {
		return res, fmt.Errorf("backup: %s already holds a complete backup (taken %s); choose a new directory",
			opts.Out, m.CompletedAt.Format(time.RFC3339))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return res, err
	}
	if err := fileperm.MkdirAll(filepath.Join(opts.Out, tenantsDir)); err != nil {
		return res, err
	}
	j, err := openJournal(opts.Out)
	if err != nil {
		return res, err
	}
	defer j.close()
	latest, err := schema.Latest(f.migrations())
	if err != nil {
		return res, err
	}
	res.Manifest = Manifest{Format: manifestFormat, AppName: f.AppName, Backend: f.Backend, StartedAt: j.started,
		CatalogVersion: f.CatalogTo, TenantVersion: latest}

	// The catalog first: the tenants to back up are the ones it lists.
	if _, ok := j.files[catalogFile]; ok {
		res.Resumed++
	} else {
		err := snapshotFile(opts.Out, catalogFile, func(tmp string) error {
			if err := fileperm.Touch(tmp); err != nil { // VACUUM INTO fills an empty file
				return err
			}
			_, err := f.Catalog.DB().ExecContext(ctx, "VACUUM INTO ?", tmp)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("backup: catalog: %w (a catalog on Turso is backed up by Turso)", err)
		}
		if err := j.add(opts.Out, ManifestFile{Path: catalogFile, Kind: "catalog", SchemaVersion: f.CatalogTo}); err != nil {
			return res, err
		}
		res.Written++
	}
	if opts.SecretFile != "" {
		if _, ok := j.files[secretFile]; ok {
			res.Resumed++
		} else if in, err := os.Open(opts.SecretFile); err == nil {
			err = snapshotFile(opts.Out, secretFile, func(tmp string) error { return writeFile(tmp, in) })
			in.Close()
			if err == nil {
				err = j.add(opts.Out, ManifestFile{Path: secretFile, Kind: "secret"})
			}
			if err != nil {
				return res, fmt.Errorf("backup: %s: %w", secretFile, err)
			}
			res.Written++
		}
	}
	orgs, err := catalogOrgs(ctx, filepath.Join(opts.Out, catalogFile))
	if err != nil {
		return res, fmt.Errorf("backup: reading the catalog snapshot: %w", err)
	}
	var todo []catalog.Organization
	resumedTenants := 0
	for _, org := range orgs {
		rel := filepath.ToSlash(filepath.Join(tenantsDir, org.DBName+".db"))
		switch {
		case !local(org) && !opts.IncludeReplicas:
			res.Manifest.Skipped = append(res.Manifest.Skipped, Failure{Tenant: org.Username, DBName: org.DBName,
				Err: "on " + org.DBBackend + ": its primary is the source of truth (--include-replicas snapshots the replica)"})
		case j.files[rel].Path != "":
			res.Resumed++
			resumedTenants++
		default:
			todo = append(todo, org)
		}
	}
	if n := len(res.Manifest.Skipped); n > 0 {
		fmt.Fprintf(f.errw(), "backup: skipping %d tenants on a remote backend: their primary is the source of truth "+
			"(pass --include-replicas to snapshot their replicas too)\n", n)
	}
	fmt.Fprintf(f.errw(), "backup: %d tenants, %d already in %s from an interrupted run, %d to snapshot\n",
		len(orgs), resumedTenants, opts.Out, len(todo))
	bar := newProgress(f.errw(), "backup", len(todo))
	var mu sync.Mutex
	notStarted := each(ctx, todo, opts.Concurrency, func(org catalog.Organization) {
		err := f.backupTenant(ctx, opts.Out, j, org)
		mu.Lock()
		if err != nil {
			res.Failures = append(res.Failures, Failure{Tenant: org.Username, DBName: org.DBName, Err: oneLine(err)})
		} else {
			res.Written++
		}
		mu.Unlock()
		if err != nil {
			bar.fail("%s (%s): %s", org.Username, org.DBName, oneLine(err))
		}
		bar.step(err != nil)
	})
	bar.finish()
	res.Elapsed = time.Since(start)
	if notStarted > 0 || len(res.Failures) > 0 {
		slices.SortFunc(res.Failures, func(a, b Failure) int { return strings.Compare(a.Tenant, b.Tenant) })
		return res, fmt.Errorf("backup incomplete: %d failed, %d not started; run the same command again to resume",
			len(res.Failures), notStarted)
	}
	res.Manifest.Files = j.list()
	res.Manifest.CompletedAt = time.Now().UTC().Truncate(time.Second)
	if err := writeManifest(opts.Out, res.Manifest); err != nil {
		return res, err
	}
	j.close()
	if err := os.Remove(filepath.Join(opts.Out, journalName)); err != nil {
		return res, err
	}
	return res, nil
}

// backupTenant snapshots one tenant into tenants/<db>.db and records it in the journal.
func (f *Fleet) backupTenant(ctx context.Context, dir string, j *journal, org catalog.Organization) error {
	rel := filepath.ToSlash(filepath.Join(tenantsDir, org.DBName+".db"))
	database, err := f.Tenants.Maintain(ctx, org)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer database.Close()
	var version uint
	// A migration between reading the version and the snapshot would mislabel the file: read
	// it before and after, and try again when they differ.
	for attempt := 0; ; attempt++ {
		before, err := schema.Current(database.SQL())
		if err != nil {
			return err
		}
		if err := snapshotFile(dir, rel, database.Snapshot); err != nil {
			return err
		}
		after, err := schema.Current(database.SQL())
		if err != nil {
			return err
		}
		if before == after || attempt == 2 {
			version = after
			break
		}
	}
	return j.add(dir, ManifestFile{Path: rel, Kind: "tenant", Tenant: org.Username, DBName: org.DBName, SchemaVersion: version})
}

// snapshotFile has write create a file at a temporary name beside dir/rel, syncs it and
// renames it into place, so a file at its final name is always whole.
func snapshotFile(dir, rel string, write func(tmp string) error) error {
	final := filepath.Join(dir, filepath.FromSlash(rel))
	tmp := final + ".tmp"
	for _, p := range []string{tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	// Backups hold password hashes and maybe the session secret: owner-only, whatever
	// created the file.
	if err := os.Chmod(tmp, fileperm.File); err != nil {
		return err
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return syncDir(filepath.Dir(final))
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// fileSum returns a file's size and SHA-256.
func fileSum(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// journal is the record of the files an unfinished backup has written.
type journal struct {
	mu      sync.Mutex
	f       *os.File
	started time.Time
	files   map[string]ManifestFile
}

// journalStart is the journal's first line.
type journalStart struct {
	StartedAt time.Time `json:"started_at"`
}

// openJournal opens dir's journal, keeping each recorded file whose size and checksum still
// match (anything else is written again).
func openJournal(dir string) (*journal, error) {
	path := filepath.Join(dir, journalName)
	j := &journal{files: map[string]ManifestFile{}, started: time.Now().UTC().Truncate(time.Second)}
	if b, err := os.ReadFile(path); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		first := true
		for sc.Scan() {
			if first {
				first = false
				var s journalStart
				if json.Unmarshal(sc.Bytes(), &s) == nil && !s.StartedAt.IsZero() {
					j.started = s.StartedAt
					continue
				}
			}
			var mf ManifestFile
			if json.Unmarshal(sc.Bytes(), &mf) != nil || mf.Path == "" {
				continue // a line cut short by a crash
			}
			if size, sum, err := fileSum(filepath.Join(dir, filepath.FromSlash(mf.Path))); err == nil && size == mf.Size && sum == mf.SHA256 {
				j.files[mf.Path] = mf
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// Rewrite the journal with what was verified, so that it never grows stale lines.
	tmp := path + ".tmp"
	var buf strings.Builder
	start, _ := json.Marshal(journalStart{StartedAt: j.started})
	buf.Write(append(start, '\n'))
	for _, mf := range j.list() {
		line, _ := json.Marshal(mf)
		buf.Write(append(line, '\n'))
	}
	if err := os.WriteFile(tmp, []byte(buf.String()), 0o600); err != nil {
		return nil, err
	}
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	j.f = f
	return j, nil
}

// add checksums dir/mf.Path and appends it to the journal (synced).
func (j *journal) add(dir string, mf ManifestFile) error {
	size, sum, err := fileSum(filepath.Join(dir, filepath.FromSlash(mf.Path)))
	if err != nil {
		return err
	}
	mf.Size, mf.SHA256 = size, sum
	line, err := json.Marshal(mf)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return err
	}
	j.files[mf.Path] = mf
	return nil
}

// list returns the recorded files, catalog first, then by path.
func (j *journal) list() []ManifestFile {
	out := make([]ManifestFile, 0, len(j.files))
	for _, mf := range j.files {
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b ManifestFile) int {
		if (a.Kind == "tenant") != (b.Kind == "tenant") {
			if a.Kind == "tenant" {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Path, b.Path)
	})
	return out
}

func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return snapshotFile(dir, manifestName, func(tmp string) error { return os.WriteFile(tmp, append(b, '\n'), 0o600) })
}

// readManifest reads dir's manifest.json: fs.ErrNotExist when there is none.
func readManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", filepath.Join(dir, manifestName), err)
	}
	if m.Format != manifestFormat {
		return m, fmt.Errorf("%s: manifest format %d, this build reads %d", dir, m.Format, manifestFormat)
	}
	return m, nil
}

// catalogOrgs reads the organizations of a catalog file from a private copy (opening a file
// can change its header, and the backup's checksums must stay true).
func catalogOrgs(ctx context.Context, path string) ([]catalog.Organization, error) {
	dir, err := os.MkdirTemp("", "tenantdesk-catalog-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	err = writeFile(filepath.Join(dir, catalogFile), in)
	in.Close()
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(filepath.Join(dir, catalogFile), 1)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return catalog.New(db).All(ctx)
}

// PrintBackup writes the summary of a backup run.
func (f *Fleet) PrintBackup(r BackupResult, out string) {
	w := f.out()
	tenants := 0
	var bytes int64
	for _, mf := range r.Manifest.Files {
		if mf.Kind == "tenant" {
			tenants++
		}
		bytes += mf.Size
	}
	if !r.Manifest.CompletedAt.IsZero() {
		fmt.Fprintf(w, "backup complete in %s: catalog and %d tenants, %s, manifest %s\n", out, tenants, humanBytes(bytes),
			filepath.Join(out, manifestName))
	}
	fmt.Fprintf(w, "  written %d files, kept %d from an interrupted run (checksums verified), took %s\n",
		r.Written, r.Resumed, r.Elapsed.Round(time.Millisecond))
	for _, s := range r.Manifest.Skipped {
		fmt.Fprintf(w, "  skipped %s (%s): %s\n", s.Tenant, s.DBName, s.Err)
	}
	for _, fl := range r.Failures {
		fmt.Fprintf(w, "  failed %s (%s): %s\n", fl.Tenant, fl.DBName, fl.Err)
	}
}

// verify checks the size and SHA-256 of the manifest's files named by keep (all when nil).
func verify(dir string, m Manifest, keep func(ManifestFile) bool) error {
	var bad []string
	for _, mf := range m.Files {
		if keep != nil && !keep(mf) {
			continue
		}
		size, sum, err := fileSum(filepath.Join(dir, filepath.FromSlash(mf.Path)))
		switch {
		case err != nil:
			bad = append(bad, mf.Path+": "+err.Error())
		case size != mf.Size || sum != mf.SHA256:
			bad = append(bad, mf.Path+": checksum mismatch")
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("restore: the backup in %s is damaged, nothing was restored: %s", dir, strings.Join(bad, "; "))
	}
	return nil
}

// RestoreOptions are the flags of `tenantdesk restore`.
type RestoreOptions struct {
	From string
	// Tenant restores one organization (username) into the running system; "" restores all.
	Tenant string
	// Force replaces a live tenant (with Tenant) or an existing catalog (without).
	Force bool
}

// RestoreAll puts a whole backup back into dataDir (local backend): the catalog, every tenant
// file and the session secret (if dataDir has none). The server must not be running. It
// refuses when dataDir already has a catalog unless force; then the catalog and the backed-up
// tenants' files are replaced, and other tenant files are left in place (they are reported:
// the restored catalog does not list them). Every checksum is verified before anything is
// touched. It returns the restored manifest.
func RestoreAll(ctx context.Context, dataDir string, opts RestoreOptions, w io.Writer) (Manifest, error) {
	m, err := readManifest(opts.From)
	if errors.Is(err, fs.ErrNotExist) {
		return m, fmt.Errorf("restore: %s has no %s: not a complete backup (an interrupted one resumes with "+
			"`tenantdesk backup --out %s`)", opts.From, manifestName, opts.From)
	}
	if err != nil {
		return m, err
	}
	if err := verify(opts.From, m, nil); err != nil {
		return m, err
	}
	live := filepath.Join(dataDir, catalogFile)
	if _, err := os.Stat(live); err == nil && !opts.Force {
		return m, fmt.Errorf("restore: %s exists; a full restore replaces the catalog and every backed-up tenant: "+
			"stop the server, then pass --force (or restore one organization with --tenant NAME)", live)
	}
	if err := fileperm.MkdirAll(dataDir); err != nil {
		return m, err
	}
	backed := map[string]bool{}
	for _, mf := range m.Files {
		var dst string
		switch mf.Kind {
		case "catalog":
			dst = live
		case "secret":
			dst = filepath.Join(dataDir, secretFile)
			if cur, err := os.ReadFile(dst); err == nil {
				if b, err := os.ReadFile(filepath.Join(opts.From, filepath.FromSlash(mf.Path))); err != nil || string(b) != string(cur) {
					fmt.Fprintf(w, "restore: kept the existing %s, which differs from the backup's: sealed credentials "+
						"of remote tenants and sessions need the backup's (%s)\n", dst, filepath.Join(opts.From, mf.Path))
				}
				continue
			}
		case "tenant":
			if dst, err = (tenantdb.Local{Dir: dataDir}).File(mf.DBName); err != nil {
				return m, err
			}
			backed[filepath.Base(dst)] = true
		default:
			continue
		}
		if err := placeFile(filepath.Join(opts.From, filepath.FromSlash(mf.Path)), dst); err != nil {
			return m, fmt.Errorf("restore: %s: %w", mf.Path, err)
		}
	}
	// Open the restored catalog once: it must be readable, and the server finds it migrated.
	db, err := sqlite.Open(live, 1)
	if err != nil {
		return m, fmt.Errorf("restore: the restored catalog does not open: %w", err)
	}
	db.Close()
	entries, _ := os.ReadDir(dataDir)
	var orphans []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, m.AppName+"-") && strings.HasSuffix(n, ".db") && !backed[n] {
			orphans = append(orphans, n)
		}
	}
	if len(orphans) > 0 {
		shown := orphans[:min(len(orphans), 5)]
		more := ""
		if len(orphans) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(orphans)-len(shown))
		}
		fmt.Fprintf(w, "restore: %d tenant files in %s are not in the backup and were left in place (the restored "+
			"catalog does not list them): %s%s\n", len(orphans), dataDir, strings.Join(shown, ", "), more)
	}
	return m, ctx.Err()
}

// placeFile copies src over dst: written beside it, synced, stale -wal/-shm/-journal files
// of dst removed, then renamed into place.
func placeFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".restore-tmp"
	os.Remove(tmp)
	if err := writeFile(tmp, in); err != nil {
		os.Remove(tmp)
		return err
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(dst + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// RestoreTenant puts one organization back from a backup into the running system, on the
// configured backend: its catalog row as it was in the backup (profile and login) and its
// database, whose rows are copied into a new database as an import does. A live organization
// of that username is refused unless opts.Force, which deletes it first. Checksums of the
// catalog and the tenant file are verified before anything is touched.
func (f *Fleet) RestoreTenant(ctx context.Context, opts RestoreOptions) (catalog.Organization, error) {
	m, err := readManifest(opts.From)
	if errors.Is(err, fs.ErrNotExist) {
		return catalog.Organization{}, fmt.Errorf("restore: %s has no %s: not a complete backup", opts.From, manifestName)
	}
	if err != nil {
		return catalog.Organization{}, err
	}
	var file ManifestFile
	for _, mf := range m.Files {
		if mf.Kind == "tenant" && (mf.Tenant == opts.Tenant || mf.DBName == opts.Tenant) {
			file = mf
		}
	}
	if file.Path == "" {
		return catalog.Organization{}, fmt.Errorf("restore: the backup in %s holds no database of %q", opts.From, opts.Tenant)
	}
	if err := verify(opts.From, m, func(mf ManifestFile) bool { return mf.Kind == "catalog" || mf.Path == file.Path }); err != nil {
		return catalog.Organization{}, err
	}
	orgs, err := catalogOrgs(ctx, filepath.Join(opts.From, catalogFile))
	if err != nil {
		return catalog.Organization{}, err
	}
	var org catalog.Organization
	for _, o := range orgs {
		if o.DBName == file.DBName {
			org = o
		}
	}
	if org.DBName == "" {
		return org, fmt.Errorf("restore: the backup's catalog has no row for %s", file.DBName)
	}
	ex, err := openExport(ctx, filepath.Join(opts.From, filepath.FromSlash(file.Path)), f.migrations())
	if err != nil {
		return org, err
	}
	defer ex.close()
	// Check what can be checked before a --force deletes the live organization.
	if other, err := f.Catalog.ByEmail(ctx, org.Email); err == nil && other.Username != org.Username {
		return org, fmt.Errorf("restore: the email %s now belongs to %s; nothing was changed", org.Email, other.Username)
	}
	if live, err := f.Catalog.ByUsername(ctx, org.Username); err == nil {
		if !opts.Force {
			return org, fmt.Errorf("restore: %s is live; pass --force to replace it with the backup (its current data is deleted)", org.Username)
		}
		if err := f.Tenants.Delete(ctx, live); err != nil {
			return org, fmt.Errorf("restore: deleting the live %s: %w", org.Username, err)
		}
		f.log().Info("organization deleted for a restore", "tenant", live.Username, "at", time.Now().UTC().Format(time.RFC3339))
	}
	restored := catalog.Organization{Name: org.Name, Website: org.Website, Username: org.Username, Email: org.Email,
		PasswordHash: org.PasswordHash, Logo: org.Logo, DBName: org.DBName}
	if _, err := f.createFrom(ctx, &restored, ex); err != nil {
		return restored, err
	}
	f.log().Info("organization restored", "tenant", restored.Username, "from", opts.From, "version", restored.SchemaVersion)
	return restored, nil
}
