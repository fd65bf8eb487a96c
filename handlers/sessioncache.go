package handlers

// Sessions are read on every authenticated request, polls included, and the session storage
// is an SQLite file: sessionStorage keeps recently used sessions in memory in front of it,
// and currentLogin keeps the decoded login beside them, so that a poll neither queries nor
// gob-decodes. Sessions are written only when someone logs in or out, or a flash message is
// set or shown (page views write nothing: the CSRF token is derived, not stored), so every
// write goes through to the storage before it returns.
//
// It is exact for one process: everything goes through it, and a read that raced a write is
// not kept. Sessions are local to one instance anyway (the storage is a file under DATA_DIR),
// so several instances need sticky sessions with or without this cache. Nothing may write the
// storage behind its back; the rate-limit counters use the raw storage, not this one.

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/lru"
)

const (
	// cacheSessions bounds the sessions kept in memory.
	cacheSessions = 16384
	// sessionFillTTL bounds how long a session read from the storage is used from memory: the
	// storage does not say when it expires, so it is asked again after this.
	sessionFillTTL = 30 * time.Second
)

// sessionStorage is a fiber.Storage that caches another one.
type sessionStorage struct {
	inner fiber.Storage
	cache *lru.Cache[string, *sessionEntry]
	// wmu orders writes to the storage with the cache updates that follow them; writes moves
	// on each, so that a read racing one is not cached.
	wmu    sync.Mutex
	writes atomic.Uint64
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
	return &sessionStorage{inner: inner, cache: lru.New[string, *sessionEntry](cacheSessions)}
}

// entry returns the live cached entry of key, or nil.
func (s *sessionStorage) entry(key string) *sessionEntry {
	if key == "" {
		return nil
	}
	if e, ok := s.cache.Get(key); ok && e.live(time.Now()) {
		return e
	}
	return nil
}

// Get returns the session's bytes (shared: callers must not modify them).
func (s *sessionStorage) Get(key string) ([]byte, error) {
	if e := s.entry(key); e != nil {
		return e.val, nil
	}
	w0 := s.writes.Load()
	val, err := s.inner.Get(key)
	if err != nil || val == nil {
		return val, err
	}
	e := &sessionEntry{val: val, exp: time.Now().Add(sessionFillTTL)}
	s.cache.Update(key, func(old *sessionEntry, ok bool) (*sessionEntry, bool) {
		if s.writes.Load() != w0 {
			return old, ok
		}
		return e, true
	})
	return val, nil
}

// Set stores a session, in the storage and then in memory.
func (s *sessionStorage) Set(key string, val []byte, exp time.Duration) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.writes.Add(1)
	s.cache.Remove(key)
	if err := s.inner.Set(key, val, exp); err != nil || len(key) == 0 || len(val) == 0 {
		return err
	}
	e := &sessionEntry{val: append([]byte(nil), val...)}
	if exp > 0 {
		e.exp = time.Now().Add(exp)
	}
	s.cache.Add(key, e)
	return nil
}

// Delete removes the session from the cache and the storage (logout, Reset, Destroy).
func (s *sessionStorage) Delete(key string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.writes.Add(1)
	s.cache.Remove(key)
	return s.inner.Delete(key)
}

// Reset empties the storage and the cache.
func (s *sessionStorage) Reset() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.writes.Add(1)
	s.cache.RemoveIf(func(string) bool { return true })
	return s.inner.Reset()
}

// Close closes the storage.
func (s *sessionStorage) Close() error { return s.inner.Close() }

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
