package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
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

// Provision makes an empty database file for name, replacing leftovers of an earlier attempt
// that never reached the catalog. The URL it returns is recorded in the catalog.
func (l Local) Provision(ctx context.Context, name string) (Location, error) {
	path, err := l.path(name)
	if err != nil {
		return Location{}, err
	}
	if err := l.Drop(ctx, name); err != nil {
		return Location{}, err
	}
	db, err := sqlite.Open(path, 1)
	if err != nil {
		return Location{}, fmt.Errorf("tenantdb.Local.Provision: %w", err)
	}
	if err := db.Close(); err != nil {
		return Location{}, fmt.Errorf("tenantdb.Local.Provision: %w", err)
	}
	return Location{URL: "file:" + name + ".db"}, nil
}

// Connect opens the tenant's database file with one connection. It refuses to create a file
// that does not exist: a tenant is created only by Provision.
func (l Local) Connect(_ context.Context, name string, _ Location) (Database, error) {
	path, err := l.path(name)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("tenantdb.Local.Connect %s: %w", name, err)
	}
	db, err := sqlite.Open(path, 1)
	if err != nil {
		return nil, err
	}
	return &localDB{db: db}, nil
}

// Fingerprint describes the files of name's database as they are on disk (sizes and
// modification times), so that a change made while this process has it closed can be told.
// The kernel stamps modification times from a coarse clock: a write that keeps the sizes and
// lands within the same few milliseconds as the one before looks like no change (the desk
// re-reads what it caches after StateTTL in any case).
func (l Local) Fingerprint(name string) (uint64, error) {
	path, err := l.path(name)
	if err != nil {
		return 0, err
	}
	h := fnv.New64a()
	for _, suffix := range []string{"", "-wal"} {
		fi, err := os.Stat(path + suffix)
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(h, "%s:-;", suffix)
			continue
		}
		if err != nil {
			return 0, err
		}
		if suffix == "-wal" && fi.Size() == 0 {
			// An emptied WAL (a checkpoint, a close under way) holds nothing: as if absent.
			fmt.Fprintf(h, "%s:-;", suffix)
			continue
		}
		fmt.Fprintf(h, "%s:%d:%d;", suffix, fi.Size(), fi.ModTime().UnixNano())
	}
	return h.Sum64(), nil
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
