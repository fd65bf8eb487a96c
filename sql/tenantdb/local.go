package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// Local keeps every tenant database as a libSQL file in one directory: the embedded default,
// no server needed.
type Local struct {
	Dir string
}

// localSuffixes are the files SQLite keeps beside a database in WAL mode.
var localSuffixes = []string{"", "-wal", "-shm", "-journal"}

func (l Local) path(name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	return filepath.Join(l.Dir, name+".db"), nil
}

// Kind reports "local".
func (l Local) Kind() string { return "local" }

// Create makes an empty database file for name, replacing leftovers of an earlier attempt
// that never reached the catalog. The returned URL is recorded in the catalog.
func (l Local) Create(ctx context.Context, name string) (string, error) {
	path, err := l.path(name)
	if err != nil {
		return "", err
	}
	if err := l.Drop(ctx, name); err != nil {
		return "", err
	}
	db, err := sqlite.Open(path, 1)
	if err != nil {
		return "", fmt.Errorf("tenantdb.Local.Create: %w", err)
	}
	if err := db.Close(); err != nil {
		return "", fmt.Errorf("tenantdb.Local.Create: %w", err)
	}
	return "file:" + name + ".db", nil
}

// Open opens the tenant's database file with one connection. It refuses to create a file that
// does not exist: a tenant is created only by Create.
func (l Local) Open(_ context.Context, name, _ string) (*sql.DB, error) {
	path, err := l.path(name)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("tenantdb.Local.Open %s: %w", name, err)
	}
	return sqlite.Open(path, 1)
}

// Drop removes the tenant's database files. Missing files are not an error.
func (l Local) Drop(_ context.Context, name string) error {
	path, err := l.path(name)
	if err != nil {
		return err
	}
	for _, suffix := range localSuffixes {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("tenantdb.Local.Drop %s: %w", name, err)
		}
	}
	return nil
}
