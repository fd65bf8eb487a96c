package handlers

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"
)

// memStorage is a fiber.Storage in memory that counts reads and can run a hook inside Get
// (to interleave a write with a read).
type memStorage struct {
	mu    sync.Mutex
	m     map[string][]byte
	exp   map[string]time.Time
	gets  int
	onGet func()
}

func newMemStorage() *memStorage {
	return &memStorage{m: map[string][]byte{}, exp: map[string]time.Time{}}
}

func (s *memStorage) Get(k string) ([]byte, error) {
	s.mu.Lock()
	s.gets++
	v, ok := s.m[k]
	if ok && !s.exp[k].IsZero() && time.Now().After(s.exp[k]) {
		v, ok = nil, false
	}
	hook := s.onGet
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	if !ok {
		return nil, nil
	}
	return append([]byte(nil), v...), nil
}

func (s *memStorage) Set(k string, v []byte, exp time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = append([]byte(nil), v...)
	s.exp[k] = time.Time{}
	if exp > 0 {
		s.exp[k] = time.Now().Add(exp)
	}
	return nil
}

func (s *memStorage) Delete(k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

func (s *memStorage) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = map[string][]byte{}
	return nil
}

func (s *memStorage) Close() error { return nil }

func TestSessionStorageReadsThroughAndWritesThrough(t *testing.T) {
	inner := newMemStorage()
	s := newSessionStorage(inner)
	inner.Set("a", []byte("one"), 0)

	for range 3 {
		if v, _ := s.Get("a"); string(v) != "one" {
			t.Fatalf("Get(a) = %q, want one", v)
		}
	}
	if inner.gets != 1 {
		t.Errorf("storage read %d times for three Gets, want 1", inner.gets)
	}
	// An update of a cached session is served at once and in the storage before Set returns.
	if err := s.Set("a", []byte("two"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("a"); string(v) != "two" {
		t.Errorf("Get after Set = %q, want two", v)
	}
	if v, _ := inner.Get("a"); string(v) != "two" {
		t.Errorf("storage holds %q right after Set, want two", v)
	}
	// A session the cache does not hold (a login's new one) is written before Set returns.
	if err := s.Set("new", []byte("fresh"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, _ := inner.Get("new"); string(v) != "fresh" {
		t.Errorf("storage holds %q right after Set of a new session, want fresh", v)
	}
	if err := s.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("a"); v != nil {
		t.Errorf("Get after Delete = %q, want nothing", v)
	}
	if v, _ := s.Get("missing"); v != nil {
		t.Errorf("Get(missing) = %q", v)
	}
	s.Set("b", []byte("x"), time.Hour)
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("b"); v != nil {
		t.Errorf("Get after Reset = %q, want nothing", v)
	}
}

func TestSessionStorageHonoursExpiry(t *testing.T) {
	inner := newMemStorage()
	s := newSessionStorage(inner)
	s.Set("a", []byte("one"), 30*time.Millisecond)
	if v, _ := s.Get("a"); string(v) != "one" {
		t.Fatalf("Get = %q", v)
	}
	time.Sleep(50 * time.Millisecond)
	if v, _ := s.Get("a"); v != nil {
		t.Errorf("Get after expiry = %q, want nothing", v)
	}
}

// A read that raced a write must not put what it read in the cache.
func TestSessionStorageDoesNotCacheARacingRead(t *testing.T) {
	inner := newMemStorage()
	s := newSessionStorage(inner)
	inner.Set("a", []byte("old"), 0)
	once := sync.Once{}
	inner.onGet = func() {
		once.Do(func() {
			// The storage returned "old"; before the cache stores it, a write lands.
			if err := s.Set("a", []byte("new"), time.Hour); err != nil {
				t.Error(err)
			}
		})
	}
	if v, _ := s.Get("a"); string(v) != "old" {
		t.Fatalf("first Get = %q, want the old value it read", v)
	}
	inner.onGet = nil
	if v, _ := s.Get("a"); string(v) != "new" {
		t.Errorf("Get after a racing write = %q, want new", v)
	}
}

// The decoded login belongs to one entry: a write replaces the entry, and the login with it.
func TestSessionLoginFollowsTheBytes(t *testing.T) {
	s := newSessionStorage(newMemStorage())
	s.Set("k", []byte("v1"), time.Hour)
	e := s.entry("k")
	e.remember(login{Role: roleAgent, AgentID: 7}, time.Now().Unix())
	if l, _, ok := s.entry("k").cachedLogin(); !ok || l.AgentID != 7 {
		t.Fatalf("cached login = %+v, %v", l, ok)
	}
	s.Set("k", []byte("v2"), time.Hour)
	if _, _, ok := s.entry("k").cachedLogin(); ok {
		t.Error("a write kept the login decoded from the old bytes")
	}
	if v, _ := s.Get("k"); !bytes.Equal(v, []byte("v2")) {
		t.Errorf("Get = %q", v)
	}
}

// Every update and delete is in the storage when it returns, the last one winning; a deleted
// session never comes back from the cache.
func TestSessionStorageWritesThrough(t *testing.T) {
	inner := newMemStorage()
	s := newSessionStorage(inner)
	s.Set("k", []byte("v0"), time.Hour)
	for i := 1; i <= 50; i++ {
		s.Set("k", []byte(fmt.Sprintf("v%d", i)), time.Hour)
		if v, _ := inner.Get("k"); string(v) != fmt.Sprintf("v%d", i) {
			t.Fatalf("storage holds %q after update %d", v, i)
		}
	}
	s.Set("gone", []byte("x"), time.Hour)
	s.Set("gone", []byte("y"), time.Hour)
	if err := s.Delete("gone"); err != nil {
		t.Fatal(err)
	}
	if v, _ := inner.Get("gone"); v != nil {
		t.Errorf("deleted session is still in the storage: %q", v)
	}
	if v, _ := s.Get("gone"); v != nil {
		t.Errorf("deleted session came back from the cache: %q", v)
	}
}
