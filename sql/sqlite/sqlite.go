// Package sqlite opens local libSQL database files with the connection settings tenantdesk
// relies on: WAL journal, a busy timeout, foreign keys and durable commits on every connection.
//
// go-libsql applies none of these by default and ignores them in the DSN, so they are set by a
// connector that wraps the driver's own and runs the pragmas on each new connection.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	_ "github.com/tursodatabase/go-libsql" // registers the "libsql" driver

	"github.com/tenantdesk/tenantdesk/sql/fileperm"
)

// BusyTimeout is how long, in milliseconds, a connection waits for a lock held by another
// connection before it reports SQLITE_BUSY.
const BusyTimeout = 5000

// connPragmas run on every new connection. busy_timeout comes first so that switching the
// journal mode can itself wait for a lock (the order pocketbase uses).
var connPragmas = []string{
	fmt.Sprintf("PRAGMA busy_timeout = %d", BusyTimeout),
	"PRAGMA journal_mode = WAL",
	"PRAGMA synchronous = FULL",
	"PRAGMA foreign_keys = ON",
}

// Open opens (creating if needed) the libSQL database file at path. maxConns bounds the pool:
// tenant databases use 1, which serialises writers without "database is locked" errors. A new
// file is created owner-only, and SQLite gives its -wal and -shm the same mode (fileperm).
func Open(path string, maxConns int) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Open: %w", err)
	}
	if err := fileperm.Touch(abs); err != nil {
		return nil, fmt.Errorf("sqlite.Open: %w", err)
	}
	drv, err := libsqlDriver()
	if err != nil {
		return nil, err
	}
	inner, err := drv.OpenConnector("file:" + abs)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Open %s: %w", filepath.Base(abs), err)
	}
	var conn driver.Connector = &connector{inner: inner}
	pool := maxConns
	if maxConns == 1 {
		// One SQLite connection, taken in turn by whoever asks first (shared.go).
		conn, pool = newSharedConnector(conn), maxShared
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(pool)
	db.SetMaxIdleConns(pool)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	// Open connects lazily; connect now so that a broken file fails here, not on first use.
	// (Ping is a no-op in go-libsql, and Exec refuses statements that return rows.)
	var one int
	if err := db.QueryRowContext(context.Background(), "SELECT 1").Scan(&one); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite.Open %s: %w", filepath.Base(abs), err)
	}
	return db, nil
}

// libsqlDriver returns go-libsql's registered driver, which implements driver.DriverContext.
var libsqlDriver = sync.OnceValues(func() (driver.DriverContext, error) {
	db, err := sql.Open("libsql", ":memory:")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer db.Close()
	drv, ok := db.Driver().(driver.DriverContext)
	if !ok {
		return nil, errors.New("sqlite: libsql driver has no connector")
	}
	return drv, nil
})

// connector runs connPragmas on every connection the wrapped go-libsql connector makes.
type connector struct {
	inner driver.Connector
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		conn.Close()
		return nil, errors.New("sqlite: libsql connection cannot query")
	}
	for _, p := range connPragmas {
		// Pragmas that report their new value return a row, so run them as queries.
		rows, err := q.QueryContext(ctx, p, nil)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		dest := make([]driver.Value, len(rows.Columns()))
		for rows.Next(dest) == nil {
		}
		rows.Close()
	}
	return &checkedConn{inner: conn}, nil
}

func (c *connector) Driver() driver.Driver { return c.inner.Driver() }

// Close releases the native database handle; database/sql calls it from DB.Close.
func (c *connector) Close() error {
	if cl, ok := c.inner.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}
