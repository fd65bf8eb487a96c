package tenantdb

import (
	"context"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// A deleted organization's database may still be held by requests that acquired it before
// the deletion. Its files stay in place, and its name reserved, until the last of them is
// released: a new organization registered under the same name would otherwise get new files
// at the same paths while the old handle is open, and SQLite's clean-up when that handle
// closes (checkpoint, removing -wal and -shm) works on files by path.

// held is what the Registry knows about the open handles of one database name.
type held struct {
	n    int           // handles of this Registry open under the name (cached or lent out)
	drop bool          // Delete found them held: drop the database once the last one closes
	free chan struct{} // closed once n is 0 and nothing is left to drop (the entry is gone)
}

// releaseWait bounds how long registering a name waits for an earlier database of that name
// to be released by the requests still holding it.
const releaseWait = 10 * time.Second

// hold counts a newly opened handle of name (r.mu held).
func (r *Registry) hold(name string) {
	e := r.held[name]
	if e == nil {
		e = &held{free: make(chan struct{})}
		r.held[name] = e
	}
	e.n++
}

// unhold uncounts a handle of name once its database is closed, and drops the database if
// Delete left that to the last holder (r.mu not held).
func (r *Registry) unhold(name string) {
	r.mu.Lock()
	e := r.held[name]
	if e == nil { // opened before counting began (cannot happen) or counted twice
		r.mu.Unlock()
		r.log.Error("tenant database closed that was not counted open", "db", name)
		return
	}
	e.n--
	if e.n > 0 {
		r.mu.Unlock()
		return
	}
	drop := e.drop
	if !drop {
		delete(r.held, name)
		close(e.free)
	}
	r.mu.Unlock()
	if !drop {
		return
	}
	// Recorded as a pending drop by Delete: a failure here is retried (pending.go).
	r.dropDeleted(context.Background(), name)
	r.log.Info("deleted tenant database released by its last request", "db", name)
	r.mu.Lock()
	delete(r.held, name)
	close(e.free)
	r.mu.Unlock()
}

// dropWhenReleased marks name's database to be dropped by its last holder and reports true,
// or reports false when nothing holds it (the caller drops it now). Every handle of name must
// have been evicted from the cache first.
func (r *Registry) dropWhenReleased(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.held[name]
	if e == nil {
		return false
	}
	e.drop = true
	return true
}

// waitReleased waits, at most releaseWait, until no handle of name is open and no drop of it
// is pending. The caller holds name's lock, so no new handle of name can be opened meanwhile,
// and has found no organization of the catalog using the name: a cached handle of it can
// only be stale, and is evicted.
func (r *Registry) waitReleased(ctx context.Context, name string) error {
	r.evict(name) // a cached handle of an organization deleted by another process
	r.mu.Lock()
	e := r.held[name]
	r.mu.Unlock()
	if e == nil {
		return nil
	}
	t := time.NewTimer(releaseWait)
	defer t.Stop()
	select {
	case <-e.free:
		return nil
	case <-t.C:
		r.log.Warn("a deleted tenant database of this name is still in use", "db", name)
		return apperr.New(apperr.Unavailable, CodeNameReleasing)
	case <-ctx.Done():
		return ctx.Err()
	}
}
