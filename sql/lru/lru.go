// Package lru is the one bounded in-memory cache of tenantdesk: a least-recently-used map, safe
// for concurrent use, split into shards so that requests on two cores do not queue on one lock.
// Every hot-path cache (organizations, tenant state, sessions) is one of these.
package lru

import (
	"hash/maphash"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// shards is how many independent LRUs a Cache is split into; each holds 1/shards of the
// entries and of the cost budget.
const shards = 16

// Cache is a size-bounded LRU map. The zero value is not usable; use New.
type Cache[K comparable, V any] struct {
	seed   maphash.Seed
	shards [shards]shard[K, V]
	cost   func(V) int
}

type shard[K comparable, V any] struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[K, V]
	spent int // sum of cost over the entries, when the Cache has a cost function
	limit int
}

// New returns a Cache of at most size entries.
func New[K comparable, V any](size int) *Cache[K, V] {
	return NewWeighted[K, V](size, 0, nil)
}

// NewWeighted returns a Cache of at most size entries whose costs (as cost reports them, for
// example in bytes) add up to at most budget; the least recently used go first. A value
// costing more than a shard's part of the budget is not kept.
func NewWeighted[K comparable, V any](size, budget int, cost func(V) int) *Cache[K, V] {
	c := &Cache[K, V]{seed: maphash.MakeSeed(), cost: cost}
	per := max(1, size/shards)
	for i := range c.shards {
		s := &c.shards[i]
		s.limit = budget / shards
		var onEvict simplelru.EvictCallback[K, V]
		if cost != nil {
			onEvict = func(_ K, v V) { s.spent -= cost(v) }
		}
		s.lru, _ = simplelru.NewLRU[K, V](per, onEvict)
	}
	return c
}

func (c *Cache[K, V]) shard(k K) *shard[K, V] {
	return &c.shards[maphash.Comparable(c.seed, k)%shards]
}

// Get returns k's value and marks it recently used.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	s := c.shard(k)
	s.mu.Lock()
	v, ok := s.lru.Get(k)
	s.mu.Unlock()
	return v, ok
}

// Add sets k's value.
func (c *Cache[K, V]) Add(k K, v V) {
	s := c.shard(k)
	s.mu.Lock()
	s.add(c.cost, k, v)
	s.mu.Unlock()
}

// add runs with s.mu held.
func (s *shard[K, V]) add(cost func(V) int, k K, v V) {
	if cost == nil {
		s.lru.Add(k, v)
		return
	}
	n := cost(v)
	s.lru.Remove(k) // its cost leaves through the eviction callback
	if n > s.limit {
		return
	}
	s.spent += n
	s.lru.Add(k, v)
	for s.spent > s.limit {
		if _, _, ok := s.lru.RemoveOldest(); !ok {
			break
		}
	}
}

// Update replaces k's value with what fn returns given the current one (without marking it
// used), atomically with respect to other calls on k; fn returning false leaves k absent.
func (c *Cache[K, V]) Update(k K, fn func(old V, ok bool) (V, bool)) {
	s := c.shard(k)
	s.mu.Lock()
	old, ok := s.lru.Peek(k)
	v, keep := fn(old, ok)
	switch {
	case keep:
		s.add(c.cost, k, v)
	case ok:
		s.lru.Remove(k)
	}
	s.mu.Unlock()
}

// Remove drops k.
func (c *Cache[K, V]) Remove(k K) {
	s := c.shard(k)
	s.mu.Lock()
	s.lru.Remove(k)
	s.mu.Unlock()
}

// RemoveIf drops every key pred accepts. It walks the whole cache: for rare events only.
func (c *Cache[K, V]) RemoveIf(pred func(K) bool) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for _, k := range s.lru.Keys() {
			if pred(k) {
				s.lru.Remove(k)
			}
		}
		s.mu.Unlock()
	}
}

// Len reports how many entries the cache holds.
func (c *Cache[K, V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}
