package desk

// Changes made by other processes — an operator command, sqlite3 on a tenant's file while the
// server runs, another instance writing through the primary — must reach the hot paths, which
// answer from memory. The watcher asks the registry, about once a WatchInterval, whether the
// database of each tenant in use changed by anything other than this process (PRAGMA
// data_version on an open local file, the files themselves on a closed one, frames pulled by a
// replica's sync) and starts a new generation for those that did. Only tenants whose cached
// state was used recently are watched: the work follows use, never the number of tenants.

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// idleAfter is how long a tenant stays watched after its cached state was last used. When it
// leaves, its cached state is dropped (a new generation), so nothing is used that was not
// watched.
const idleAfter = 30 * time.Second

// watchWorkers bounds the tenants probed at once (a probe of an open local file waits for its
// one connection).
const watchWorkers = 4

// use marks ts as in use: the watcher looks at it until it is idle.
func (s *Service) use(ts *tenantState) {
	ts.used.Store(s.now().UnixNano())
	if ts.watched.Load() {
		return
	}
	s.activeMu.Lock()
	if !ts.watched.Load() {
		s.active[ts] = struct{}{}
		ts.watched.Store(true)
	}
	s.activeMu.Unlock()
}

// tick runs f every s.every until the Service closes, then closes done.
func (s *Service) tick(done chan struct{}, f func()) {
	defer close(done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			f()
		}
	}
}

// probe looks once at every tenant in use.
func (s *Service) probe() {
	idle := s.now().Add(-idleAfter).UnixNano()
	var look []*tenantState
	s.activeMu.Lock()
	for ts := range s.active {
		if ts.used.Load() < idle {
			delete(s.active, ts)
			ts.watched.Store(false)
			ts.watchMu.Lock()
			ts.baseline = false
			ts.based.Store(false)
			ts.watchMu.Unlock()
			ts.bump()
			continue
		}
		look = append(look, ts)
	}
	s.activeMu.Unlock()

	work := make(chan *tenantState)
	var wg sync.WaitGroup
	for range min(watchWorkers, len(look)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ts := range work {
				s.look(ts)
			}
		}()
	}
	for _, ts := range look {
		work <- ts
	}
	close(work)
	wg.Wait()
}

// look asks the registry about one tenant. A first look with no baseline (none was taken
// before a read: takeBaseline) only records where the database is, and starts a new
// generation: whatever was cached before it could predate a change the watcher would then
// never see.
func (s *Service) look(ts *tenantState) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := s.reg.Changes(ctx, ts.t.Name)
	if errors.Is(err, tenantdb.ErrClosing) {
		return // evicted, its close under way: the next look sees it closed
	}
	if err != nil {
		s.log.Debug("watch tenant database", "db", ts.t.Name, "err", err)
		ts.bump()
		return
	}
	ts.watchMu.Lock()
	first, moved := !ts.baseline, ts.baseline && v != ts.version
	ts.version, ts.baseline = v, true
	ts.based.Store(true)
	ts.watchMu.Unlock()
	switch {
	case first:
		ts.bump()
	case moved:
		ts.bump()
		s.feed.publish(Event{Kind: TenantChanged, Tenant: ts.t, By: AsSystem(), External: true})
	}
}
