package handlers

// The hot paths answer from memory. A message poll that finds nothing new — by far the most
// frequent request — reads no database and renders no template: the organization, the
// agent's credential and the conversation's newest message id and ticket status are kept
// here, filled on a miss by the same one-row queries the handlers made before, and checked
// against the databases' write counters (sql/sqlite) on every use.
//
// Correctness does not depend on remembering to invalidate: every write this process makes to
// a database moves that database's counter in the driver, and an answer cached at an older
// count is not used. Only adding a message is exempt (sqlite.Append): it changes nothing here
// but the conversation's newest id, which sendMessage records itself. What other processes
// write is seen after an embedded replica pulls it (the replica moves the counter), and in any
// case after Config.StateTTL (orgTTL for the catalog) — operator commands, other instances.
//
// Authorization stays exactly what it was: the same rows decide, only sooner. Nothing that was
// not found is cached, so an unknown token or id still costs a query (and answers 404).

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/crm"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// Bounds of the caches (entries). At 10,000 tenants with a few open tickets each they hold
// all the poll state; beyond that the least recently used are dropped and cost a query when
// asked for again. Memory: about 200 bytes per entry, 40 MB when all are full, plus at most
// cacheWhole tickets with their questions (≤ 20 MB at the 5,000-character limit).
const (
	cacheOrgs    = 16384
	cacheAgents  = 16384
	cacheTickets = 65536
	cacheIndex   = 65536
	// cacheWhole bounds the whole tickets kept for customers' pages: a ticket holds its
	// question (up to MessageLimit characters), so fewer of them.
	cacheWhole  = 4096
	cacheShards = 16
	// orgTTL bounds how long a catalog row is used without being read again, for changes
	// made by other processes (operator commands, other instances on a shared catalog).
	orgTTL = 5 * time.Second
)

// hotCache is the Server's in-memory state of its hot paths.
type hotCache struct {
	// ttl bounds how long tenant state is used without being read again; orgTTL the same for
	// catalog rows (the shorter of ttl and the orgTTL constant).
	ttl, orgTTL time.Duration
	// catalog counts writes to the catalog; nil when they cannot be counted (no org caching).
	catalog *sqlite.Writes

	orgsByName *shardedLRU[string, orgEntry]
	orgsByID   *shardedLRU[int64, orgEntry]
	agents     *shardedLRU[agentKey, stamped[crm.Agent]]
	// index maps a conversation id or a customer token hash to its ticket: facts that never
	// change while the tenant exists.
	index *shardedLRU[indexKey, int64]
	// tickets holds each ticket's poll state.
	tickets *shardedLRU[ticketKey, ticketEntry]
	// byToken holds whole tickets by their token hash, for the customer's pages.
	byToken *shardedLRU[indexKey, stamped[crm.Ticket]]
}

func newHotCache(ttl time.Duration, cat *catalog.Store) *hotCache {
	h := &hotCache{
		ttl:        ttl,
		orgTTL:     min(ttl, orgTTL),
		orgsByName: newShardedLRU[string, orgEntry](cacheOrgs),
		orgsByID:   newShardedLRU[int64, orgEntry](cacheOrgs),
		agents:     newShardedLRU[agentKey, stamped[crm.Agent]](cacheAgents),
		index:      newShardedLRU[indexKey, int64](cacheIndex),
		tickets:    newShardedLRU[ticketKey, ticketEntry](cacheTickets),
		byToken:    newShardedLRU[indexKey, stamped[crm.Ticket]](cacheWhole),
	}
	if cat != nil {
		h.catalog = sqlite.WritesOf(cat.DB())
	}
	return h
}

// tenantID names one incarnation of a tenant: an organization deleted and registered again
// under the same name gets a new id (and creation time), so nothing cached about the old one
// is ever found for the new one.
type tenantID struct {
	name    string
	org     int64
	created int64
}

func tenantOf(org *catalog.Organization) tenantID {
	return tenantID{name: org.DBName, org: org.ID, created: org.CreatedAt.Unix()}
}

// orgEntry holds an organization shared by every request that finds it: read-only.
type orgEntry struct {
	org *catalog.Organization
	gen uint64
	at  time.Time
}

type agentKey struct {
	t  tenantID
	id int64
}

// stamped is a cached value with the write count and time it was read at.
type stamped[V any] struct {
	v   V
	gen uint64
	at  time.Time
}

// indexKey is a conversation id (token zero) or a customer token hash (conv zero).
type indexKey struct {
	t     tenantID
	conv  int64
	token [32]byte
}

type ticketKey struct {
	t      tenantID
	ticket int64
}

type ticketEntry struct {
	st  crm.PollState
	gen uint64
	at  time.Time
}

// org returns the organization with this username (or, when name is "", this id), from
// memory while the catalog has not been written since it was read. The organization is
// shared with other requests: never modify it.
func (h *hotCache) org(ctx context.Context, cat *catalog.Store, name string, id int64) (*catalog.Organization, error) {
	load := func() (catalog.Organization, error) {
		if name != "" {
			return cat.ByUsername(ctx, name)
		}
		return cat.ByID(ctx, id)
	}
	if h.catalog == nil {
		org, err := load()
		if err != nil {
			return nil, err
		}
		return &org, nil
	}
	var e orgEntry
	var ok bool
	if name != "" {
		e, ok = h.orgsByName.get(name)
	} else {
		e, ok = h.orgsByID.get(id)
	}
	if ok && e.gen == h.catalog.Changes() && time.Since(e.at) < h.orgTTL {
		return e.org, nil
	}
	gen, at := h.catalog.Changes(), time.Now()
	org, err := load()
	if err != nil {
		return nil, err
	}
	e = orgEntry{org: &org, gen: gen, at: at}
	h.orgsByName.add(org.Username, e)
	h.orgsByID.add(org.ID, e)
	return e.org, nil
}

// agent returns the tenant's agent with this id, loading it with load on a miss.
func (h *hotCache) agent(org *catalog.Organization, id int64, load func() (crm.Agent, error)) (crm.Agent, error) {
	return readThrough(h, org, h.agents, agentKey{t: tenantOf(org), id: id}, load)
}

// ticket returns the whole ticket a customer token hash leads to, loading it with load on a
// miss. (A ticket changes only by writes other than appends: engage, close, rate.)
func (h *hotCache) ticket(org *catalog.Organization, k indexKey, load func() (crm.Ticket, error)) (crm.Ticket, error) {
	return readThrough(h, org, h.byToken, k, load)
}

// readThrough returns c's value for k while org's database has not been written since it was
// read (and within the TTL), else loads it and caches it under the write count seen before
// the load, so that a write racing the load makes the entry stale at once.
func readThrough[K comparable, V any](h *hotCache, org *catalog.Organization, c *shardedLRU[K, stamped[V]], k K, load func() (V, error)) (V, error) {
	w := sqlite.WritesTo(org.DBName)
	if e, ok := c.get(k); ok && e.gen == w.Changes() && time.Since(e.at) < h.ttl {
		return e.v, nil
	}
	gen, at := w.Changes(), time.Now()
	v, err := load()
	if err != nil {
		return v, err
	}
	c.add(k, stamped[V]{v: v, gen: gen, at: at})
	return v, nil
}

// poll returns the poll state of the ticket a conversation id or token hash leads to, loading
// it with load (one indexed query) on a miss.
func (h *hotCache) poll(org *catalog.Organization, k indexKey, load func() (crm.PollState, error)) (crm.PollState, error) {
	w := sqlite.WritesTo(org.DBName)
	if ticket, ok := h.index.get(k); ok {
		if e, ok := h.tickets.get(ticketKey{t: k.t, ticket: ticket}); ok && e.gen == w.Changes() && time.Since(e.at) < h.ttl {
			return e.st, nil
		}
	}
	gen, appends, at := w.Changes(), w.Appends(), time.Now()
	st, err := load()
	if err != nil {
		return st, err
	}
	h.index.add(k, st.TicketID)
	h.tickets.update(ticketKey{t: k.t, ticket: st.TicketID}, func(old ticketEntry, ok bool) (ticketEntry, bool) {
		if w.Appends() != appends {
			// A message was added while the query ran: its id may be missing from st.
			// Leave the entry as it is (sendMessage keeps a current one current).
			return old, ok
		}
		if ok && old.gen == gen && old.st.LastMessageID > st.LastMessageID {
			st.LastMessageID = old.st.LastMessageID
		}
		return ticketEntry{st: st, gen: gen, at: at}, true
	})
	return st, nil
}

// added records a message this process stored in the ticket's conversation.
func (h *hotCache) added(org *catalog.Organization, ticketID, messageID int64) {
	h.tickets.update(ticketKey{t: tenantOf(org), ticket: ticketID}, func(old ticketEntry, ok bool) (ticketEntry, bool) {
		if ok && old.st.LastMessageID < messageID {
			old.st.LastMessageID = messageID
		}
		return old, ok
	})
}

// forgetTenant drops everything cached about an organization (it is being deleted).
func (h *hotCache) forgetTenant(org *catalog.Organization) {
	h.orgsByName.remove(org.Username)
	h.orgsByID.remove(org.ID)
	name := org.DBName
	h.agents.removeIf(func(k agentKey) bool { return k.t.name == name })
	h.index.removeIf(func(k indexKey) bool { return k.t.name == name })
	h.tickets.removeIf(func(k ticketKey) bool { return k.t.name == name })
	h.byToken.removeIf(func(k indexKey) bool { return k.t.name == name })
}

// shardedLRU is a size-bounded, least-recently-used map safe for concurrent use; shards keep
// the requests of two cores from queueing on one lock.
type shardedLRU[K comparable, V any] struct {
	seed   maphash.Seed
	shards [cacheShards]lruShard[K, V]
}

type lruShard[K comparable, V any] struct {
	mu  sync.Mutex
	lru *simplelru.LRU[K, V]
}

func newShardedLRU[K comparable, V any](size int) *shardedLRU[K, V] {
	c := &shardedLRU[K, V]{seed: maphash.MakeSeed()}
	per := max(1, size/cacheShards)
	for i := range c.shards {
		c.shards[i].lru, _ = simplelru.NewLRU[K, V](per, nil)
	}
	return c
}

func (c *shardedLRU[K, V]) shard(k K) *lruShard[K, V] {
	return &c.shards[maphash.Comparable(c.seed, k)%cacheShards]
}

func (c *shardedLRU[K, V]) get(k K) (V, bool) {
	s := c.shard(k)
	s.mu.Lock()
	v, ok := s.lru.Get(k)
	s.mu.Unlock()
	return v, ok
}

func (c *shardedLRU[K, V]) add(k K, v V) {
	s := c.shard(k)
	s.mu.Lock()
	s.lru.Add(k, v)
	s.mu.Unlock()
}

// update replaces k's value with what fn returns given the current one, atomically; fn
// returning false leaves k absent.
func (c *shardedLRU[K, V]) update(k K, fn func(old V, ok bool) (V, bool)) {
	s := c.shard(k)
	s.mu.Lock()
	old, ok := s.lru.Peek(k)
	v, keep := fn(old, ok)
	switch {
	case keep:
		s.lru.Add(k, v)
	case ok:
		s.lru.Remove(k)
	}
	s.mu.Unlock()
}

func (c *shardedLRU[K, V]) remove(k K) {
	s := c.shard(k)
	s.mu.Lock()
	s.lru.Remove(k)
	s.mu.Unlock()
}

// removeIf drops every key pred accepts; it walks the whole cache (rare: deletions).
func (c *shardedLRU[K, V]) removeIf(pred func(K) bool) {
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

func (c *shardedLRU[K, V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}

// conversationPoll is the poll state of the current organization's conversation id.
func (s *Server) conversationPoll(c *fiber.Ctx, id int64) (crm.PollState, error) {
	org := currentOrg(c)
	return s.hot.poll(org, indexKey{t: tenantOf(org), conv: id}, func() (crm.PollState, error) {
		store, err := s.crm(c)
		if err != nil {
			return crm.PollState{}, err
		}
		return store.PollByConversation(c.UserContext(), id)
	})
}

// tokenPoll is the poll state of the current organization's ticket whose token hashes to h.
func (s *Server) tokenPoll(c *fiber.Ctx, h [32]byte) (crm.PollState, error) {
	org := currentOrg(c)
	return s.hot.poll(org, indexKey{t: tenantOf(org), token: h}, func() (crm.PollState, error) {
		store, err := s.crm(c)
		if err != nil {
			return crm.PollState{}, err
		}
		return store.PollByToken(c.UserContext(), h[:])
	})
}
