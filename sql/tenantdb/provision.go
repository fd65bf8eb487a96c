package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// Provisioner creates, opens and drops tenant databases on one kind of storage: the Registry's
// view of a backend. Names have passed ValidateName. Implementations: Sqld and Turso (a remote
// primary per tenant, opened as an embedded replica), and any Backend through AsProvisioner
// (Local files).
type Provisioner interface {
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
	// Close closes the database; remote replicas finish closing in the background.
	Close() error
}

// ErrNameTaken is wrapped by Provision when the storage already has a database of that name.
var ErrNameTaken = errors.New("tenantdb: a database of that name already exists")

// unavailableMessage is what a person sees when a database cannot be reached.
const unavailableMessage = "This organization's helpdesk is unavailable right now. Please try again in a moment."

// unavailableKind carries the Unavailable kind (503) through errors.As for the HTTP layer.
var unavailableKind = &apperr.Error{Kind: apperr.Unavailable, Message: unavailableMessage}

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

// AsProvisioner adapts a Backend whose databases are plain *sql.DB pools (Local) to the
// Registry. A Provisioner given to it is returned as is.
func AsProvisioner(b Backend) Provisioner {
	if p, ok := b.(Provisioner); ok {
		return p
	}
	return backendProvisioner{b}
}

type backendProvisioner struct{ b Backend }

func (p backendProvisioner) Kind() string { return p.b.Kind() }

func (p backendProvisioner) Provision(ctx context.Context, name string) (Location, error) {
	url, err := p.b.Create(ctx, name)
	return Location{URL: url}, err
}

func (p backendProvisioner) Connect(ctx context.Context, name string, loc Location) (Database, error) {
	db, err := p.b.Open(ctx, name, loc.URL)
	if err != nil {
		return nil, err
	}
	return localDB{db}, nil
}

func (p backendProvisioner) Drop(ctx context.Context, name string) error { return p.b.Drop(ctx, name) }

// localDB is a database file opened by a Backend.
type localDB struct{ db *sql.DB }

func (l localDB) SQL() *sql.DB               { return l.db }
func (l localDB) Sync(context.Context) error { return nil }
func (l localDB) Broken() bool               { return false }
func (l localDB) Close() error               { return l.db.Close() }

// Snapshot uses VACUUM INTO: a reader's view of one moment, without copying live files. The
// target must not exist (or be empty); it is created owner-only.
func (l localDB) Snapshot(path string) error {
	if err := snapshotTarget(path); err != nil {
		return err
	}
	_, err := l.db.Exec("VACUUM INTO ?", path)
	return err
}
