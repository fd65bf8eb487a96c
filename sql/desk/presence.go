package desk

// Presence: who else is on a ticket's page, and who is writing in its composer. It lives in
// memory only — it is about this moment, not a record — carried by the pages' polls: every
// poll of a team member's page says "I am here" (and whether they are typing) and learns who
// else is. An entry fades presenceTTL after its last poll. With several instances behind a
// load balancer each knows the people it serves.

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// presenceTTL is how long a visitor counts as present after its last poll (pages poll every
// two seconds).
const presenceTTL = 6 * time.Second

// cachePresence bounds the tickets whose visitors are tracked.
const cachePresence = 16384

// Present is someone of the team on a ticket's page.
type Present struct {
	// AgentID is the agent, 0 for the owner.
	AgentID int64
	Name    string
	Typing  bool
}

type presenceSet struct {
	mu   sync.Mutex
	seen map[int64]presenceEntry // by agent id; 0 is the owner
}

type presenceEntry struct {
	p  Present
	at time.Time
}

// Presence records that a is on the page of conversation convID now (typing when typing), and
// returns the others there, by name. Customers are not tracked.
func (s *Service) Presence(ctx context.Context, org *catalog.Organization, a Actor, convID int64, typing bool) ([]Present, error) {
	ts := s.tenant(org)
	st, err := s.state(ctx, org, ts, key(ts, a, convID))
	if err != nil {
		return nil, err
	}
	if err := allow(a, opNote, st); err != nil {
		return nil, err
	}
	k := ticketKey{t: ts.t, ticket: st.TicketID}
	set, ok := s.presence.Get(k)
	if !ok {
		s.presence.Update(k, func(old *presenceSet, ok bool) (*presenceSet, bool) {
			if !ok {
				old = &presenceSet{seen: map[int64]presenceEntry{}}
			}
			set = old
			return old, true
		})
	}
	now := s.now()
	set.mu.Lock()
	defer set.mu.Unlock()
	set.seen[a.AgentID] = presenceEntry{p: Present{AgentID: a.AgentID, Name: a.Name, Typing: typing}, at: now}
	var out []Present
	for id, e := range set.seen {
		if now.Sub(e.at) > presenceTTL {
			delete(set.seen, id)
			continue
		}
		if id != a.AgentID {
			out = append(out, e.p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
