package tenantdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	libsql "github.com/tursodatabase/go-libsql"

	"github.com/tenantdesk/tenantdesk/sql/fileperm"
)

// ReplicaConfig configures the embedded replicas of remote databases.
type ReplicaConfig struct {
	// Dir holds one directory per replica (DATA_DIR/replicas): <Dir>/<name>/<name>.db and the
	// files go-libsql keeps beside it.
	Dir string
	// SyncInterval is how often an open replica pulls from its primary (besides the pull
	// go-libsql makes after each of the app's own writes). Default 3 s.
	SyncInterval time.Duration
	// Timeout bounds every call into the driver: a query, a write forwarded to the primary, a
	// sync, waiting for an open. Default 5 s.
	Timeout time.Duration
	// OpenTimeout is how long opening a replica waits for its first sync before the caller
	// gets an *UnavailableError (the open goes on in the background and the next caller takes
	// it over). Default Timeout.
	OpenTimeout time.Duration
	// MaxConns is each replica's pool size. Every connection that wrote holds a connection on
	// the primary, so it stays small. Default 1 (reads are local and take microseconds).
	MaxConns int
	// MaxStuck bounds, per replica, the calls that outlived their deadline and still wait for
	// the primary; past it calls fail at once. Default 4.
	MaxStuck int
	// Log receives sync failures and recoveries. Default: slog.Default().
	Log *slog.Logger
	// Stats counts the replicas' syncs for metrics; nil counts nothing.
	Stats *SyncStats
}

func (c ReplicaConfig) withDefaults() ReplicaConfig {
	if c.SyncInterval <= 0 {
		c.SyncInterval = 3 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.OpenTimeout <= 0 {
		c.OpenTimeout = c.Timeout
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 1
	}
	if c.MaxStuck <= 0 {
		c.MaxStuck = 4
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// orphanTTL is how long a replica whose open finished after its caller gave up waits for the
// next caller before it is closed.
const orphanTTL = time.Minute

// slots records, per replica file in this process, who owns it: an open in progress or an open
// (or still closing) replica. Two connectors must never run on one set of files, also not
// across Registries on the same DATA_DIR (tests restart servers that way), so it is global.
var slots = struct {
	sync.Mutex
	m map[string]*slot
}{m: map[string]*slot{}}

type slot struct {
	free    chan struct{} // closed when the files are no longer in use
	attempt *attempt      // an open in progress, or finished and not yet taken
}

type attempt struct {
	done  chan struct{}
	rep   *replica
	err   error
	taken bool
}

// openReplica opens an embedded replica of primaryURL at path, waiting at most
// cfg.OpenTimeout (and ctx). A slow open goes on in the background; the next call for the same path takes it
// over instead of starting another. A primary that cannot be reached is an
// *UnavailableError. setup, when given, sets the replica's renewal fields before its sync
// loop starts.
func openReplica(ctx context.Context, cfg ReplicaConfig, name, path, primaryURL, token string, setup func(*replica)) (*replica, error) {
	cfg = cfg.withDefaults()
	timer := time.NewTimer(cfg.OpenTimeout)
	defer timer.Stop()
	for {
		slots.Lock()
		sl := slots.m[path]
		if sl == nil {
			sl = &slot{free: make(chan struct{}), attempt: &attempt{done: make(chan struct{})}}
			slots.m[path] = sl
			go runAttempt(cfg, sl, sl.attempt, name, path, primaryURL, token)
		}
		a := sl.attempt
		slots.Unlock()
		if a == nil {
			// The files belong to a replica that is still open or closing.
			select {
			case <-sl.free:
				continue
			case <-timer.C:
				return nil, &UnavailableError{Op: "open " + name, Err: errors.New("the previous replica is still closing")}
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		select {
		case <-a.done:
		case <-timer.C:
			return nil, &UnavailableError{Op: "open " + name, Err: ErrTimeout}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		slots.Lock()
		if a.err != nil {
			slots.Unlock()
			return nil, a.err
		}
		if a.taken {
			slots.Unlock()
			continue // taken by a concurrent caller, or closed as an orphan: look again
		}
		a.taken = true
		sl.attempt = nil
		slots.Unlock()
		if setup != nil {
			setup(a.rep)
		}
		a.rep.start()
		return a.rep, nil
	}
}

func runAttempt(cfg ReplicaConfig, sl *slot, a *attempt, name, path, primaryURL, token string) {
	rep, err := newReplica(cfg, sl, name, path, primaryURL, token)
	slots.Lock()
	if err != nil {
		a.err = err
		if slots.m[path] == sl {
			delete(slots.m, path)
		}
		close(sl.free)
		slots.Unlock()
		close(a.done)
		return
	}
	a.rep = rep
	slots.Unlock()
	close(a.done)
	time.AfterFunc(orphanTTL, func() {
		slots.Lock()
		if a.taken {
			slots.Unlock()
			return
		}
		a.taken = true
		sl.attempt = nil
		slots.Unlock()
		rep.Close()
	})
}

// newReplica opens the connector (a blocking first sync with the primary) and checks that the
// local copy answers. Local files that no longer match the primary ("log incompatible": the
// database was deleted and created again) are discarded and the open is tried once more.
func newReplica(cfg ReplicaConfig, sl *slot, name, path, primaryURL, token string) (*replica, error) {
	if err := fileperm.MkdirAll(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("tenantdb: replica directory: %w", err)
	}
	var opts []libsql.Option
	if token != "" {
		opts = append(opts, libsql.WithAuthToken(token))
	}
	conn, err := libsql.NewEmbeddedReplicaConnector(path, primaryURL, opts...)
	if err != nil && incompatible(err) {
		cfg.Log.Warn("replica does not match its primary; discarding the local copy", "db", name, "err", err)
		if derr := discardDir(filepath.Dir(path)); derr != nil {
			return nil, fmt.Errorf("tenantdb: discarding stale replica %s: %w (after %v)", name, derr, err)
		}
		if err := fileperm.MkdirAll(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("tenantdb: replica directory: %w", err)
		}
		conn, err = libsql.NewEmbeddedReplicaConnector(path, primaryURL, opts...)
	}
	if err != nil {
		return nil, classify("open "+name, fmt.Errorf("opening replica of %s: %w", name, err))
	}
	g := newGuard(name, cfg.Timeout, cfg.MaxStuck)
	db := sql.OpenDB(&guardedConnector{inner: conn, g: g})
	db.SetMaxOpenConns(cfg.MaxConns)
	db.SetMaxIdleConns(cfg.MaxConns)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	r := &replica{
		name: name, path: path, cfg: cfg, conn: conn, db: db, g: g, slot: sl,
		syncSem: make(chan struct{}, 1), stop: make(chan struct{}), loopDone: make(chan struct{}),
		closed: make(chan struct{}),
	}
	var one int
	err = db.QueryRowContext(context.Background(), "SELECT 1").Scan(&one)
	if err == nil {
		// go-libsql creates the replica's files with the process umask and no mode of ours;
		// SQLite gives a -wal or -shm made later the database file's mode.
		err = fileperm.ChmodFiles(filepath.Dir(path))
	}
	if err != nil {
		r.slot = nil // runAttempt releases the files, after the connector closed
		r.Close()
		<-r.closed
		return nil, fmt.Errorf("tenantdb: replica %s: %w", name, err)
	}
	cfg.Stats.opened(r)
	return r, nil
}

// incompatible reports go-libsql's complaint about local replica files that belong to an
// earlier incarnation of the database.
func incompatible(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "log incompatible") || strings.Contains(msg, "logincompatible") ||
		strings.Contains(msg, "incompatible log")
}

// replica is an open embedded replica: reads from the local file, writes forwarded to the
// primary, synced on an interval and after the app's own writes (go-libsql's read-your-writes).
type replica struct {
	name, path string
	cfg        ReplicaConfig
	conn       *libsql.Connector
	db         *sql.DB
	g          *guard
	slot       *slot

	syncSem  chan struct{} // held while a native Sync runs, and by Snapshot
	stop     chan struct{}
	loopDone chan struct{}
	closed   chan struct{} // closed once the connector is closed
	started  atomic.Bool
	closing  sync.Once
	broken   atomic.Bool
	pulled   atomic.Uint64 // syncs that brought frames from the primary
	failing  bool          // only the sync loop touches it
	// Set by openReplica's setup before the sync loop starts, then only read:
	renewAt time.Time // reopen (new token) after this; zero: never
	// renewed is a credential newer than the catalog's that the replica was opened with
	// (RenewedSecret).
	renewed string
	// authRefused, when set, asks the server whether it refuses the replica's token: a
	// failing sync then marks the replica broken, so that it is opened again with a new one.
	authRefused func(context.Context) bool
}

// RenewedSecret returns the credential the replica was opened with when it is newer than the
// one the catalog holds, for the Registry to store; "" otherwise.
func (r *replica) RenewedSecret() string { return r.renewed }

func (r *replica) SQL() *sql.DB { return r.db }
func (r *replica) Broken() bool {
	return r.broken.Load() || (!r.renewAt.IsZero() && time.Now().After(r.renewAt))
}
func (r *replica) start() { r.started.Store(true); go r.loop() }

// Changes counts the syncs that pulled frames: other writers' changes (and, after a write of
// its own, this process's) now visible in the local copy.
func (r *replica) Changes(context.Context) (uint64, error) { return r.pulled.Load(), nil }
func (r *replica) String() string                          { return "replica " + r.name }

// Sync pulls new frames from the primary. A sync already in flight makes it a no-op.
func (r *replica) Sync(ctx context.Context) error {
	_, err := r.sync(ctx)
	return err
}

// sync reports skipped when another sync is still running (possibly abandoned at its
// deadline and still waiting for the primary).
func (r *replica) sync(ctx context.Context) (skipped bool, err error) {
	if len(r.syncSem) > 0 {
		return true, nil
	}
	err = r.g.run(ctx, "sync", r.syncSem, func() error {
		rep, err := r.conn.Sync()
		if err == nil {
			// Counted here: a sync abandoned at its deadline may still succeed later.
			r.cfg.Stats.synced(r, int64(rep.FramesSynced), nil)
		}
		if err == nil && rep.FramesSynced > 0 {
			r.pulled.Add(1)
		}
		return err
	}, nil)
	if err != nil {
		r.cfg.Stats.synced(r, 0, err)
	}
	if err != nil && incompatible(err) {
		r.broken.Store(true)
	}
	return false, err
}

func (r *replica) loop() {
	defer close(r.loopDone)
	t := time.NewTimer(time.Duration(mrand.Int64N(int64(r.cfg.SyncInterval))) + time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		if r.Broken() {
			// It is opened afresh on its next use (with a new token when one is due); a sync
			// now would only wait for a server that refuses the old token.
			t.Reset(r.cfg.SyncInterval)
			continue
		}
		skipped, err := r.sync(context.Background())
		switch {
		case skipped:
		case err != nil && !r.broken.Load() && r.authRefused != nil && r.authRefused(context.Background()):
			r.broken.Store(true)
			r.cfg.Log.Warn("replica token refused by the server; the replica is opened again with a new one", "db", r.name, "err", err)
		case err != nil && !r.failing:
			r.failing = true
			r.cfg.Log.Warn("replica sync failing", "db", r.name, "err", err)
		case err == nil && r.failing:
			r.failing = false
			r.cfg.Log.Info("replica sync recovered", "db", r.name)
		}
		t.Reset(r.cfg.SyncInterval)
	}
}

// Close stops syncing and closes the pool now; the connector is closed (and the files
// released for the next open) in the background, once every native call has returned.
func (r *replica) Close() error {
	r.closing.Do(func() {
		close(r.stop)
		if !r.started.Load() {
			close(r.loopDone)
		}
		err := r.db.Close()
		if err != nil {
			r.cfg.Log.Error("close replica pool", "db", r.name, "err", err)
		}
		go func() {
			<-r.loopDone
			drained := r.g.drained()
			select {
			case <-drained:
			case <-time.After(30 * time.Second):
				r.cfg.Log.Warn("replica still has calls waiting for its primary; closing when they return", "db", r.name)
				<-drained
			}
			r.cfg.Stats.closed(r)
			r.conn.Close()
			close(r.closed)
			if r.slot == nil {
				return
			}
			slots.Lock()
			if slots.m[r.path] == r.slot {
				delete(slots.m, r.path)
			}
			close(r.slot.free)
			slots.Unlock()
		}()
	})
	return nil
}

// Snapshot copies the replica's local state into a new SQLite file at path while no sync runs.
func (r *replica) Snapshot(path string) error {
	timer := time.NewTimer(r.cfg.Timeout)
	defer timer.Stop()
	select {
	case r.syncSem <- struct{}{}:
	case <-timer.C:
		return &UnavailableError{Op: "snapshot " + r.name, Err: ErrTimeout}
	}
	defer func() { <-r.syncSem }()
	return copyDatabase(r.db, path)
}

// waitClosed blocks until the replica's files are released (for tests and Drop).
func (r *replica) waitClosed(d time.Duration) bool {
	select {
	case <-r.closed:
		return true
	case <-time.After(d):
		return false
	}
}

// discardDir moves a replica directory out of the way at once (a closed connector may still
// hold its files for a moment) and deletes it a little later.
func discardDir(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	stale := dir + ".stale-" + rand.Text()[:8]
	if err := os.Rename(dir, stale); err != nil {
		return err
	}
	time.AfterFunc(10*time.Second, func() { os.RemoveAll(stale) })
	return nil
}

// removeStale deletes stale directories an earlier process left behind in root.
func removeStale(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".stale-") {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Minute {
				os.RemoveAll(filepath.Join(root, e.Name()))
			}
		}
	}
}

// replicaDir is the directory of name's replica under root; replicaPath its database file.
func replicaDir(root, name string) string { return filepath.Join(root, name) }

func replicaPath(root, name string) string {
	return filepath.Join(root, name, name+".db")
}

// OpenReplica opens an embedded replica of primaryURL at path outside any Registry: the
// catalog's, when it lives on Turso. Token may be empty for a primary without auth.
func OpenReplica(ctx context.Context, cfg ReplicaConfig, path, primaryURL, token string) (Database, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return openReplica(ctx, cfg, strings.TrimSuffix(filepath.Base(abs), ".db"), abs, primaryURL, token, nil)
}
