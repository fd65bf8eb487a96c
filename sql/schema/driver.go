package schema

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/golang-migrate/migrate/v4/database"

	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// versionTable holds the schema version: exactly one row (version, dirty). The name and
// columns are those of golang-migrate's sqlite drivers, so a database they migrated can be
// taken over. version is -1 (database.NilVersion) when no migration is applied.
const versionTable = "schema_migrations"

// noVersion marks "not known yet" in libsqlDriver.known and "nothing pending" in pending.
const noVersion = -2

// errVersionMoved is returned (wrapped) by Run when another migrator changed the version
// between golang-migrate reading it and the migration's transaction starting. Up retries.
var errVersionMoved = errors.New("schema version changed under a running migration")

// MigrationError is the error Run returns when a migration file fails. The transaction was
// rolled back, so the database is still on the version it had before the file, not dirty:
// fix the file and run Up again. The fields let a caller (the catalog) record what failed.
type MigrationError struct {
	Version    int    // the file's version (-1: a down migration to no version)
	Statement  int    // 1-based number of the failing statement; 0: the failure was not a statement's
	Statements int    // how many statements the file holds
	SQL        string // the failing statement, or what failed ("split", "commit", …)
	Err        error
}

// Error names the version and the statement first, abbreviated to one line, because the
// message ends up in logs and in the catalog's migration_error column.
func (e *MigrationError) Error() string {
	where := e.SQL
	if e.Statement > 0 {
		where = fmt.Sprintf("statement %d of %d (%s)", e.Statement, e.Statements, abbreviate(e.SQL, 120))
	}
	return fmt.Sprintf("schema: migration %d: %s: %s", e.Version, where, driverMessage(e.Err))
}

// driverMessage drops the "failed to execute query <the whole statement>" line go-libsql puts
// before SQLite's message; the statement is already in the error, abbreviated.
func driverMessage(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "\nerror code = "); i >= 0 && strings.HasPrefix(msg, "failed to ") {
		return msg[i+1:]
	}
	return msg
}

// Unwrap exposes the driver's error, so errors.Is/As still see what SQLite reported.
func (e *MigrationError) Unwrap() error { return e.Err }

// abbreviate shortens s to one line of at most n runes for an error message.
func abbreviate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// libsqlDriver is a golang-migrate database.Driver for a go-libsql *sql.DB. See WithInstance.
type libsqlDriver struct {
	db *sql.DB

	mu        sync.Mutex // guards the fields below; golang-migrate calls from two goroutines
	holdsLock bool       // this driver holds its database's in-process migration lock
	known     int        // the version last read or written by this driver, or noVersion
	pending   int        // the version SetVersion(v, true) announced for the next Run, or noVersion
	committed int        // the version the last Run committed, or noVersion
}

// WithInstance returns a golang-migrate driver for a go-libsql database, because golang-migrate
// ships none: its sqlite drivers hand a whole migration file to Exec, and go-libsql runs only
// the first statement of such a string on a local file — silently, so the version is recorded
// while most of the file never ran.
//
// This driver splits each file into statements and runs them, together with the version bump,
// in one transaction: a migration is applied completely or not at all, and the database is
// never left dirty. It creates the version table if it is missing. Close does not close db.
//
// Lock is in-process only (one migration at a time per *sql.DB); migrations from other
// processes, or other *sql.DB handles on the same file, are not excluded by it — serialising
// those is the deployer's job. If one nevertheless slips in between, Run notices the version
// moved inside its transaction and fails without changing anything.
func WithInstance(db *sql.DB) (database.Driver, error) {
	if db == nil {
		return nil, errors.New("schema: WithInstance: nil *sql.DB")
	}
	if err := ensureVersionTable(context.Background(), db); err != nil {
		return nil, err
	}
	return &libsqlDriver{db: db, known: noVersion, pending: noVersion, committed: noVersion}, nil
}

// ensureVersionTable creates the version table with its one row, using single statements
// (golang-migrate's own drivers create it with a two-statement string, whose second statement
// go-libsql skips). An existing table is left alone, so the common case writes nothing.
func ensureVersionTable(ctx context.Context, db *sql.DB) error {
	exists, err := tableExists(ctx, db, versionTable)
	if err != nil || exists {
		return err
	}
	return inTx(ctx, db, func(conn *sql.Conn) error {
		if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+versionTable+
			" (version INTEGER NOT NULL, dirty INTEGER NOT NULL)"); err != nil {
			return err
		}
		_, err := conn.ExecContext(ctx, "INSERT INTO "+versionTable+" (version, dirty) "+
			"SELECT -1, 0 WHERE NOT EXISTS (SELECT 1 FROM "+versionTable+")")
		return err
	})
}

// queryer is what readVersion needs: a *sql.DB or a *sql.Conn.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// tableExists reports whether the named table exists.
func tableExists(ctx context.Context, q queryer, name string) (bool, error) {
	rows, err := q.QueryContext(ctx,
		"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name)
	if err != nil {
		return false, fmt.Errorf("schema: looking for table %s: %w", name, err)
	}
	defer rows.Close()
	found := rows.Next()
	return found, rows.Err()
}

// readVersion returns the recorded version (-1 when none) and dirty flag. Unlike
// golang-migrate's drivers, which report "no version" on any error, only a missing table or an
// empty one means no version; anything else is returned as an error.
func readVersion(ctx context.Context, q queryer) (version int, dirty bool, err error) {
	const query = "SELECT version, dirty FROM " + versionTable + " LIMIT 2"
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		// go-libsql's errors carry no usable code, so "no such table" is told apart from
		// other failures by looking. The table may also have been created (by another
		// handle on the file) between the two queries: then the query is worth a retry.
		exists, err2 := tableExists(ctx, q, versionTable)
		if err2 == nil && !exists {
			return database.NilVersion, false, nil
		}
		if err2 == nil {
			rows, err = q.QueryContext(ctx, query)
		}
		if err != nil {
			return 0, false, fmt.Errorf("schema: reading %s: %w", versionTable, err)
		}
	}
	defer rows.Close()
	n := 0
	var v, d sql.NullInt64
	for rows.Next() {
		if n++; n > 1 {
			return 0, false, fmt.Errorf("schema: %s holds more than one row", versionTable)
		}
		if err := rows.Scan(&v, &d); err != nil {
			return 0, false, fmt.Errorf("schema: reading %s: %w", versionTable, err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, false, fmt.Errorf("schema: reading %s: %w", versionTable, err)
	}
	if n == 0 {
		return database.NilVersion, false, nil
	}
	if !v.Valid || v.Int64 < int64(database.NilVersion) {
		return 0, false, fmt.Errorf("schema: %s holds an invalid version %v", versionTable, v)
	}
	return int(v.Int64), d.Valid && d.Int64 != 0, nil
}

// writeVersion replaces the version row. It is two single statements, run on conn inside the
// caller's transaction.
func writeVersion(ctx context.Context, conn *sql.Conn, version int, dirty bool) error {
	if _, err := conn.ExecContext(ctx, "DELETE FROM "+versionTable); err != nil {
		return err
	}
	d := 0
	if dirty {
		d = 1
	}
	_, err := conn.ExecContext(ctx, "INSERT INTO "+versionTable+" (version, dirty) VALUES (?, ?)",
		int64(version), int64(d))
	return err
}

// inTx runs fn in a BEGIN IMMEDIATE transaction on one connection (a database/sql Tx cannot
// choose IMMEDIATE). IMMEDIATE takes the write lock up front, so a concurrent writer waits for
// the busy timeout at BEGIN instead of failing half-way. fn's error rolls everything back.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Conn) error) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if err := fn(conn); err != nil {
		rollback(ctx, conn)
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		// A failed COMMIT (a deferred foreign key violation, say) leaves the transaction open.
		rollback(ctx, conn)
		return &commitError{err}
	}
	return nil
}

// commitError marks an error of the COMMIT itself, so Run can report it as such.
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// rollback ends conn's transaction. Some errors make SQLite roll back by itself, and then
// ROLLBACK fails with "no transaction is active", which is fine. Any other failure leaves the
// connection in an unknown state, so it is discarded rather than returned to the pool.
func rollback(ctx context.Context, conn *sql.Conn) {
	_, err := conn.ExecContext(ctx, "ROLLBACK")
	if err != nil && !strings.Contains(err.Error(), "no transaction is active") {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// Open exists because database.Driver requires it; golang-migrate's URL-based constructors
// cannot hand over the pragmas and pool settings tenantdesk needs, so use WithInstance.
func (d *libsqlDriver) Open(url string) (database.Driver, error) {
	return nil, errors.New("schema: Open(url) is not supported; open the database with " +
		"sqlite.Open and use schema.WithInstance")
}

// Close releases the driver's lock, if held, but leaves the *sql.DB open: it belongs to the
// caller (migrate.Migrate.Close calls this).
func (d *libsqlDriver) Close() error {
	d.mu.Lock()
	holds := d.holdsLock
	d.holdsLock = false
	d.mu.Unlock()
	if holds {
		unlockDB(d.db)
	}
	return nil
}

// Lock takes the in-process migration lock of the driver's *sql.DB, or returns
// database.ErrLocked at once if another driver holds it (golang-migrate calls Lock in a
// goroutine with a timeout, so a blocking Lock would leak a goroutine that later takes the
// lock and never releases it).
func (d *libsqlDriver) Lock() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.holdsLock || !tryLockDB(d.db) {
		return database.ErrLocked
	}
	d.holdsLock = true
	return nil
}

// Unlock releases the lock taken by Lock; database.ErrNotLocked if this driver holds none.
func (d *libsqlDriver) Unlock() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.holdsLock {
		return database.ErrNotLocked
	}
	d.holdsLock = false
	unlockDB(d.db)
	return nil
}

// Run applies one migration file: every statement, then the version announced by
// SetVersion(v, true), in one transaction. If any statement fails, nothing of the file stays
// and the version is unchanged; the error is a *MigrationError.
//
// Because of that transaction, PRAGMA foreign_keys = OFF in a file is a silent no-op (SQLite
// ignores it inside a transaction); a file that rebuilds a table uses
// PRAGMA defer_foreign_keys = ON instead. VACUUM cannot run in a migration at all.
func (d *libsqlDriver) Run(migration io.Reader) error {
	d.mu.Lock()
	version, known := d.pending, d.known
	d.pending, d.committed = noVersion, noVersion
	d.mu.Unlock()

	body, err := io.ReadAll(migration)
	if err != nil {
		return &MigrationError{Version: version, SQL: "read", Err: err}
	}
	stmts, err := splitCached(string(body))
	if err != nil {
		return &MigrationError{Version: version, SQL: "split", Err: err}
	}

	ctx := context.Background()
	failed := 0 // the 1-based number of the failing statement
	err = inTx(ctx, d.db, func(conn *sql.Conn) error {
		if known != noVersion && version != noVersion {
			now, _, err := readVersion(ctx, conn)
			if err != nil {
				return err
			}
			if now != known {
				return fmt.Errorf("%w: expected version %d, found %d", errVersionMoved, known, now)
			}
		}
		for i, s := range stmts {
			if err := execStatement(ctx, conn, s); err != nil {
				failed = i + 1
				return err
			}
		}
		if version == noVersion {
			return nil // Run without SetVersion(v, true): SetVersion(v, false) records it
		}
		return writeVersion(ctx, conn, version, false)
	})
	if err != nil {
		me := &MigrationError{Version: version, Statement: failed, Statements: len(stmts), Err: err}
		var ce *commitError
		switch {
		case failed > 0:
			me.SQL = stmts[failed-1].sql
		case errors.As(err, &ce):
			me.SQL, me.Err = "commit", ce.err
		default:
			me.SQL = "version bookkeeping"
		}
		return me
	}
	if version != noVersion {
		d.mu.Lock()
		d.committed, d.known = version, version
		d.mu.Unlock()
	}
	return nil
}

// execStatement runs one statement on conn: DDL and DML with ExecContext; statements that
// return rows as a query whose rows are drained, because go-libsql's Exec refuses them.
func execStatement(ctx context.Context, conn *sql.Conn, s statement) error {
	if !s.query {
		_, err := conn.ExecContext(ctx, s.sql)
		return err
	}
	rows, err := conn.QueryContext(ctx, s.sql)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}

// SetVersion follows golang-migrate's protocol — SetVersion(v, true), Run, SetVersion(v,
// false) — without its window: a dirty mark written before Run would survive a crash, and a
// clean mark written after Run could be lost. So SetVersion(v, true) only remembers v for Run,
// which commits v together with the statements, and SetVersion(v, false) writes v only when
// Run has not already committed it (migrate.Force, or a version without an up file). Dirty is
// therefore never written.
func (d *libsqlDriver) SetVersion(version int, dirty bool) error {
	if version < database.NilVersion {
		return fmt.Errorf("schema: SetVersion: invalid version %d", version)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if dirty {
		d.pending, d.committed = version, noVersion
		return nil
	}
	d.pending = noVersion
	if d.committed == version {
		d.committed = noVersion
		return nil
	}
	d.committed = noVersion
	ctx := context.Background()
	if err := inTx(ctx, d.db, func(conn *sql.Conn) error {
		return writeVersion(ctx, conn, version, false)
	}); err != nil {
		return fmt.Errorf("schema: recording version %d: %w", version, err)
	}
	d.known = version
	return nil
}

// Version returns the recorded version, database.NilVersion when there is none. Errors reading
// it are returned, not taken for "no version" (which would make golang-migrate start over
// from the first migration).
func (d *libsqlDriver) Version() (int, bool, error) {
	v, dirty, err := readVersion(context.Background(), d.db)
	if err != nil {
		return database.NilVersion, false, err
	}
	d.mu.Lock()
	d.known = v
	d.mu.Unlock()
	return v, dirty, nil
}

// Drop removes every view, table, index and trigger (the version table too), in one
// transaction with foreign keys deferred, so that a parent table may go before its children.
func (d *libsqlDriver) Drop() error {
	ctx := context.Background()
	err := inTx(ctx, d.db, func(conn *sql.Conn) error {
		if _, err := conn.ExecContext(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
			return err
		}
		// Views first (they may name tables), then virtual tables (dropping one drops its
		// shadow tables, hence IF EXISTS below), then the rest; indexes and triggers go with
		// their tables.
		rows, err := conn.QueryContext(ctx, `SELECT type, name FROM sqlite_master
			WHERE type IN ('view', 'table') AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
			ORDER BY type = 'table', sql NOT LIKE 'CREATE VIRTUAL%', name`)
		if err != nil {
			return err
		}
		type object struct{ kind, name string }
		var objects []object
		for rows.Next() {
			var o object
			if err := rows.Scan(&o.kind, &o.name); err != nil {
				rows.Close()
				return err
			}
			objects = append(objects, o)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, o := range objects {
			q := fmt.Sprintf("DROP %s IF EXISTS %s", strings.ToUpper(o.kind), sqlite.QuoteIdent(o.name))
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("schema: drop: %w", err)
	}
	d.mu.Lock()
	d.known, d.pending, d.committed = noVersion, noVersion, noVersion
	d.mu.Unlock()
	return nil
}

// The in-process locks, per *sql.DB. An entry lives while someone holds or waits for it, so
// closed databases do not accumulate.
var dbLocks = struct {
	sync.Mutex
	m map[*sql.DB]*dbLock
}{m: make(map[*sql.DB]*dbLock)}

type dbLock struct {
	refs   int        // holders and waiters of either lock below
	locked bool       // the driver lock (Lock/Unlock), non-blocking
	serial sync.Mutex // Up holds this for its whole run, so concurrent Ups on one db queue up
}

func acquireRef(db *sql.DB) *dbLock {
	dbLocks.Lock()
	defer dbLocks.Unlock()
	l := dbLocks.m[db]
	if l == nil {
		l = &dbLock{}
		dbLocks.m[db] = l
	}
	l.refs++
	return l
}

func releaseRef(db *sql.DB) {
	dbLocks.Lock()
	defer dbLocks.Unlock()
	if l := dbLocks.m[db]; l != nil {
		if l.refs--; l.refs <= 0 {
			delete(dbLocks.m, db)
		}
	}
}

func tryLockDB(db *sql.DB) bool {
	dbLocks.Lock()
	defer dbLocks.Unlock()
	l := dbLocks.m[db]
	if l == nil {
		l = &dbLock{}
		dbLocks.m[db] = l
	}
	if l.locked {
		return false
	}
	l.locked = true
	l.refs++
	return true
}

func unlockDB(db *sql.DB) {
	dbLocks.Lock()
	defer dbLocks.Unlock()
	if l := dbLocks.m[db]; l != nil && l.locked {
		l.locked = false
		if l.refs--; l.refs <= 0 {
			delete(dbLocks.m, db)
		}
	}
}

// serialize runs fn while holding db's Up lock: concurrent Up calls on one *sql.DB wait for
// each other instead of failing with database.ErrLocked.
func serialize(db *sql.DB, fn func() error) error {
	l := acquireRef(db)
	defer releaseRef(db)
	l.serial.Lock()
	defer l.serial.Unlock()
	return fn()
}
