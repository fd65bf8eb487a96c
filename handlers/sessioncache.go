package handlers

// Sessions are read on every authenticated request, polls included, and the session storage
// is an SQLite file: sessionStorage keeps recently used sessions in memory in front of it,
// and currentLogin keeps the decoded login beside them, so that a poll neither queries nor
// gob-decodes.
//
// Writes: a session the cache does not hold (a new one: every login makes one) is written
// through to the storage before Set returns, and so is every Delete (logout, Reset, Destroy).
// An update of a session the cache holds — the CSRF middleware saves the session on every
// page and POST, only to extend its token — is kept in memory and written to the storage
// within sessionFlushDelay, the updates of that time coalesced. A crash can lose those last
// updates (a CSRF token's extended expiry, a flash message), never a login or a logout;
// Server.Close writes what is pending.
//
// It is exact for one process: everything goes through it, and a read that raced a write is
// not kept. Sessions are local to one instance anyway (the storage is a file under DATA_DIR),
// so several instances need sticky sessions with or without this cache. Nothing may write the
// storage behind its back; the rate-limit counters use the raw storage, not this one.

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

const (
	// cacheSessions bounds the sessions kept in memory.
	cacheSessions = 16384
	// sessionFillTTL bounds how long a session read from the storage is used from memory: the
	// storage does not say when it expires, so it is asked again after this.
	sessionFillTTL = 30 * time.Second
	// sessionFlushDelay is how long an update of a cached session waits to be written.
	sessionFlushDelay = 100 * time.Millisecond
)

// sessionStorage is a fiber.Storage that caches another one.
type sessionStorage struct {
	inner  fiber.Storage
	seed   maphash.Seed
	shards [cacheShards]sessionShard
}

type sessionShard struct {
	// wmu serialises what writes the storage for this shard (write-through Sets, Deletes,
	// flushes), so the storage and the cache see them in the same order; readers only take
	// mu, never waiting for the storage.
	wmu sync.Mutex
	mu  sync.Mutex
	lru *simplelru.LRU[string, *sessionEntry]
	// dirty holds updates not yet written to the storage (also when the LRU dropped them).
	dirty     map[string]*sessionEntry
	scheduled bool   // a flush of dirty is due
	writes    uint64 // moves on every write, so that a read racing one is not cached
}

// sessionEntry is one session's stored bytes. It is never modified once cached; a write
// replaces it with a new entry, which is how a decoded login knows it is still current.
type sessionEntry struct {
	val []byte
	exp time.Time // zero: no expiry
	mu  sync.Mutex
	// login is what currentLogin decoded from val, if it did.
	login    login
	loginAt  int64
	hasLogin bool
}

func (e *sessionEntry) live(now time.Time) bool { return e.exp.IsZero() || now.Before(e.exp) }

func newSessionStorage(inner fiber.Storage) *sessionStorage {
	s := &sessionStorage{inner: inner, seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].lru, _ = simplelru.NewLRU[string, *sessionEntry](cacheSessions/cacheShards, nil)
		s.shards[i].dirty = map[string]*sessionEntry{}
	}
	return s
}

func (s *sessionStorage) shard(key string) *sessionShard {
	return &s.shards[maphash.String(s.seed, key)%cacheShards]
}

// cached returns key's live entry (sh.mu held), from the LRU or the pending updates.
func (sh *sessionShard) cached(key string, now time.Time) *sessionEntry {
	if e, ok := sh.lru.Get(key); ok {
		if e.live(now) {
			return e
		}
		sh.lru.Remove(key)
	}
	if e, ok := sh.dirty[key]; ok && e.live(now) {
		sh.lru.Add(key, e)
		return e
	}
	return nil
}

// entry returns the live cached entry of key, or nil.
func (s *sessionStorage) entry(key string) *sessionEntry {
	if key == "" {
		return nil
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.cached(key, time.Now())
}

// Get returns the session's bytes (shared: callers must not modify them).
func (s *sessionStorage) Get(key string) ([]byte, error) {
	sh := s.shard(key)
	sh.mu.Lock()
	if e := sh.cached(key, time.Now()); e != nil {
		sh.mu.Unlock()
		return e.val, nil
	}
	w0 := sh.writes
	sh.mu.Unlock()
	val, err := s.inner.Get(key)
	if err != nil || val == nil {
		return val, err
	}
	sh.mu.Lock()
	if sh.writes == w0 {
		sh.lru.Add(key, &sessionEntry{val: val, exp: time.Now().Add(sessionFillTTL)})
	}
	sh.mu.Unlock()
	return val, nil
}

// Set stores a session: in memory and, within sessionFlushDelay, in the storage when the
// cache holds it already; written through at once otherwise.
func (s *sessionStorage) Set(key string, val []byte, exp time.Duration) error {
	if len(key) == 0 || len(val) == 0 {
		return s.inner.Set(key, val, exp) // the storage's own rules (it ignores them)
	}
	e := &sessionEntry{val: append([]byte(nil), val...)}
	if exp > 0 {
		e.exp = time.Now().Add(exp)
	}
	sh := s.shard(key)
	sh.mu.Lock()
	if sh.cached(key, time.Now()) != nil {
		sh.writes++
		sh.lru.Add(key, e)
		sh.dirty[key] = e
		if !sh.scheduled {
			sh.scheduled = true
			time.AfterFunc(sessionFlushDelay, func() { s.flush(sh) })
		}
		sh.mu.Unlock()
		return nil
	}
	sh.mu.Unlock()

	sh.wmu.Lock()
	defer sh.wmu.Unlock()
	sh.drop(key)
	err := s.inner.Set(key, val, exp)
	sh.mu.Lock()
	sh.writes++
	if _, newer := sh.dirty[key]; err == nil && !newer {
		sh.lru.Add(key, e)
	}
	sh.mu.Unlock()
	return err
}

// Delete removes the session from the cache and the storage (logout, Reset, Destroy).
func (s *sessionStorage) Delete(key string) error {
	sh := s.shard(key)
	sh.wmu.Lock()
	defer sh.wmu.Unlock()
	sh.drop(key)
	err := s.inner.Delete(key)
	sh.drop(key)
	return err
}

// drop forgets key, its pending update included (sh.wmu held).
func (sh *sessionShard) drop(key string) {
	sh.mu.Lock()
	sh.writes++
	sh.lru.Remove(key)
	delete(sh.dirty, key)
	sh.mu.Unlock()
}

// flush writes the shard's pending updates to the storage. An entry stays readable from
// dirty until it is written, so a read meanwhile never finds the older stored value.
func (s *sessionStorage) flush(sh *sessionShard) {
	sh.wmu.Lock()
	defer sh.wmu.Unlock()
	sh.mu.Lock()
	sh.scheduled = false
	pending := make(map[string]*sessionEntry, len(sh.dirty))
	for k, e := range sh.dirty {
		pending[k] = e
	}
	sh.mu.Unlock()
	now := time.Now()
	for k, e := range pending {
		var exp time.Duration
		if !e.exp.IsZero() {
			if exp = e.exp.Sub(now); exp <= 0 {
				continue // expired meanwhile: the stored copy expires too
			}
		}
		_ = s.inner.Set(k, e.val, exp) // a closed storage (shutdown, tests): nothing to do
	}
	sh.mu.Lock()
	for k, e := range pending {
		if sh.dirty[k] == e {
			delete(sh.dirty, k)
		}
	}
	sh.mu.Unlock()
}

// Flush writes every pending update to the storage now.
func (s *sessionStorage) Flush() {
	for i := range s.shards {
		s.flush(&s.shards[i])
	}
}

// Reset empties the storage and the cache.
func (s *sessionStorage) Reset() error {
	for i := range s.shards {
		s.shards[i].wmu.Lock()
		defer s.shards[i].wmu.Unlock()
	}
	err := s.inner.Reset()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.writes++
		sh.lru.Purge()
		clear(sh.dirty)
		sh.mu.Unlock()
	}
	return err
}

// Close writes what is pending and closes the storage.
func (s *sessionStorage) Close() error {
	s.Flush()
	return s.inner.Close()
}

// cachedLogin returns the login decoded earlier from this very entry.
func (e *sessionEntry) cachedLogin() (login, int64, bool) {
	if e == nil {
		return login{}, 0, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.login, e.loginAt, e.hasLogin
}

// remember keeps l, decoded from e's bytes, beside them.
func (e *sessionEntry) remember(l login, loginAt int64) {
	if e == nil {
		return
	}
	e.mu.Lock()
	e.login, e.loginAt, e.hasLogin = l, loginAt, true
	e.mu.Unlock()
}

// sessionEntry returns the cached entry of the request's session cookie, if any.
func (s *Server) sessionEntry(c *fiber.Ctx) *sessionEntry {
	if s.sessionCache == nil {
		return nil
	}
	return s.sessionCache.entry(c.Cookies(s.cookieName("session")))
}

// stillCurrent reports whether e is still the cached entry of the request's session (no write
// replaced it while the session was being decoded).
func (s *Server) stillCurrent(c *fiber.Ctx, e *sessionEntry) bool {
	return e != nil && s.sessionEntry(c) == e
}
