// Package tenantdb owns every tenant database: it creates them on a Backend (local files, sqld
// namespaces or Turso databases, the remote ones opened as embedded replicas), opens each at
// most once, migrates it before handing it out, keeps a bounded set open (least recently used
// are closed), tells when another process changed one, and closes everything on shutdown. It
// knows databases, not what is in them: the domain layer above asks it for an organization's
// database and never builds paths or URLs itself.
package tenantdb

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/schema"
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidateName checks a database name before it becomes a file name or a URL part: lower-case
// letters, digits and dashes, at most 63 characters (a DNS label), so no path separators,
// dots, URI syntax or reserved device names can get through.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("tenantdb: invalid database name %q", name)
	}
	return nil
}

// Handle is an open tenant database lent to one request. Release it when done; the Registry
// closes an evicted database only after its last Handle is released. (It deliberately has no
// Close method: fasthttp closes every io.Closer left in a request's locals.)
type Handle struct {
	Name string
	DB   *sql.DB

	// orgID is the organization the database was opened for: a name deleted and registered
	// again (perhaps by another process) belongs to a new organization.
	orgID int64
	// serial numbers the opens of one name in this process (Changes).
	serial uint64
	// inherited is Changes' value from before this open, kept while the database's own count
	// stays at opened: a local file reopened as this Registry closed it, with nothing written
	// by anyone in between, has not changed, so what callers cached of it stays good.
	inherited, opened uint64
	db                Database
	refs              int
	evicted           bool
	reg               *Registry
}

// Release returns the handle to the Registry.
func (h *Handle) Release() { h.reg.release(h) }

// Registry hands out open, migrated tenant databases.
type Registry struct {
	backend    Backend
	sealer     *Sealer
	catalog    *catalog.Store
	migrations fs.FS
	log        *slog.Logger

	mu      sync.Mutex
	open    *simplelru.LRU[string, *Handle]
	opening map[string]*opening
	closed  bool
	closing []closeWaiter // replicas closed by Close, for it to wait on
	// closeq holds evicted databases to close once mu is released (closer.go).
	closeq []*Handle

	// serial counts the opens of each name (Changes); closedAs holds, per local database this
	// Registry closed, what Changes said while it was open and its files right after the
	// close, so that closing it is no change of its own.
	serial   map[string]uint64
	closedAs map[string]closedAs

	// nameLocks serialises registration, deletion and cold opens of one name.
	nameLocks [64]sync.Mutex
	// held counts the open handles per name, for deletions that wait for them (holders.go).
	held map[string]*held

	opens     atomic.Int64
	evictions atomic.Int64

	drops       dropLoop      // retries of pending deletions (pending.go)
	orphanGrace time.Duration // see Config.OrphanGrace
	dropBackoff time.Duration // see Config.DropBackoff
}

type opening struct {
	done chan struct{}
	h    *Handle
	err  error
}

// Config is what New needs.
type Config struct {
	Backend Backend
	Catalog *catalog.Store
	// Migrations holds the tenant migrations (the root has the *.sql files).
	Migrations fs.FS
	// MaxOpen bounds the databases open at once; the least recently used are closed. On a
	// remote backend each open replica may hold a connection on the server: keep it below
	// the server's connection limit (README).
	MaxOpen int
	Log     *slog.Logger
	// Sealer seals the credentials Provision returns before they go into the catalog;
	// required for a Backend whose databases have credentials (sqld, turso).
	Sealer *Sealer
	// OrphanGrace is how long a database a failed registration may have left behind is left
	// alone before the retries delete it (pending.go). Default DefaultOrphanGrace.
	OrphanGrace time.Duration
	// DropBackoff is the wait after a failed deletion on the backend; it doubles with every
	// failure, up to an hour. Default 30 s.
	DropBackoff time.Duration
}

// New returns a Registry.
func New(cfg Config) (*Registry, error) {
	if cfg.Backend == nil || cfg.Catalog == nil {
		return nil, errors.New("tenantdb: a Backend and a catalog are required")
	}
	if cfg.MaxOpen < 1 {
		return nil, errors.New("tenantdb: maxOpen must be at least 1")
	}
	if _, err := schema.Latest(cfg.Migrations); err != nil {
		return nil, fmt.Errorf("tenantdb: reading tenant migrations: %w", err)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.OrphanGrace <= 0 {
		cfg.OrphanGrace = DefaultOrphanGrace
	}
	if cfg.DropBackoff <= 0 {
		cfg.DropBackoff = 30 * time.Second
	}
	r := &Registry{backend: cfg.Backend, sealer: cfg.Sealer, catalog: cfg.Catalog, migrations: cfg.Migrations,
		log: cfg.Log, opening: map[string]*opening{}, serial: map[string]uint64{}, closedAs: map[string]closedAs{},
		held:        map[string]*held{},
		orphanGrace: cfg.OrphanGrace, dropBackoff: cfg.DropBackoff}
	lru, err := simplelru.NewLRU[string, *Handle](cfg.MaxOpen, r.onEvict)
	if err != nil {
		return nil, err
	}
	r.open = lru
	return r, nil
}

// Backend returns the Backend the Registry creates databases on.
func (r *Registry) Backend() Backend { return r.backend }

// Stats reports how many databases are open now, how many times one was opened and how many
// were evicted, for metrics and tests.
func (r *Registry) Stats() (open int, opens, evictions int64) {
	r.mu.Lock()
	open = r.open.Len()
	r.mu.Unlock()
	return open, r.opens.Load(), r.evictions.Load()
}

// Acquire returns org's database, opening and migrating it on first use. Concurrent first
// requests share one open. A database that cannot be opened is an Unavailable error.
func (r *Registry) Acquire(ctx context.Context, org catalog.Organization) (*Handle, error) {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, apperr.New(apperr.Unavailable, CodeShuttingDown)
		}
		if h, ok := r.open.Get(org.DBName); ok {
			if !h.db.Broken() && h.orgID == org.ID {
				h.refs++
				r.mu.Unlock()
				return h, nil
			}
			// Its local copy no longer matches the primary, its token is due for renewal, or
			// the name now belongs to another organization (deleted and registered again,
			// perhaps by another process): close it once its requests are done, open afresh.
			r.open.Remove(org.DBName)
		}
		if op, ok := r.opening[org.DBName]; ok {
			q := r.takeQueued()
			r.mu.Unlock()
			r.closeAll(q)
			<-op.done
			if op.err != nil {
				return nil, op.err
			}
			continue // it is in the cache now (or was evicted already: try again)
		}
		op := &opening{done: make(chan struct{})}
		r.opening[org.DBName] = op
		q := r.takeQueued()
		r.mu.Unlock()
		r.closeAll(q)

		// The name lock orders this open, up to its entry in the cache, against Register and
		// Delete of the same name: Delete either finds the handle cached (and evicts it) or
		// runs first, and the open then fails on the dropped database. Otherwise a request
		// racing a Delete could cache the deleted database, and a new organization
		// registered under the same name would be handed the old one's data.
		lock := r.nameLock(org.DBName)
		lock.Lock()
		h, err := r.openTenant(ctx, org)
		r.mu.Lock()
		delete(r.opening, org.DBName)
		if err == nil {
			if r.closed {
				r.mu.Unlock()
				lock.Unlock()
				h.db.Close()
				err = apperr.New(apperr.Unavailable, CodeShuttingDown)
				op.err = err
				close(op.done)
				return nil, err
			}
			h.refs++
			r.hold(org.DBName)
			r.open.Add(org.DBName, h)
		}
		op.err = err
		q = r.takeQueued()
		r.mu.Unlock()
		lock.Unlock()
		close(op.done)
		r.closeAll(q) // what the LRU evicted to make room, outside the locks
		if err != nil {
			return nil, err
		}
		return h, nil
	}
}

func (r *Registry) openTenant(ctx context.Context, org catalog.Organization) (*Handle, error) {
	if err := ValidateName(org.DBName); err != nil {
		return nil, err
	}
	if err := r.stillRegistered(ctx, org); err != nil {
		return nil, err
	}
	// The files as they are before the open (which touches them): if they are as this
	// Registry's last close left them, the open is no change (Changes).
	var before uint64
	l, isLocal := r.backend.(Local)
	if isLocal {
		before, _ = l.Fingerprint(org.DBName)
	}
	database, err := r.connect(ctx, org)
	if err != nil {
		r.log.Error("open tenant database", "tenant", org.Username, "backend", r.backend.Kind(), "err", err)
		return nil, apperr.Wrap(apperr.Unavailable, CodeUnavailable, err)
	}
	db := database.SQL()
	r.opens.Add(1)
	version, err := r.migrateLocked(ctx, db, org) // under the cross-process migration lock (fleet.go)
	if err != nil {
		r.log.Error("migrate tenant database", "tenant", org.Username, "err", err)
		database.Close()
		if apperr.Is(err, apperr.Unavailable) {
			return nil, err // the primary did not answer: not a broken migration
		}
		if cerr := r.catalog.SetSchemaVersion(ctx, org.ID, org.SchemaVersion, err.Error()); cerr != nil {
			r.log.Error("record migration error", "tenant", org.Username, "err", cerr)
		}
		return nil, apperr.Wrap(apperr.Unavailable, CodeUpgrading, err)
	}
	if version != org.SchemaVersion || org.MigrationError != "" {
		if err := r.catalog.SetSchemaVersion(ctx, org.ID, version, ""); err != nil {
			r.log.Error("record schema version", "tenant", org.Username, "err", err)
		}
	}
	h := &Handle{Name: org.DBName, DB: db, orgID: org.ID, db: database, reg: r}
	opened, countErr := database.Changes(ctx)
	r.mu.Lock()
	c, known := r.closedAs[org.DBName]
	if known && isLocal && countErr == nil && before != 0 && c.files == before && c.serial == r.serial[org.DBName] &&
		version == org.SchemaVersion {
		h.inherited, h.opened = c.version, opened
	}
	r.serial[org.DBName]++
	h.serial = r.serial[org.DBName]
	r.mu.Unlock()
	return h, nil
}

// version is Changes' value for h open, its database's own count at n.
func (h *Handle) version(n uint64) uint64 {
	if h.inherited != 0 && n == h.opened {
		return h.inherited
	}
	return mix(1, h.serial, n)
}

// connect opens org's database with its unsealed credential, refusing a row that another
// kind of backend made.
func (r *Registry) connect(ctx context.Context, org catalog.Organization) (Database, error) {
	kind := org.DBBackend
	if kind == "" {
		kind = "local"
	}
	if kind != r.backend.Kind() {
		return nil, fmt.Errorf("tenantdb: %s's database was made by the %s backend, but TENANT_BACKEND is %s",
			org.DBName, kind, r.backend.Kind())
	}
	secret := ""
	if org.DBSecret != "" {
		if r.sealer == nil {
			return nil, fmt.Errorf("tenantdb: %s has a sealed credential but no credential key is configured", org.DBName)
		}
		var err error
		if secret, err = r.sealer.Open(org.DBName, org.DBSecret); err != nil {
			return nil, err
		}
	}
	database, err := r.backend.Connect(ctx, org.DBName, Location{URL: org.DBURL, Secret: secret})
	if err == nil {
		r.keepRenewedSecret(ctx, org, database)
	}
	return database, err
}

// onEvict runs under r.mu when the LRU drops a handle.
func (r *Registry) onEvict(_ string, h *Handle) {
	r.evictions.Add(1)
	h.evicted = true
	if h.refs == 0 {
		r.closeDB(h)
	}
}

func (r *Registry) release(h *Handle) {
	r.mu.Lock()
	h.refs--
	if h.refs == 0 && h.evicted {
		r.closeDB(h)
	}
	q := r.takeQueued()
	r.mu.Unlock()
	r.closeAll(q)
}

// closeDB queues h to be closed (r.mu held); whoever unlocks r.mu then closes it (closer.go).
func (r *Registry) closeDB(h *Handle) {
	r.closeq = append(r.closeq, h)
}

// closeWaiter is a Database that finishes closing in the background (a replica).
type closeWaiter interface {
	waitClosed(time.Duration) bool
}

// closeWait bounds how long Close waits for replicas to finish closing.
const closeWait = 5 * time.Second

// evict closes name's database if it is open (or once its last user releases it).
func (r *Registry) evict(name string) {
	r.mu.Lock()
	r.open.Remove(name)
	q := r.takeQueued()
	r.mu.Unlock()
	r.closeAll(q)
}

func (r *Registry) nameLock(name string) *sync.Mutex {
	var h uint32 = 2166136261
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return &r.nameLocks[h%uint32(len(r.nameLocks))]
}

// Register creates org's database on the backend, migrates it and only then adds org to the
// catalog. If any step fails nothing is left behind: the database is dropped again and the same
// username can be tried again. A taken username or email is a Conflict on that field.
// org.DBName must be set; Register fills DBURL, SchemaVersion, ID and the times.
func (r *Registry) Register(ctx context.Context, org *catalog.Organization) error {
	err := r.create(ctx, org, nil, nil)
	var se *stepError
	if !errors.As(err, &se) {
		return err
	}
	if errors.Is(se.err, ErrNameTaken) {
		r.log.Warn("tenant database name taken on the backend", "tenant", org.Username, "backend", r.backend.Kind(), "err", se.err)
		return apperr.Field(apperr.Conflict, "username", apperr.CodeTaken)
	}
	r.log.Error(se.step+" tenant database", "tenant", org.Username, "backend", r.backend.Kind(), "err", se.err)
	switch se.step {
	case stepOpen:
		return apperr.Wrap(apperr.Unavailable, CodeOpenFailed, se)
	case stepMigrate:
		return apperr.Wrap(apperr.Unavailable, CodeSetupFailed, se)
	}
	return apperr.Wrap(apperr.Unavailable, CodeCreateFailed, se)
}

// The steps of create, named in errors and logs.
const (
	stepCreate  = "create"
	stepSeal    = "seal"
	stepOpen    = "open"
	stepBase    = "schema of the data"
	stepFill    = "copy"
	stepMigrate = "migrate"
)

// stepError is a failed step of create, after which the new database was dropped again.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// create is what Register and RegisterWith share: under the name's lock it checks that the
// username and email are free, creates the database on the backend, seals its credential,
// brings it to base and runs fill (when given), migrates it to the newest schema and only then
// adds org to the catalog. A taken username or email is a Conflict on that field, a catalog
// error is returned as is, and any other failure is a *stepError after which the database has
// been dropped again.
func (r *Registry) create(ctx context.Context, org *catalog.Organization, base fs.FS,
	fill func(ctx context.Context, db *sql.DB) error) error {
	if err := ValidateName(org.DBName); err != nil {
		return err
	}
	lock := r.nameLock(org.DBName)
	lock.Lock()
	defer lock.Unlock()

	userTaken, emailTaken, err := r.catalog.Taken(ctx, org.Username, org.Email)
	if err != nil {
		return err
	}
	if userTaken {
		return apperr.Field(apperr.Conflict, "username", apperr.CodeTaken)
	}
	if emailTaken {
		return apperr.Field(apperr.Conflict, "email", apperr.CodeTaken)
	}
	// The name is free in the catalog; a deleted organization's database of that name may
	// still be held by requests (holders.go).
	if err := r.waitReleased(ctx, org.DBName); err != nil {
		return err
	}

	if err := r.clearPendingDrop(ctx, org.DBName); err != nil {
		return &stepError{step: stepCreate, err: err}
	}
	loc, err := r.backend.Provision(ctx, org.DBName)
	if err != nil {
		if errors.Is(err, ErrMaybeCreated) {
			r.queueOrphan(ctx, org.DBName, err)
		}
		return &stepError{step: stepCreate, err: err}
	}
	undo := func(cause error) {
		if derr := r.backend.Drop(context.WithoutCancel(ctx), org.DBName); derr != nil {
			r.log.Error("drop tenant database after a failed creation", "tenant", org.Username, "err", derr, "cause", cause)
			r.queueOrphan(ctx, org.DBName, derr)
		}
	}
	fail := func(step string, cause error) error {
		undo(cause)
		return &stepError{step: step, err: cause}
	}
	sealed := ""
	if loc.Secret != "" {
		if r.sealer == nil {
			return fail(stepSeal, errors.New("tenantdb: no credential key to seal the database's credential with"))
		}
		if sealed, err = r.sealer.Seal(org.DBName, loc.Secret); err != nil {
			return fail(stepSeal, err)
		}
	}
	database, err := r.backend.Connect(ctx, org.DBName, loc)
	if err != nil {
		return fail(stepOpen, err)
	}
	db := database.SQL()
	if base != nil {
		if _, err := schema.Up(db, base); err != nil {
			database.Close()
			return fail(stepBase, err)
		}
	}
	if fill != nil {
		if err := fill(ctx, db); err != nil {
			database.Close()
			return fail(stepFill, err)
		}
	}
	version, err := schema.Up(db, r.migrations)
	database.Close()
	if err != nil {
		return fail(stepMigrate, err)
	}
	org.DBURL, org.SchemaVersion = loc.URL, version
	org.DBBackend, org.DBSecret = r.backend.Kind(), sealed
	if err := r.catalog.Create(ctx, org); err != nil {
		undo(err)
		return err
	}
	return nil
}

// Delete removes org: its catalog row is deleted and its database recorded for deletion in
// one transaction; the database is then dropped on the backend with its local files — at
// once when no request holds it, otherwise by the last request to release it, and until then
// its name stays reserved (holders.go). A drop that fails stays recorded and is retried
// (pending.go): the organization is gone either way.
func (r *Registry) Delete(ctx context.Context, org catalog.Organization) error {
	lock := r.nameLock(org.DBName)
	lock.Lock()
	defer lock.Unlock()
	if err := r.catalog.DeleteQueueingDrop(ctx, org.ID); err != nil {
		return err
	}
	r.evict(org.DBName)
	if r.dropWhenReleased(org.DBName) {
		r.log.Info("deleted tenant database still in use; dropped when its last request ends", "db", org.DBName)
		return nil
	}
	r.dropDeleted(ctx, org.DBName)
	return nil
}

// Close closes every open tenant database; handles still lent out are closed on release.
// Acquire fails afterwards. It waits a few seconds at most for replicas to close their
// connectors.
func (r *Registry) Close() {
	r.stopDrops()
	r.mu.Lock()
	r.closed = true
	r.open.Purge()
	q := r.takeQueued()
	r.mu.Unlock()
	r.closeAll(q)
	r.mu.Lock()
	waits := r.closing
	r.closing = nil
	r.mu.Unlock()
	deadline := time.Now().Add(closeWait)
	for _, w := range waits {
		if !w.waitClosed(time.Until(deadline)) {
			r.log.Warn("tenant replicas still closing at shutdown")
			return
		}
	}
}

// Snapshot writes a consistent copy of the database to path (which must not exist): a reader's
// view of one moment, without copying live files (VACUUM INTO on a local file; on a replica a
// copy of the local state while syncs wait).
func (h *Handle) Snapshot(path string) error {
	if err := h.db.Snapshot(path); err != nil {
		return fmt.Errorf("tenantdb.Snapshot %s: %w", h.Name, err)
	}
	return nil
}

// Changes returns a value that differs from the one an earlier call returned whenever name's
// database may have been changed by something other than this Registry's own connections: for
// an open database, what Database.Changes counts (another process committing to the local
// file, a replica's sync pulling frames); for a closed local file, a fingerprint of its files
// on disk. Opening a database counts as a change, so nothing that happened while it was
// closed goes unseen, except a local file reopened as this Registry's last close left it;
// closing a local file is no change either (the files as the close left them are
// remembered), so what callers cached stays good across an eviction and a reopen. While a
// database is out of the cache but not yet closed it answers ErrClosing. It never opens a
// database; for a closed replica it reports no change (a replica cannot be read without
// opening it: callers bound how long they trust what they read from one instead). It is cheap
// enough to ask every second for each tenant in use.
func (r *Registry) Changes(ctx context.Context, name string) (uint64, error) {
	r.mu.Lock()
	h, ok := r.open.Peek(name)
	if ok && !h.evicted {
		h.refs++
	}
	serial := r.serial[name]
	e := r.held[name]
	closing := (!ok || h.evicted) && e != nil && e.n > 0
	r.mu.Unlock()
	if closing {
		// Out of the cache but not closed yet: its files are in flux until the close is done.
		return 0, ErrClosing
	}
	if ok && !h.evicted {
		defer h.Release()
		n, err := h.db.Changes(ctx)
		if err != nil {
			return 0, err
		}
		return h.version(n), nil
	}
	if l, isLocal := r.backend.(Local); isLocal {
		fp, err := l.Fingerprint(name)
		if err != nil {
			return 0, err
		}
		r.mu.Lock()
		c, known := r.closedAs[name]
		r.mu.Unlock()
		if known && c.serial == serial && c.files == fp {
			return c.version, nil // as it was while open: only this Registry's close touched it
		}
		return mix(2, serial, fp), nil
	}
	return mix(3, serial, 0), nil
}

// closedAs is a local database as this Registry closed it: Changes' value while it was open,
// and the files' fingerprint right after the close.
type closedAs struct {
	serial, version, files uint64
}

// noteClosed records how h's local database looked when this Registry closed it (closeAll).
// A write by another process in the instant between the close and the look is taken as
// part of the close (the desk re-reads what it caches after StateTTL in any case).
func (r *Registry) noteClosed(h *Handle, open uint64, counted bool) {
	l, isLocal := r.backend.(Local)
	if !isLocal || !counted {
		return
	}
	fp, err := l.Fingerprint(h.Name)
	if err != nil {
		return
	}
	r.mu.Lock()
	if r.serial[h.Name] == h.serial { // not opened again meanwhile
		r.closedAs[h.Name] = closedAs{serial: h.serial, version: h.version(open), files: fp}
	}
	r.mu.Unlock()
}

// ErrClosing is Changes' answer for a database this Registry is closing: ask again later.
var ErrClosing = errors.New("tenantdb: the database is being closed")

// mix folds a state, an open serial and a count into one value.
func mix(state, serial, n uint64) uint64 {
	h := fnv.New64a()
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], state)
	binary.LittleEndian.PutUint64(b[8:], serial)
	binary.LittleEndian.PutUint64(b[16:], n)
	h.Write(b[:])
	return h.Sum64()
}

// IsOpen reports whether name's database is open now (for tests and diagnostics).
func (r *Registry) IsOpen(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open.Contains(name)
}
