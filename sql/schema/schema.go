// Package schema applies tenantdesk's SQL migrations (sql/migrations/catalog and
// sql/migrations/tenant, golang-migrate file naming) to go-libsql databases.
//
// It exists because golang-migrate has no libSQL driver and its sqlite drivers hand a whole
// file to Exec, which go-libsql runs only up to the first statement on a local file, while the
// version is still recorded as applied. Here each file is split into statements and run, with
// its version bump, in one transaction (see WithInstance), and tests compare the objects the
// files declare with the ones that exist.
//
// Up is meant to be called whenever a database is opened: when nothing is pending it costs one
// small query.
package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"sync"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// Up brings db to the newest migration in migrations and returns the version db is at
// afterwards — also when it fails, so that the caller can record both (a failed file leaves db
// on the version before it, never dirty; the error is then a *MigrationError).
//
// migrations is an fs.FS whose root holds the *.sql files, e.g. os.DirFS("sql/migrations/tenant")
// or fs.Sub of an embed.FS. Its list of versions is read once per fs.FS value (if the value is
// comparable) and cached for the life of the process: migrations ship with the binary, and the
// cache is what keeps Up down to one query when db is current. So keep one fs.FS value (call
// fs.Sub once), and restart to pick up files added to a directory at run time.
//
// A database newer than every migration (an older build opened it) is an error: the code may
// not understand its schema. Concurrent Up calls on one *sql.DB wait for each other; other
// processes migrating the same file are not excluded (see WithInstance).
func Up(db *sql.DB, migrations fs.FS) (uint, error) {
	src, err := scan(migrations)
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	if cur, dirty, err := readVersion(ctx, db); err != nil {
		return 0, err
	} else if todo, err := src.plan(cur, dirty); err != nil || len(todo) == 0 {
		return toUint(cur), err
	}
	for attempt := 1; ; attempt++ {
		err = serialize(db, func() error { return runUp(db, migrations, src) })
		if !errors.Is(err, errVersionMoved) || attempt == 3 {
			break
		}
	}
	cur, _, verr := readVersion(ctx, db)
	if err == nil && verr != nil {
		err = verr
	}
	return toUint(cur), err
}

// runUp runs golang-migrate up to the newest version, unless the database became current while
// Up waited for the lock.
func runUp(db *sql.DB, migrations fs.FS, src *sourceInfo) error {
	cur, dirty, err := readVersion(context.Background(), db)
	if err != nil {
		return err
	}
	todo, err := src.plan(cur, dirty)
	if err != nil || len(todo) == 0 {
		return err
	}
	drv, err := WithInstance(db)
	if err != nil {
		return err
	}
	// noClose keeps golang-migrate's iofs source from closing a migrations FS that happens to
	// be an io.Closer (a *zip.ReadCloser, say) when m.Close runs.
	srcDrv, err := iofs.New(noClose{migrations}, ".")
	if err != nil {
		return fmt.Errorf("schema: reading migrations: %w", err)
	}
	// m.Log stays nil, which keeps golang-migrate silent; m.Close closes drv, which leaves db
	// open.
	m, err := migrate.NewWithInstance("iofs", srcDrv, "libsql", drv)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	defer m.Close()
	// One Steps(1) per pending version rather than m.Up: Up prefetches the following
	// migrations, each in a goroutine that blocks writing the file into a pipe until Run reads
	// it. When a migration fails, those are never read, and every goroutine (and its open file)
	// leaks — on each call, and callers call Up on every open of a broken tenant. Steps(1)
	// reads exactly the migration it runs, and Run always reads its body to the end.
	for range len(todo) + 1 {
		stepErr := m.Steps(1)
		if errors.Is(stepErr, migrate.ErrNoChange) {
			stepErr = nil
		}
		cur, dirty, err := readVersion(context.Background(), db)
		if err != nil {
			return errors.Join(stepErr, err)
		}
		if todo, err = src.plan(cur, dirty); err != nil {
			return errors.Join(stepErr, err)
		}
		// Steps(1) on a database that another handle brought to the newest version in the
		// meantime fails with fs.ErrNotExist (there is no next migration): that is success.
		if stepErr != nil && !(len(todo) == 0 && errors.Is(stepErr, fs.ErrNotExist)) {
			return stepErr
		}
		if len(todo) == 0 {
			return nil
		}
	}
	return fmt.Errorf("schema: versions %v still pending after running every migration", todo)
}

// noClose hides the Close method of a migrations FS from golang-migrate.
type noClose struct{ fs.FS }

// Latest returns the highest version in migrations (0 if none), so that a caller can tell
// whether a database is behind without opening a migration.
func Latest(migrations fs.FS) (uint, error) {
	src, err := scan(migrations)
	if err != nil {
		return 0, err
	}
	return toUint(src.latest()), nil
}

// Current returns the version recorded in db (0 when never migrated), for the catalog's
// schema_version and for diagnostics. If a migration tool other than this package left db
// dirty, it returns that version with a migrate.ErrDirty error.
func Current(db *sql.DB) (uint, error) {
	v, dirty, err := readVersion(context.Background(), db)
	if err != nil {
		return 0, err
	}
	if dirty {
		return toUint(v), migrate.ErrDirty{Version: v}
	}
	return toUint(v), nil
}

// Pending lists, in order, the versions Up would apply to db, for a --dry-run. It fails where
// Up would fail before running anything: db dirty, db newer than migrations, or db on a
// version that migrations do not contain.
func Pending(db *sql.DB, migrations fs.FS) ([]uint, error) {
	src, err := scan(migrations)
	if err != nil {
		return nil, err
	}
	cur, dirty, err := readVersion(context.Background(), db)
	if err != nil {
		return nil, err
	}
	return src.plan(cur, dirty)
}

func toUint(v int) uint {
	if v < 0 {
		return 0
	}
	return uint(v)
}

// sourceInfo is what Up needs to know about a migrations directory without opening a file.
type sourceInfo struct {
	versions []uint // ascending; every one has an up file
}

// latest returns the highest version, -1 (database.NilVersion) when there are none.
func (s *sourceInfo) latest() int {
	if len(s.versions) == 0 {
		return database.NilVersion
	}
	return int(s.versions[len(s.versions)-1])
}

// plan returns the versions golang-migrate's Up would apply to a database at cur, or the error
// it would stop with.
func (s *sourceInfo) plan(cur int, dirty bool) ([]uint, error) {
	if dirty {
		return nil, migrate.ErrDirty{Version: cur}
	}
	if latest := s.latest(); cur > latest {
		return nil, fmt.Errorf("schema: database is at version %d, newer than the newest "+
			"migration (%d): is an older build running?", cur, max(latest, 0))
	}
	i, found := slices.BinarySearch(s.versions, uint(max(cur, 0)))
	if cur >= 0 && !found {
		return nil, fmt.Errorf("schema: database is at version %d, which the migrations "+
			"do not contain", cur)
	}
	if found {
		i++
	}
	return slices.Clone(s.versions[i:]), nil
}

// sourceCache maps a comparable migrations fs.FS to its *sourceInfo. It is bounded because a
// caller that passes a fresh fs.Sub on every call hands over a new pointer each time; past the
// bound such calls are simply not cached.
var sourceCache = struct {
	sync.RWMutex
	m map[fs.FS]*sourceInfo
}{m: make(map[fs.FS]*sourceInfo)}

const maxCachedSources = 32

// scan lists the migrations in fsys the way golang-migrate's iofs source does (same file name
// parser), and rejects what this package's API cannot represent: version 0 (Current's "never
// migrated"), a down file without an up file (Up would record a version whose schema no file
// creates), and duplicate versions.
func scan(fsys fs.FS) (*sourceInfo, error) {
	if fsys == nil {
		return nil, errors.New("schema: nil migrations fs.FS")
	}
	cacheable := reflect.ValueOf(fsys).Comparable() // a fstest.MapFS, for one, is not
	if cacheable {
		sourceCache.RLock()
		s, ok := sourceCache.m[fsys]
		sourceCache.RUnlock()
		if ok {
			return s, nil
		}
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("schema: reading migrations: %w", err)
	}
	ups := map[uint]string{}
	downs := map[uint]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m, err := source.DefaultParse(e.Name())
		if err != nil {
			continue // not a migration file; iofs skips it too
		}
		files := ups
		if m.Direction == source.Down {
			files = downs
		}
		if prev, dup := files[m.Version]; dup {
			return nil, fmt.Errorf("schema: migrations %s and %s have the same version",
				prev, e.Name())
		}
		files[m.Version] = e.Name()
	}
	s := &sourceInfo{}
	for v, name := range ups {
		if v == 0 {
			return nil, fmt.Errorf("schema: migration %s: versions start at 1", name)
		}
		s.versions = append(s.versions, v)
	}
	for v, name := range downs {
		if _, ok := ups[v]; !ok {
			return nil, fmt.Errorf("schema: migration %s has no up file", name)
		}
	}
	slices.Sort(s.versions)
	if cacheable {
		sourceCache.Lock()
		if len(sourceCache.m) < maxCachedSources {
			sourceCache.m[fsys] = s
		}
		sourceCache.Unlock()
	}
	return s, nil
}
