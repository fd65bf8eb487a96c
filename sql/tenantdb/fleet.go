package tenantdb

// What the operator commands (sql/fleet) need from the Registry: opening a tenant for
// maintenance without caching it, migrating it under the cross-process migration lock (which
// the Registry's own lazy migration takes too), and creating a tenant from existing data.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/schema"
)

const (
	// migrationLockTTL is how long a migration lock outlives a holder that stopped refreshing
	// it (a crashed process on another machine); holders refresh it every third of that.
	migrationLockTTL = 30 * time.Second
	// lockPoll is how often a waiter asks for a lock held by someone else.
	lockPoll = 50 * time.Millisecond
	// LazyMigrationWait bounds how long a request's first open of a tenant waits for another
	// process (tenantdesk migrate) to finish migrating it, before answering 503.
	LazyMigrationWait = 10 * time.Second
)

// upgradingKind is the apperr kind a request sees while its tenant is migrated elsewhere.
var upgradingKind = apperr.New(apperr.Unavailable, CodeUpgrading)

// LockedError is returned when a tenant's migration lock stayed with another holder for the
// whole wait. It is an apperr Unavailable error (503) for the HTTP layer.
type LockedError struct {
	DBName string
	Holder string
	Until  time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("tenantdb: %s is being migrated by %s (lock expires %s)", e.DBName, e.Holder,
		e.Until.Format(time.RFC3339))
}

// Unwrap exposes the apperr kind.
func (e *LockedError) Unwrap() error { return upgradingKind }

// holderID names this process in migration_locks: host:pid, so that a lock left by a process
// that died on this host can be taken over at once instead of after its TTL.
var holderID = sync.OnceValue(func() string {
	host, _ := os.Hostname()
	return strings.ReplaceAll(host, ":", "_") + ":" + strconv.Itoa(os.Getpid())
})

// holderSeq makes every lock taken in this process distinct, so that two migrators in one
// process (two Registries on one catalog, as tests have) exclude each other too.
var holderSeq atomic.Int64

// holderDead reports whether holder is a process on this host that no longer exists. Hosts
// that share a name but not a process table (containers with a shared hostname) would see a
// live holder as dead; the worst that does is let two migrators run, and schema.Up already
// makes the second one a no-op.
func holderDead(holder string) bool {
	parts := strings.Split(holder, ":")
	if len(parts) != 3 {
		return false
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(parts[1])
	if err != nil || strings.ReplaceAll(host, ":", "_") != parts[0] || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// LockMigration takes the cross-process migration lock of the tenant database dbName in the
// catalog, waiting at most wait for another holder to finish (a lock of a process that died on
// this host is taken over at once; elsewhere it expires). While held, the lock is refreshed in
// the background; release gives it back. A lock still held by someone else after wait is a
// *LockedError; a catalog that cannot be written is an Unavailable error.
func LockMigration(ctx context.Context, cat *catalog.Store, dbName string, wait time.Duration) (release func(), err error) {
	holder := holderID() + ":" + strconv.FormatInt(holderSeq.Add(1), 10)
	deadline := time.Now().Add(wait)
	for {
		ok, cur, err := cat.TryLockMigration(ctx, dbName, holder, migrationLockTTL)
		if err != nil {
			return nil, &UnavailableError{Op: "migration lock of " + dbName, Err: err}
		}
		if !ok && cur.Holder != "" && holderDead(cur.Holder) {
			if ok, err = cat.TakeOverMigrationLock(ctx, dbName, cur.Holder, holder, migrationLockTTL); err != nil {
				return nil, &UnavailableError{Op: "migration lock of " + dbName, Err: err}
			}
		}
		if ok {
			return refreshLock(cat, dbName, holder), nil
		}
		if !time.Now().Before(deadline) {
			return nil, &LockedError{DBName: dbName, Holder: cur.Holder, Until: cur.ExpiresAt}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// refreshLock keeps holder's lock alive until the returned release is called, which deletes it.
func refreshLock(cat *catalog.Store, dbName, holder string) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(migrationLockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_, _ = cat.RefreshMigrationLock(context.Background(), dbName, holder, migrationLockTTL)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			_ = cat.UnlockMigration(context.Background(), dbName, holder)
		})
	}
}

// Migration is what MigrateDB found and did.
type Migration struct {
	From, To uint
	// Applied lists the versions this call ran (empty when the database was current, or when
	// another migrator got there first).
	Applied []uint
	// Newer is set when the database is newer than this binary's migrations (a newer build
	// migrated it during a rollout); it is used as is, which expand/contract migrations allow.
	Newer bool
}

// MigrateDB brings db, the open database of the tenant dbName, to the newest tenant migration.
// When something is pending it takes the tenant's cross-process migration lock first (waiting
// at most wait), so that the migrate command and a server's lazy migration never run the same
// tenant's migrations at once. A database that is current costs one query and no lock.
// A failed migration file leaves db on the version before it; the error is then a
// *schema.MigrationError, and Migration.To is that version.
func (r *Registry) MigrateDB(ctx context.Context, db *sql.DB, dbName string, wait time.Duration) (Migration, error) {
	pending, err := schema.Pending(db, r.migrations)
	if err == nil && len(pending) == 0 {
		v, lerr := schema.Latest(r.migrations)
		return Migration{From: v, To: v}, lerr
	}
	cur, cerr := schema.Current(db)
	if err != nil {
		latest, lerr := schema.Latest(r.migrations)
		if cerr == nil && lerr == nil && cur > latest {
			return Migration{From: cur, To: cur, Newer: true}, nil
		}
		return Migration{From: cur, To: cur}, err
	}
	release, err := LockMigration(ctx, r.catalog, dbName, wait)
	if err != nil {
		return Migration{From: cur, To: cur}, err
	}
	defer release()
	// Another migrator may have finished while we waited.
	cur, _ = schema.Current(db)
	pending, _ = schema.Pending(db, r.migrations)
	to, err := schema.Up(db, r.migrations)
	m := Migration{From: cur, To: to}
	for _, v := range pending {
		if v <= to {
			m.Applied = append(m.Applied, v)
		}
	}
	return m, err
}

// migrateLocked is the Registry's lazy migration on a tenant's first open: MigrateDB with a
// short wait, so a request never waits long for `tenantdesk migrate`.
func (r *Registry) migrateLocked(ctx context.Context, db *sql.DB, org catalog.Organization) (uint, error) {
	m, err := r.MigrateDB(ctx, db, org.DBName, LazyMigrationWait)
	if m.Newer {
		r.log.Warn("tenant database is newer than this build's migrations; using it as is "+
			"(expand/contract rollout)", "tenant", org.Username, "version", m.To)
	}
	return m.To, err
}

// Migrations returns the tenant migrations the Registry applies.
func (r *Registry) Migrations() fs.FS { return r.migrations }

// Maintain opens org's database for an operator command: not cached, not migrated, not shared
// with requests. Close it when done. On a remote backend it is a new embedded replica, so run
// operator commands with their own replica directory (main.go does).
func (r *Registry) Maintain(ctx context.Context, org catalog.Organization) (Database, error) {
	if err := ValidateName(org.DBName); err != nil {
		return nil, err
	}
	return r.connect(ctx, org)
}

// File returns the path of name's database file (for sizes, backups and restores).
func (l Local) File(name string) (string, error) { return l.path(name) }

// CodeNameOnBackend is RegisterWith's Conflict when the backend already holds a database of the
// new organization's name (the catalog does not).
const CodeNameOnBackend apperr.Code = "database_exists_on_backend"

// RegisterWith creates a tenant from existing data, like Register: the new database is first
// brought to the schema of the data (base, migrations up to its version; nil for none), then
// fill copies the data into it, then it is migrated to the newest schema and only then added
// to the catalog. If any step fails nothing is left behind. A taken username or email is a
// Conflict on that field; fill's own error is returned as is (wrapped).
func (r *Registry) RegisterWith(ctx context.Context, org *catalog.Organization, base fs.FS,
	fill func(ctx context.Context, db *sql.DB) error) error {
	err := r.create(ctx, org, base, fill)
	var se *stepError
	if !errors.As(err, &se) {
		return err
	}
	if errors.Is(se.err, ErrNameTaken) {
		return &apperr.Error{Kind: apperr.Conflict, Code: CodeNameOnBackend, Field: "username", Err: se}
	}
	return fmt.Errorf("tenantdb.RegisterWith %s: %w", org.DBName, se)
}
