package desk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// NewTicket is what a customer gives when opening a ticket.
type NewTicket struct {
	CustomerName, CustomerEmail, Query string
}

// OpenTicket records a customer's question and returns the ticket and the customer's private
// token: 256 random bits that alone open the ticket's page. Only its hash is stored, so this is
// the one moment it exists in clear. Anyone may open a ticket (the Public actor).
func (s *Service) OpenTicket(ctx context.Context, org *catalog.Organization, a Actor, in NewTicket) (Ticket, string, error) {
	if a.Kind != Public && a.Kind != System {
		return Ticket{}, "", apperr.New(apperr.Forbidden, CodeForbidden)
	}
	for field, v := range map[string]string{"customer_name": in.CustomerName, "customer_email": in.CustomerEmail, "query": in.Query} {
		if err := checkText(field, v); err != nil {
			return Ticket{}, "", err
		}
	}
	ts := s.tenant(org)
	st, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Ticket{}, "", err
	}
	defer release()
	token := newToken()
	h := sha256.Sum256([]byte(token))
	t, err := st.OpenTicket(ctx, in.CustomerName, in.CustomerEmail, in.Query, h[:])
	if err != nil {
		return Ticket{}, "", err
	}
	s.changed(ts, Event{Kind: TicketChanged, TicketID: t.ID, Changed: ChangedCreated, By: a})
	return t, token, nil
}

// newToken returns a customer's private link token: 256 random bits, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkText refuses what must never reach the database in a text field: an empty value,
// invalid UTF-8, NUL. (The HTTP layer checks lengths and words the problems first.)
func checkText(field, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return apperr.Field(apperr.Invalid, field, apperr.CodeRequired)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return apperr.Field(apperr.Invalid, field, apperr.CodeInvalid)
	}
	return nil
}

// key is how an actor names a ticket: a customer by its token, everyone else by the
// conversation id in the URL.
func key(ts *tenantState, a Actor, convID int64) indexKey {
	if a.Kind == Customer {
		return indexKey{t: ts.t, token: a.token}
	}
	return indexKey{t: ts.t, conv: convID}
}

// state returns the state of the ticket k names, from memory while it is current, else by one
// indexed query. A ticket that does not exist is NotFound.
func (s *Service) state(ctx context.Context, org *catalog.Organization, ts *tenantState, k indexKey) (ticketState, error) {
	s.use(ts)
	if id, ok := s.c.index.Get(k); ok {
		if e, ok := s.c.states.Get(ticketKey{t: ts.t, ticket: id}); ok && s.fresh(ts, e.gen, e.at) {
			return e.v, nil
		}
	}
	return s.loadState(ctx, org, ts, k, func(st *store) (ticketState, error) {
		if k.conv != 0 {
			return st.PollByConversation(ctx, k.conv)
		}
		return st.PollByToken(ctx, k.token[:])
	})
}

// stateByTicket is state for a ticket id (the id in an action's URL).
func (s *Service) stateByTicket(ctx context.Context, org *catalog.Organization, ts *tenantState, id int64) (ticketState, error) {
	s.use(ts)
	if e, ok := s.c.states.Get(ticketKey{t: ts.t, ticket: id}); ok && s.fresh(ts, e.gen, e.at) {
		return e.v, nil
	}
	return s.loadState(ctx, org, ts, indexKey{}, func(st *store) (ticketState, error) {
		return st.PollByTicket(ctx, id)
	})
}

// loadState reads a ticket's state with load and caches it, unless a write raced the read.
func (s *Service) loadState(ctx context.Context, org *catalog.Organization, ts *tenantState, k indexKey,
	load func(*store) (ticketState, error)) (ticketState, error) {
	gen, appends, at := ts.gen.Load(), ts.appends.Load(), s.now()
	st, release, err := s.store(ctx, org, ts)
	if err != nil {
		return ticketState{}, err
	}
	v, err := load(st)
	release()
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			err = apperr.New(apperr.NotFound, CodeConversationNotFound)
		}
		return v, err
	}
	if k != (indexKey{}) {
		s.c.index.Add(k, v.TicketID)
	}
	if v.ConversationID != 0 {
		s.c.index.Add(indexKey{t: ts.t, conv: v.ConversationID}, v.TicketID)
	}
	s.c.states.Update(ticketKey{t: ts.t, ticket: v.TicketID}, func(old stamped[ticketState], ok bool) (stamped[ticketState], bool) {
		if ts.appends.Load() != appends {
			// A message was added while the query ran: v may miss it. Keep what is there
			// (added keeps a current entry current).
			return old, ok
		}
		return stamped[ticketState]{v: v, gen: gen, at: at}, true
	})
	return v, nil
}

// ticket returns the whole ticket st describes, from memory while it is current.
func (s *Service) ticket(ctx context.Context, org *catalog.Organization, ts *tenantState, st ticketState) (Ticket, error) {
	k := ticketKey{t: ts.t, ticket: st.TicketID}
	if e, ok := s.c.tickets.Get(k); ok && s.fresh(ts, e.gen, e.at) {
		return e.v, nil
	}
	gen, at := ts.gen.Load(), s.now()
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Ticket{}, err
	}
	t, err := db.Ticket(ctx, st.TicketID)
	release()
	if err != nil {
		return t, err
	}
	s.c.tickets.Add(k, stamped[Ticket]{v: t, gen: gen, at: at})
	return t, nil
}

// Ticket returns the ticket an actor names: a customer its own (convID is ignored), the owner
// and agents the one of conversation convID that they may see.
func (s *Service) Ticket(ctx context.Context, org *catalog.Organization, a Actor, convID int64) (Ticket, error) {
	ts := s.tenant(org)
	st, err := s.state(ctx, org, ts, key(ts, a, convID))
	if err != nil {
		return Ticket{}, err
	}
	if err := allow(a, opRead, st); err != nil {
		return Ticket{}, err
	}
	return s.ticket(ctx, org, ts, st)
}

// Thread is a ticket with its conversation's latest messages, oldest first.
type Thread struct {
	Ticket   Ticket
	Messages []Message
}

// Thread returns the ticket an actor names (as Ticket does) and up to limit of its latest
// messages.
func (s *Service) Thread(ctx context.Context, org *catalog.Organization, a Actor, convID int64, limit int) (Thread, error) {
	ts := s.tenant(org)
	st, err := s.state(ctx, org, ts, key(ts, a, convID))
	if err != nil {
		return Thread{}, err
	}
	if err := allow(a, opRead, st); err != nil {
		return Thread{}, err
	}
	t, err := s.ticket(ctx, org, ts, st)
	if err != nil {
		return Thread{}, err
	}
	th := Thread{Ticket: t}
	if st.ConversationID == 0 {
		return th, nil
	}
	msgs, err := s.latest(ctx, org, ts, st)
	if err != nil {
		return th, err
	}
	if len(msgs) > limit {
		msgs = msgs[len(msgs)-limit:]
	}
	th.Messages = msgs
	return th, nil
}

// latest returns the conversation's latest messages (up to threadSize), from memory while
// they are current.
func (s *Service) latest(ctx context.Context, org *catalog.Organization, ts *tenantState, st ticketState) ([]Message, error) {
	k := ticketKey{t: ts.t, ticket: st.TicketID}
	if e, ok := s.c.threads.Get(k); ok && s.fresh(ts, e.gen, e.at) {
		if n := len(e.v.msgs); n > 0 && e.v.msgs[n-1].ID >= st.LastMessageID {
			return e.v.msgs, nil
		}
	}
	gen, appends, at := ts.gen.Load(), ts.appends.Load(), s.now()
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return nil, err
	}
	msgs, err := db.LastMessages(ctx, st.ConversationID, threadSize)
	release()
	if err != nil {
		return nil, err
	}
	for i := range msgs {
		msgs[i].TicketID = st.TicketID
	}
	s.c.threads.Update(k, func(old stamped[thread], ok bool) (stamped[thread], bool) {
		if ts.appends.Load() != appends {
			return old, ok
		}
		return stamped[thread]{v: newThread(msgs, len(msgs) < threadSize), gen: gen, at: at}, true
	})
	return msgs, nil
}

// Update is what a poll learns: the ticket's status now, and the messages newer than the
// poll's cursor.
type Update struct {
	Status   string
	Messages []Message
}

// Poll returns what is new on the ticket an actor names since message after. While nothing is
// new it reads no database: the ticket's state comes from memory.
func (s *Service) Poll(ctx context.Context, org *catalog.Organization, a Actor, convID, after int64, limit int) (Update, error) {
	ts := s.tenant(org)
	st, err := s.state(ctx, org, ts, key(ts, a, convID))
	if err != nil {
		return Update{}, err
	}
	if err := allow(a, opRead, st); err != nil {
		return Update{}, err
	}
	u := Update{Status: st.Status}
	if st.ConversationID == 0 || st.LastMessageID <= after {
		return u, nil
	}
	k := ticketKey{t: ts.t, ticket: st.TicketID}
	if e, ok := s.c.threads.Get(k); ok && s.fresh(ts, e.gen, e.at) {
		if msgs, ok := e.v.after(after); ok && (len(msgs) > 0 && msgs[len(msgs)-1].ID >= st.LastMessageID) {
			u.Messages = msgs[:min(len(msgs), limit)]
			return u, nil
		}
	}
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return u, err
	}
	defer release()
	msgs, err := db.Messages(ctx, st.ConversationID, after, limit)
	if err != nil {
		return u, err
	}
	for i := range msgs {
		msgs[i].TicketID = st.TicketID
	}
	u.Messages = msgs
	return u, nil
}

// AddMessage adds body to the conversation of the ticket an actor names, as that actor: the
// sender is decided here, never by the caller. A ticket no agent has engaged yet, or a closed
// one, is a Conflict. Concurrent messages to one tenant share a commit; each is durable when
// AddMessage returns.
func (s *Service) AddMessage(ctx context.Context, org *catalog.Organization, a Actor, convID int64, body string) (Message, error) {
	if err := checkText("message", body); err != nil {
		return Message{}, err
	}
	ts := s.tenant(org)
	st, err := s.state(ctx, org, ts, key(ts, a, convID))
	if err != nil {
		return Message{}, err
	}
	if err := allow(a, opWrite, st); err != nil {
		return Message{}, err
	}
	sender, agentID := SenderCustomer, int64(0)
	if a.Kind == AgentActor {
		sender, agentID = SenderAgent, a.AgentID
	}
	if st.ConversationID == 0 {
		return Message{}, apperr.New(apperr.Conflict, CodeNotEngaged)
	}
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Message{}, err
	}
	defer release()
	return db.AddMessage(ctx, st.TicketID, st.ConversationID, sender, agentID, body, a)
}

// Engage starts the conversation on an open ticket for the acting agent, with the customer's
// question as its first message, and returns the conversation id. Engaging a ticket the same
// agent already engaged returns its conversation; one engaged by another agent is a Conflict
// (CodeEngagedByOther), a closed one too (CodeTicketClosed).
func (s *Service) Engage(ctx context.Context, org *catalog.Organization, a Actor, ticketID int64) (int64, error) {
	if err := mayEngage(a); err != nil {
		return 0, err
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return 0, err
	}
	defer release()
	conv, err := db.Engage(ctx, ticketID, a.AgentID)
	if err != nil {
		return 0, err
	}
	s.changed(ts, Event{Kind: TicketChanged, TicketID: ticketID, ConversationID: conv,
		Changed: ChangedStatus | ChangedAssignee, By: a})
	return conv, nil
}

// CloseTicket closes a ticket the actor may close and returns it. A closed one is a Conflict.
func (s *Service) CloseTicket(ctx context.Context, org *catalog.Organization, a Actor, ticketID int64) (Ticket, error) {
	ts := s.tenant(org)
	st, err := s.stateByTicket(ctx, org, ts, ticketID)
	if err != nil {
		return Ticket{}, err
	}
	if err := allow(a, opClose, st); err != nil {
		return Ticket{}, err
	}
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Ticket{}, err
	}
	err = db.CloseTicket(ctx, ticketID, st.AgentID)
	if err != nil {
		release()
		return Ticket{}, err
	}
	s.changed(ts, Event{Kind: TicketChanged, TicketID: ticketID, ConversationID: st.ConversationID,
		Changed: ChangedStatus, By: a})
	t, err := db.Ticket(ctx, ticketID)
	release()
	return t, err
}

// Rate records the customer's rating (1–5) of its closed ticket, once. Rating an open ticket
// (CodeNotClosed) or rating twice (CodeAlreadyRated) is a Conflict.
func (s *Service) Rate(ctx context.Context, org *catalog.Organization, a Actor, rating int) error {
	ts := s.tenant(org)
	st, err := s.state(ctx, org, ts, key(ts, a, 0))
	if err != nil {
		return err
	}
	if err := allow(a, opRate, st); err != nil {
		return err
	}
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return err
	}
	defer release()
	if err := db.Rate(ctx, st.TicketID, rating); err != nil {
		return err
	}
	s.changed(ts, Event{Kind: TicketChanged, TicketID: st.TicketID, ConversationID: st.ConversationID,
		Changed: ChangedRating, By: a})
	return nil
}

// ListQuery selects a dashboard list: the tickets in one status ("" for all), or the acting
// agent's own (Mine), newest first, at most Limit.
type ListQuery struct {
	Status string
	Mine   bool
	Limit  int
}

// Tickets lists tickets for a dashboard: the owner any list, an agent the waiting tickets
// and its own.
func (s *Service) Tickets(ctx context.Context, org *catalog.Organization, a Actor, q ListQuery) ([]Ticket, error) {
	if err := mayList(a); err != nil {
		return nil, err
	}
	if (q.Mine && a.Kind != AgentActor) || (a.Kind == AgentActor && !q.Mine && q.Status != StatusOpen) {
		return nil, apperr.New(apperr.Forbidden, CodeForbidden)
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	if q.Mine {
		return db.AgentTickets(ctx, a.AgentID, q.Limit)
	}
	return db.Tickets(ctx, q.Status, q.Limit)
}

// Counts returns the organization's ticket counts.
func (s *Service) Counts(ctx context.Context, org *catalog.Organization, a Actor) (TicketCounts, error) {
	if err := mayList(a); err != nil {
		return TicketCounts{}, err
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return TicketCounts{}, err
	}
	defer release()
	return db.Counts(ctx)
}

// Version returns a value that changes whenever anything a dashboard shows (ticket lists,
// counts) may have changed, so that a dashboard's poll can skip rendering what it has. It
// reads no database.
func (s *Service) Version(org *catalog.Organization) uint64 {
	ts := s.tenant(org)
	s.use(ts)
	return ts.gen.Load()
}
