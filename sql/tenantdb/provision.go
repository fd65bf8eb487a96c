package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// Backend creates, opens and drops tenant databases on one kind of storage. Names have passed
// ValidateName. Implementations: Local (files under DATA_DIR), Sqld and Turso (a remote primary
// per tenant, opened as an embedded replica).
type Backend interface {
	// Kind names the storage for logs and the catalog ("local", "sqld", "turso"); a catalog
	// row made by one kind is never opened by another.
	Kind() string
	// Provision makes a new, empty database and returns where it lives and the secret that
	// opens it. A name the storage already holds is an error wrapping ErrNameTaken; if
	// Provision fails it leaves nothing behind.
	Provision(ctx context.Context, name string) (Location, error)
	// Connect opens an existing database for this process. A storage that cannot be reached
	// is an error wrapping an *UnavailableError.
	Connect(ctx context.Context, name string, loc Location) (Database, error)
	// Drop deletes the database and its local files; a missing database is not an error.
	Drop(ctx context.Context, name string) error
}

// Location says where a tenant database lives: its URL (recorded in the catalog as is) and the
// credential that opens it (recorded only sealed, see Sealer). Secret is "" for local files.
type Location struct {
	URL    string
	Secret string
}

// Database is an open tenant (or catalog) database.
type Database interface {
	// SQL is the pool every store uses. On a replica every call through it is bounded by the
	// replica's timeout and an unreachable primary surfaces as an *UnavailableError.
	SQL() *sql.DB
	// Sync pulls what the primary has and the local copy lacks; a no-op for local files.
	Sync(ctx context.Context) error
	// Snapshot writes a consistent copy of the database to path, a new local SQLite file.
	Snapshot(path string) error
	// Broken reports a database that must be closed and opened again (its local copy no longer
	// matches its primary).
	Broken() bool
	// Changes returns a count that moves when something other than this pool may have changed
	// the database: another process committed to the local file, or a sync pulled frames
	// another writer sent to the primary. It is cheap enough to ask every second.
	Changes(ctx context.Context) (uint64, error)
	// Close closes the database; remote replicas finish closing in the background.
	Close() error
}

// ErrNameTaken is wrapped by Provision when the storage already has a database of that name.
var ErrNameTaken = errors.New("tenantdb: a database of that name already exists")

// The codes of the Unavailable errors the Registry returns (503 pages; the HTTP layer words
// them).
const (
	CodeUnavailable   apperr.Code = "database_unavailable"   // cannot be reached right now
	CodeUpgrading     apperr.Code = "database_upgrading"     // its migration failed or is running
	CodeShuttingDown  apperr.Code = "shutting_down"          // the Registry is closed
	CodeCreateFailed  apperr.Code = "database_create_failed" // Register could not create it
	CodeOpenFailed    apperr.Code = "database_open_failed"   // Register could not open the new one
	CodeSetupFailed   apperr.Code = "database_setup_failed"  // Register could not migrate it
	CodeNameReleasing apperr.Code = "name_releasing"         // a deleted database of that name is still in use
)

// unavailableKind carries the Unavailable kind (503) through errors.As for the HTTP layer.
var unavailableKind = apperr.New(apperr.Unavailable, CodeUnavailable)

// UnavailableError is a database call that failed because the primary could not be reached, or
// did not answer within the deadline. It is an apperr Unavailable error (503) whose Error text,
// for the log only, keeps the cause.
type UnavailableError struct {
	Op  string
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("tenantdb: %s: database unreachable: %v", e.Op, e.Err)
}

// Unwrap exposes the cause and the apperr kind.
func (e *UnavailableError) Unwrap() []error { return []error{e.Err, unavailableKind} }

// ErrTimeout is the cause of an UnavailableError when a call outlived its deadline.
var ErrTimeout = errors.New("no answer within the deadline")

// localDB is a database file opened by Local.
type localDB struct {
	db *sql.DB
	// version is what PRAGMA data_version last said, and changes how often it moved.
	mu      sync.Mutex
	version int64
	changes uint64
}

func (l *localDB) SQL() *sql.DB               { return l.db }
func (l *localDB) Sync(context.Context) error { return nil }
func (l *localDB) Broken() bool               { return false }

// Close checkpoints the WAL into the database file and empties it before closing: libSQL
// finishes a close (and the checkpoint it would run then) later than Close returns, and the
// files must be final now for Registry.Changes to tell this close from another process's
// write (noteClosed). A checkpoint another process's reader blocks leaves the WAL as it is;
// the close then counts as a change, which only costs a re-read.
func (l *localDB) Close() error {
	var busy, logged, moved int
	_ = l.db.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logged, &moved)
	return l.db.Close()
}

// Changes reads PRAGMA data_version, which moves when another connection (here: another
// process) commits to the file, never for this pool's own one connection.
func (l *localDB) Changes(ctx context.Context) (uint64, error) {
	var v int64
	if err := l.db.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if v != l.version {
		l.version = v
		l.changes++
	}
	return l.changes, nil
}

// Snapshot uses VACUUM INTO: a reader's view of one moment, without copying live files. The
// target must not exist (or be empty); it is created owner-only.
func (l *localDB) Snapshot(path string) error {
	if err := snapshotTarget(path); err != nil {
		return err
	}
	_, err := l.db.Exec("VACUUM INTO ?", path)
	return err
}
