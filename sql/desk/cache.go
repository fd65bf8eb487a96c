package desk

// The hot paths answer from memory. A message poll that finds nothing new — by far the most
// frequent request — reads no database: a ticket's state (status, conversation, agent, newest
// message id) is kept here, and so are agents (every agent request checks its credential),
// whole tickets (the customer's page) and each conversation's latest messages (messages never
// change once written, so a page of them needs no query while nothing new arrived).
//
// An answer is used only while its tenant's generation is the one it was read at: every write
// the Service makes bumps the generation after it commits, except adding a message, which
// updates the cached ticket state and message list in place, in commit order (groupcommit.go).
// Changes made by other processes are seen by the watcher (watch.go), which bumps the
// generation, and StateTTL bounds what even that cannot see. A read that raced a write is
// never kept: loads take the generation (and the append count) before they query.
//
// Nothing that was not found is cached, so an unknown token or id always costs a query.

import (
	"time"

	"github.com/tenantdesk/tenantdesk/sql/lru"
)

// Bounds of the caches. At 10,000 tenants with a few open tickets each they hold all the poll
// state; beyond that the least recently used are dropped and cost a query when asked again.
const (
	cacheAgents  = 16384
	cacheIndex   = 65536
	cacheStates  = 65536
	cacheTickets = 4096 // whole tickets hold their question (up to 5,000 characters)
	cacheCounts  = 16384
	// cacheThreads and threadBudget bound the conversations whose latest messages are kept,
	// by count and by bytes of message text.
	cacheThreads = 8192
	threadBudget = 64 << 20
	// threadSize is how many of a conversation's latest messages are kept (a page shows as
	// many).
	threadSize = 200
)

type caches struct {
	agents *lru.Cache[agentKey, stamped[Agent]]
	// index maps a conversation id or a customer token hash to its ticket: facts that never
	// change while the tenant exists.
	index   *lru.Cache[indexKey, int64]
	states  *lru.Cache[ticketKey, stamped[ticketState]]
	tickets *lru.Cache[ticketKey, stamped[Ticket]]
	threads *lru.Cache[ticketKey, stamped[thread]]
	// counts holds each member's queue counts: every dashboard shows them, and they cost a
	// scan of the tickets.
	counts *lru.Cache[countsKey, countsEntry]
}

type countsKey struct {
	t     Tenant
	agent int64
}

// countsEntry is counts as read at a generation and a number of appends: any write moves one
// of them (a message moves a ticket's waiting time, not a count, but a note's mention does).
type countsEntry struct {
	v       Counts
	gen     uint64
	appends uint64
	at      time.Time
}

func newCaches() caches {
	return caches{
		agents:  lru.New[agentKey, stamped[Agent]](cacheAgents),
		index:   lru.New[indexKey, int64](cacheIndex),
		states:  lru.New[ticketKey, stamped[ticketState]](cacheStates),
		tickets: lru.New[ticketKey, stamped[Ticket]](cacheTickets),
		threads: lru.NewWeighted[ticketKey, stamped[thread]](cacheThreads, threadBudget,
			func(e stamped[thread]) int { return e.v.bytes }),
		counts: lru.New[countsKey, countsEntry](cacheCounts),
	}
}

type agentKey struct {
	t  Tenant
	id int64
}

// indexKey is a conversation id, a customer token hash or (for a customer holding a signed
// link) a ticket id; the other fields are zero.
type indexKey struct {
	t      Tenant
	conv   int64
	token  [32]byte
	ticket int64
}

type ticketKey struct {
	t      Tenant
	ticket int64
}

// stamped is a cached value with the generation and time it was read at.
type stamped[V any] struct {
	v   V
	gen uint64
	at  time.Time
}

// thread is a conversation's latest messages, oldest first. whole reports that they are all
// of its messages.
type thread struct {
	msgs  []Message
	whole bool
	bytes int
}

func newThread(msgs []Message, whole bool) thread {
	th := thread{msgs: msgs, whole: whole}
	for _, m := range msgs {
		th.bytes += len(m.Body) + 64
		for _, f := range m.Files {
			th.bytes += len(f.Name) + len(f.Type) + len(f.ContentID) + 96
		}
	}
	return th
}

// after returns the messages newer than id, and whether the thread knows them all: it holds
// every message from its oldest one on, so it knows those after id when it is whole or id is
// not older than its oldest.
func (th thread) after(id int64) ([]Message, bool) {
	if !th.whole && (len(th.msgs) == 0 || id < th.msgs[0].ID) {
		return nil, false
	}
	i := len(th.msgs)
	for i > 0 && th.msgs[i-1].ID > id {
		i--
	}
	return th.msgs[i:], true
}

// with returns the thread with m appended (the oldest dropped beyond threadSize).
func (th thread) with(m Message) thread {
	msgs := make([]Message, 0, min(len(th.msgs)+1, threadSize))
	start := 0
	if len(th.msgs)+1 > threadSize {
		start = len(th.msgs) + 1 - threadSize
	}
	msgs = append(msgs, th.msgs[start:]...)
	msgs = append(msgs, m)
	return newThread(msgs, th.whole && start == 0)
}

// fresh reports whether an entry stamped gen at at may be used for ts.
func (s *Service) fresh(ts *tenantState, gen uint64, at time.Time) bool {
	return gen == ts.gen.Load() && s.now().Sub(at) < s.ttl
}

// forget drops every entry of t (its tenant was deleted).
func (c caches) forget(t Tenant) {
	c.agents.RemoveIf(func(k agentKey) bool { return k.t == t })
	c.index.RemoveIf(func(k indexKey) bool { return k.t == t })
	c.states.RemoveIf(func(k ticketKey) bool { return k.t == t })
	c.tickets.RemoveIf(func(k ticketKey) bool { return k.t == t })
	c.threads.RemoveIf(func(k ticketKey) bool { return k.t == t })
	c.counts.RemoveIf(func(k countsKey) bool { return k.t == t })
}

// added records a message this process stored, in commit order, before its writer hears of
// it: the ticket's newest message ids and the cached thread move forward in place. A write
// that changed the ticket too (its status or assignee) starts a new generation instead.
func (s *Service) added(ts *tenantState, m Message, ticketChanged bool, by Actor) {
	ts.appends.Add(1)
	if ticketChanged {
		s.changed(ts, Event{Kind: TicketChanged, TicketID: m.TicketID, ConversationID: m.ConversationID,
			Changed: ChangedStatus | ChangedAssignee, By: by})
	} else {
		k := ticketKey{t: ts.t, ticket: m.TicketID}
		s.c.states.Update(k, func(old stamped[ticketState], ok bool) (stamped[ticketState], bool) {
			if ok && old.v.LastMessageID < m.ID {
				old.v.LastMessageID = m.ID
			}
			if ok && m.Public() && old.v.LastPublicID < m.ID {
				old.v.LastPublicID = m.ID
			}
			return old, ok
		})
		s.c.threads.Update(k, func(old stamped[thread], ok bool) (stamped[thread], bool) {
			if !ok {
				return old, false
			}
			if n := len(old.v.msgs); n > 0 && old.v.msgs[n-1].ID >= m.ID {
				return old, true
			}
			old.v = old.v.with(m)
			return old, true
		})
	}
	s.feed.publish(Event{Kind: MessageAdded, Tenant: ts.t, TicketID: m.TicketID,
		ConversationID: m.ConversationID, MessageID: m.ID, Sender: m.Sender, By: by})
}
