package desk

import (
	"sync"
	"sync/atomic"
)

// EventKind says what changed.
type EventKind uint8

// The kinds of change the feed carries.
const (
	// MessageAdded: a message, note or activity line was stored (MessageID, TicketID,
	// ConversationID and Sender set).
	MessageAdded EventKind = iota + 1
	// TicketChanged: a ticket was opened or its state changed (Changed says what).
	TicketChanged
	// AgentsChanged: an agent was onboarded, removed, or its password changed or reset.
	AgentsChanged
	// TenantChanged: something other than this process changed the tenant's database
	// (External is set); anything read from it before may be stale.
	TenantChanged
	// TenantDeleted: the organization and its database are gone.
	TenantDeleted
	// SettingsChanged: an organization setting changed.
	SettingsChanged
	// OutboxChanged: an outbox item was delivered, will be retried or was given up
	// (TicketID and MessageID say what caused it, when a ticket or a message did).
	OutboxChanged
)

// Change is a set of what changed on a ticket.
type Change uint16

// What a TicketChanged event may report.
const (
	ChangedCreated Change = 1 << iota
	ChangedStatus
	ChangedAssignee
	ChangedRating
	ChangedPriority
	ChangedTags
	// ChangedAccess: the customer's access was rotated (RotateAccess).
	ChangedAccess
	// ChangedBreach: a service-level target was breached (recorded once per target; the
	// ticket's conversation has an activity line of kind "breach" saying which).
	ChangedBreach
)

// Tenant names one incarnation of an organization's helpdesk: the same name registered again
// after a deletion is another tenant.
type Tenant struct {
	Name  string // the database name
	OrgID int64
}

// Event is one change, published after the transaction that made it committed.
type Event struct {
	Kind           EventKind
	Tenant         Tenant
	TicketID       int64
	ConversationID int64
	MessageID      int64
	// Sender is the added message's sender (customer, agent, note, activity).
	Sender  string
	Changed Change
	// By is who made the change (System for changes seen from outside).
	By Actor
	// External marks a change this process did not make.
	External bool
}

// Subscription receives the events published after it was made, in the order they were
// published, on C. A subscriber that does not keep up loses events (Dropped counts them): the
// feed is a signal to look again, the database is the record.
type Subscription struct {
	C       <-chan Event
	c       chan Event
	dropped atomic.Uint64
	feed    *feed
}

// Dropped reports how many events did not fit in the subscription's buffer.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription; C is not closed (a receiver selects on its own stop signal).
func (s *Subscription) Close() { s.feed.remove(s) }

// feed fans events out to subscriptions without ever blocking a writer.
type feed struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
}

func (f *feed) subscribe(buffer int) *Subscription {
	c := make(chan Event, max(buffer, 1))
	s := &Subscription{C: c, c: c, feed: f}
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[*Subscription]struct{}{}
	}
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

func (f *feed) remove(s *Subscription) {
	f.mu.Lock()
	delete(f.subs, s)
	f.mu.Unlock()
}

func (f *feed) publish(e Event) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for s := range f.subs {
		select {
		case s.c <- e:
		default:
			s.dropped.Add(1)
		}
	}
}
