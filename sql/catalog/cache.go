package catalog

// Every request on a tenant route looks its organization up (by username from the URL, or by id
// from the session): Lookup and LookupID answer from memory. An entry is used while no write
// went through this Store since it was read and for at most orgTTL, which bounds how long a
// change made by another process (an operator command, another instance on a shared catalog)
// goes unseen.

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/lru"
)

const (
	// cacheOrgs bounds the organizations kept in memory.
	cacheOrgs = 16384
	// orgTTL bounds how long a cached organization is used without being read again.
	orgTTL = 5 * time.Second
)

type orgCache struct {
	// gen moves after every write through the Store: an entry is used only while gen is what
	// it was before the entry was read, so a read that raced a write is never used.
	gen    atomic.Uint64
	byName *lru.Cache[string, orgEntry]
	byID   *lru.Cache[int64, orgEntry]
}

// orgEntry holds an organization shared by every request that finds it: read-only.
type orgEntry struct {
	org *Organization
	gen uint64
	at  time.Time
}

func newOrgCache() *orgCache {
	return &orgCache{byName: lru.New[string, orgEntry](cacheOrgs), byID: lru.New[int64, orgEntry](cacheOrgs)}
}

// changed marks a write; every writing method defers it.
func (c *orgCache) changed() { c.gen.Add(1) }

func (c *orgCache) fresh(e orgEntry) bool {
	return e.gen == c.gen.Load() && time.Since(e.at) < orgTTL
}

// Lookup returns the organization with this username, from memory while it is current. The
// organization is shared with other requests: never modify it. A missing one is NotFound.
func (s *Store) Lookup(ctx context.Context, username string) (*Organization, error) {
	if e, ok := s.cache.byName.Get(username); ok && s.cache.fresh(e) {
		return e.org, nil
	}
	return s.fill(ctx, func() (Organization, error) { return s.ByUsername(ctx, username) })
}

// LookupID is Lookup by id.
func (s *Store) LookupID(ctx context.Context, id int64) (*Organization, error) {
	if e, ok := s.cache.byID.Get(id); ok && s.cache.fresh(e) {
		return e.org, nil
	}
	return s.fill(ctx, func() (Organization, error) { return s.ByID(ctx, id) })
}

func (s *Store) fill(ctx context.Context, load func() (Organization, error)) (*Organization, error) {
	gen, at := s.cache.gen.Load(), time.Now()
	org, err := load()
	if err != nil {
		return nil, err
	}
	e := orgEntry{org: &org, gen: gen, at: at}
	s.cache.byName.Add(org.Username, e)
	s.cache.byID.Add(org.ID, e)
	return &org, nil
}
