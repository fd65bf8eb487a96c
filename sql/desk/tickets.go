package desk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// NewTicket is what a customer gives when opening a ticket.
type NewTicket struct {
	CustomerName, CustomerEmail, Query string
}

// OpenTicket records a customer's question — its contact, the ticket, and the conversation
// with the question as its first message — and returns the ticket and the customer's private
// token: 256 random bits that alone open the ticket's page. Only its hash is stored, so this
// is the one moment it exists in clear. Anyone may open a ticket (the Public actor), and so may
// the team through an API token, on a customer's behalf.
func (s *Service) OpenTicket(ctx context.Context, org *catalog.Organization, a Actor, in NewTicket) (Ticket, string, error) {
	if a.Kind != Public && a.Kind != System && !a.viaAPI() {
		return Ticket{}, "", apperr.New(apperr.Forbidden, CodeForbidden)
	}
	for _, f := range [...]struct{ field, v string }{{"customer_name", in.CustomerName},
		{"customer_email", in.CustomerEmail}, {"query", in.Query}} {
		if err := checkText(f.field, f.v); err != nil {
			return Ticket{}, "", err
		}
	}
	settings, err := s.Settings(ctx, org)
	if err != nil {
		return Ticket{}, "", err
	}
	ts := s.tenant(org)
	st, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Ticket{}, "", err
	}
	defer release()
	token := newToken()
	h := sha256.Sum256([]byte(token))
	kick := false
	l := settings.levels()
	t, err := st.openTicket(ctx, in.CustomerName, in.CustomerEmail, in.Query, h[:], func(tx *sql.Tx, t Ticket, first Message) error {
		if l.any() {
			at, err := refreshDue(ctx, tx, l, t.ID)
			if err != nil {
				return err
			}
			if at != 0 {
				s.wakeAt(ctx, org, breachWake(at))
			}
		}
		var err error
		kick, err = s.produce(ctx, tx, org, ts, change{Event: Event{Kind: TicketChanged, TicketID: t.ID,
			ConversationID: t.ConversationID, MessageID: first.ID, Sender: SenderCustomer, Changed: ChangedCreated, By: a},
			Now: first.CreatedAt, Message: &first})
		return err
	})
	if err != nil {
		return Ticket{}, "", err
	}
	s.changed(ts, Event{Kind: TicketChanged, TicketID: t.ID, ConversationID: t.ConversationID, Changed: ChangedCreated, By: a})
	if kick {
		s.kickOutbox(org)
	}
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
	if a.Kind == Customer && a.ticket != 0 {
		return indexKey{t: ts.t, ticket: a.ticket}
	}
	if a.Kind == Customer {
		return indexKey{t: ts.t, token: a.token}
	}
	return indexKey{t: ts.t, conv: convID}
}

// state returns the state of the ticket k names, from memory while it is current, else by one
// indexed query. A ticket that does not exist is NotFound.
func (s *Service) state(ctx context.Context, org *catalog.Organization, ts *tenantState, k indexKey) (ticketState, error) {
	if k.ticket != 0 {
		return s.stateByTicket(ctx, org, ts, k.ticket)
	}
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
		return v, err
	}
	if k != (indexKey{}) {
		s.c.index.Add(k, v.TicketID)
	}
	s.c.index.Add(indexKey{t: ts.t, conv: v.ConversationID}, v.TicketID)
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

// Ticket returns the ticket an actor names: a customer its own (convID is ignored), the team
// the one of conversation convID.
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

// TicketByID returns ticket id for the team.
func (s *Service) TicketByID(ctx context.Context, org *catalog.Organization, a Actor, id int64) (Ticket, error) {
	ts := s.tenant(org)
	st, err := s.stateByTicket(ctx, org, ts, id)
	if err != nil {
		return Ticket{}, err
	}
	if err := allow(a, opNote, st); err != nil {
		return Ticket{}, err
	}
	return s.ticket(ctx, org, ts, st)
}

// Thread is a ticket with its conversation's latest messages, oldest first: for the customer
// only those it sees, for the team notes and activity lines too. May says what the actor may
// do with it.
type Thread struct {
	Ticket   Ticket
	Messages []Message
	May      May
}

// May says what an actor may do with a ticket, for the page to offer.
type May struct {
	// Write: write to the customer (for the team: on its own or an unassigned ticket, or as an
	// admin). Note: add notes, see presence. Change: status, priority, tags. Assign: take it
	// or assign it. Rate: rate it (the customer, once closed).
	Write, Note, Change, Assign, Rate bool
}

func mayOn(a Actor, st ticketState) May {
	return May{Write: allow(a, opWrite, st) == nil, Note: allow(a, opNote, st) == nil,
		Change: allow(a, opChange, st) == nil, Assign: allow(a, opAssign, st) == nil, Rate: allow(a, opRate, st) == nil}
}

// Thread returns the ticket an actor names (as Ticket does) and up to limit of its latest
// messages the actor sees.
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
	msgs, err := s.latest(ctx, org, ts, st)
	if err != nil {
		return Thread{}, err
	}
	if a.Kind == Customer {
		msgs = public(msgs)
	}
	if len(msgs) > limit {
		msgs = msgs[len(msgs)-limit:]
	}
	return Thread{Ticket: t, Messages: msgs, May: mayOn(a, st)}, nil
}

// public returns the messages the customer sees (a new slice; the cached one is shared).
func public(msgs []Message) []Message {
	out := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		if m.Public() {
			out = append(out, m)
		}
	}
	return out
}

// latest returns the conversation's latest messages of every kind (up to threadSize), from
// memory while they are current. The slice is shared: never modify it.
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
	msgs, err := db.LastMessages(ctx, st.TicketID, st.ConversationID, threadSize)
	release()
	if err != nil {
		return nil, err
	}
	s.c.threads.Update(k, func(old stamped[thread], ok bool) (stamped[thread], bool) {
		if ts.appends.Load() != appends {
			return old, ok
		}
		return stamped[thread]{v: newThread(msgs, len(msgs) < threadSize), gen: gen, at: at}, true
	})
	return msgs, nil
}

// Update is what a poll learns: the ticket's status and assignee now, and the messages newer
// than the poll's cursor that the actor sees.
type Update struct {
	Status     string
	AssigneeID int64
	Messages   []Message
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
	u := Update{Status: st.Status, AssigneeID: st.AssigneeID}
	pub := a.Kind == Customer
	last := st.LastMessageID
	if pub {
		last = st.LastPublicID
	}
	if last <= after {
		return u, nil
	}
	k := ticketKey{t: ts.t, ticket: st.TicketID}
	if e, ok := s.c.threads.Get(k); ok && s.fresh(ts, e.gen, e.at) {
		if msgs, ok := e.v.after(after); ok && len(msgs) > 0 && msgs[len(msgs)-1].ID >= st.LastMessageID {
			if pub {
				msgs = public(msgs)
			}
			u.Messages = msgs[:min(len(msgs), limit)]
			return u, nil
		}
	}
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return u, err
	}
	defer release()
	u.Messages, err = db.Messages(ctx, st.TicketID, st.ConversationID, after, pub, limit)
	return u, err
}

// AddMessage adds body to the conversation of the ticket an actor names, as that actor: the
// sender is decided here, never by the caller. The customer's message reopens a pending or
// snoozed ticket; an agent's answer on an unassigned ticket takes it. A closed ticket is a
// Conflict (CodeTicketClosed). Concurrent messages to one tenant share a commit; each is
// durable when AddMessage returns.
func (s *Service) AddMessage(ctx context.Context, org *catalog.Organization, a Actor, convID int64, body string) (Message, error) {
	if err := checkText("message", body); err != nil {
		return Message{}, err
	}
	return s.addMessage(ctx, org, a, convID, body, nil)
}

// addMessage stores a message, with up's files when up is not nil (AddMessageWithFiles).
func (s *Service) addMessage(ctx context.Context, org *catalog.Organization, a Actor, convID int64, body string, up *Upload) (Message, error) {
	ts := s.tenant(org)
	st, err := s.state(ctx, org, ts, key(ts, a, convID))
	if err != nil {
		return Message{}, err
	}
	if err := allow(a, opWrite, st); err != nil {
		return Message{}, err
	}
	settings, err := s.Settings(ctx, org)
	if err != nil {
		return Message{}, err
	}
	l := settings.levels()
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Message{}, err
	}
	defer release()
	now := stamp(s.now)
	// due refreshes the ticket's due times when the organization has targets.
	due := func(ctx context.Context, tx querier, id int64) error {
		if !l.any() {
			return nil
		}
		at, err := refreshDue(ctx, tx, l, id)
		if at != 0 {
			s.wakeAt(ctx, org, breachWake(at))
		}
		return err
	}
	var kick atomic.Bool
	m, err := db.write(ctx, a, func(ctx context.Context, tx querier) (Message, bool, error) {
		m, changed, act, err := storeMessage(ctx, tx, db, a, st, body, up, now, due, false)
		if err != nil {
			return m, changed, err
		}
		ev := Event{Kind: MessageAdded, TicketID: m.TicketID, ConversationID: m.ConversationID, MessageID: m.ID,
			Sender: m.Sender, By: a}
		if act != nil {
			ev.Changed = ChangedStatus | ChangedAssignee
		}
		k, err := s.produce(ctx, tx, org, ts, change{Event: ev, Now: now, Message: &m, Activity: act})
		kick.Store(kick.Load() || k)
		return m, changed, err
	})
	if err == nil && kick.Load() {
		s.kickOutbox(org)
	}
	return m, err
}

// storeMessage stores the message of addMessage (with up's files when up is not nil) in tx,
// with the changes it brings (a customer's reopens a pending or snoozed ticket, unless quiet:
// automatic mail; an agent's takes an unassigned one, and the first agent's answers it: due
// refreshes the due times then), and returns it, whether the ticket changed too, and the
// activity line of that change.
func storeMessage(ctx context.Context, tx querier, db *store, a Actor, st ticketState, body string, up *Upload, now time.Time,
	due func(ctx context.Context, tx querier, id int64) error, quiet bool) (Message, bool, *Activity, error) {
	var act *Activity
	m, changed, err := func() (Message, bool, error) {
		cur, err := db.poll(ctx, tx, "AddMessage", "WHERE t.id = ?", st.TicketID)
		if err != nil {
			return Message{}, false, err
		}
		if cur.Status == StatusClosed {
			return Message{}, false, apperr.New(apperr.Conflict, CodeTicketClosed)
		}
		if up != nil && up.st.TicketID != cur.TicketID {
			return Message{}, false, apperr.New(apperr.Forbidden, CodeForbidden)
		}
		m := Message{TicketID: cur.TicketID, ConversationID: cur.ConversationID, Body: body, CreatedAt: now}
		changed := false
		if a.Kind == Customer {
			m.Sender = SenderCustomer
			if m, err = insertMessage(ctx, tx, m); err != nil {
				return m, false, err
			}
			if up != nil {
				if m.Files, err = up.link(ctx, tx, m.ID); err != nil {
					return Message{}, false, err
				}
			}
			if !quiet && (cur.Status == StatusPending || cur.Status == StatusSnoozed) {
				changed = true
				if _, err := tx.ExecContext(ctx, `UPDATE tickets SET status = 'open', snooze_until = NULL,
					waiting_since = COALESCE(waiting_since, ?1), updated_at = ?1, `+resumeSQL+` WHERE id = ?2`, now.Unix(), cur.TicketID); err != nil {
					return m, false, err
				}
				act = &Activity{Kind: "status", ByCustomer: true, To: StatusOpen, From: cur.Status}
				if _, err = insertMessage(ctx, tx, activity(cur, now, *act)); err != nil {
					return m, false, err
				}
				return m, changed, due(ctx, tx, cur.TicketID)
			}
			_, err = tx.ExecContext(ctx, `UPDATE tickets SET waiting_since = COALESCE(waiting_since, ?), updated_at = ? WHERE id = ?`,
				now.Unix(), now.Unix(), cur.TicketID)
			return m, false, err
		}
		// The team: the rule again, on the row as it is now (someone may have taken the
		// ticket since the state was read).
		if err := allow(a, opWrite, cur); err != nil {
			return Message{}, false, err
		}
		if a.Kind == AgentActor && cur.AssigneeID == 0 {
			changed = true
			if _, err := tx.ExecContext(ctx, "UPDATE tickets SET assignee_id = ? WHERE id = ?", a.AgentID, cur.TicketID); err != nil {
				return Message{}, false, err
			}
			act = &Activity{Kind: "assigned", By: a.Name, To: a.Name}
			if _, err := insertMessage(ctx, tx, activity(cur, now, *act)); err != nil {
				return Message{}, false, err
			}
		}
		m.Sender, m.AgentID, m.AgentName = SenderAgent, a.AgentID, a.Name
		if m, err = insertMessage(ctx, tx, m); err != nil {
			return m, false, err
		}
		if up != nil {
			if m.Files, err = up.link(ctx, tx, m.ID); err != nil {
				return Message{}, false, err
			}
		}
		// The first answer: the first response is made (its time recorded for the reports,
		// its due time met).
		res, err := tx.ExecContext(ctx, "UPDATE tickets SET first_reply_at = ? WHERE id = ? AND first_reply_at IS NULL", now.Unix(), cur.TicketID)
		if err != nil {
			return m, false, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			changed = true
			if err := due(ctx, tx, cur.TicketID); err != nil {
				return m, false, err
			}
		}
		_, err = tx.ExecContext(ctx, "UPDATE tickets SET waiting_since = NULL, updated_at = ? WHERE id = ?", now.Unix(), cur.TicketID)
		return m, changed, err
	}()
	return m, changed, act, err
}

// activity is an activity line on st's conversation.
func activity(st ticketState, at time.Time, act Activity) Message {
	return Message{TicketID: st.TicketID, ConversationID: st.ConversationID, Sender: SenderActivity, Activity: &act, CreatedAt: at}
}

// AddNote adds an internal note to the conversation convID, as the acting agent or owner.
// Agents it mentions by handle ("@maria" for maria@example.com) find the ticket in their
// Mentions view.
func (s *Service) AddNote(ctx context.Context, org *catalog.Organization, a Actor, convID int64, body string) (Message, error) {
	if err := checkText("note", body); err != nil {
		return Message{}, err
	}
	ts := s.tenant(org)
	st, err := s.state(ctx, org, ts, key(ts, a, convID))
	if err != nil {
		return Message{}, err
	}
	if err := allow(a, opNote, st); err != nil {
		return Message{}, err
	}
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Message{}, err
	}
	defer release()
	agents, err := db.Agents(ctx, 1000)
	if err != nil {
		return Message{}, err
	}
	mentioned := mentions(body, agents)
	now := stamp(s.now)
	var kick atomic.Bool
	m, err := db.write(ctx, a, func(ctx context.Context, tx querier) (Message, bool, error) {
		m, err := insertMessage(ctx, tx, Message{TicketID: st.TicketID, ConversationID: st.ConversationID,
			Sender: SenderNote, AgentID: a.AgentID, AgentName: a.Name, Body: body, CreatedAt: now})
		if err != nil {
			return m, false, err
		}
		for _, id := range mentioned {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mentions (message_id, agent_id, ticket_id, created_at)
				VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, m.ID, id, st.TicketID, now.Unix()); err != nil {
				return m, false, err
			}
		}
		k, err := s.produce(ctx, tx, org, ts, change{Event: Event{Kind: MessageAdded, TicketID: m.TicketID,
			ConversationID: m.ConversationID, MessageID: m.ID, Sender: m.Sender, By: a}, Now: now, Message: &m, Mentioned: mentioned})
		if err != nil {
			return m, false, err
		}
		kick.Store(kick.Load() || k)
		// A mention changes the mentioned agents' Mentions view: a new generation.
		return m, len(mentioned) > 0, nil
	})
	if err == nil && kick.Load() {
		s.kickOutbox(org)
	}
	return m, err
}

// mentions returns the ids of the agents body mentions by handle ("@maria"), removed ones
// aside, each once.
func mentions(body string, agents []Agent) []int64 {
	var out []int64
	for i := 0; i < len(body); i++ {
		if body[i] != '@' || (i > 0 && isHandleRune(rune(body[i-1]))) {
			continue
		}
		j := i + 1
		for j < len(body) && isHandleRune(rune(body[j])) {
			j++
		}
		handle := strings.ToLower(strings.TrimRight(body[i+1:j], "."))
		for _, a := range agents {
			if handle != "" && !a.Removed() && strings.ToLower(a.Handle()) == handle && !slices.Contains(out, a.ID) {
				out = append(out, a.ID)
			}
		}
	}
	return out
}

func isHandleRune(r rune) bool {
	return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._+-", r))
}

// Take assigns a ticket to the acting agent (the seed's "engage") and returns its
// conversation. Taking one's own ticket again is no change; a ticket assigned to someone else
// is Forbidden (CodeAssignedToOther) unless the actor is an admin.
func (s *Service) Take(ctx context.Context, org *catalog.Organization, a Actor, ticketID int64) (int64, error) {
	if a.Kind != AgentActor {
		return 0, apperr.New(apperr.Forbidden, CodeForbidden)
	}
	st, err := s.assign(ctx, org, a, ticketID, a.AgentID, opTake)
	return st.ConversationID, err
}

// Assign assigns a ticket to agent agentID (0: nobody). Any agent assigns an unassigned ticket
// or its own; changing someone else's assignment needs the admin role. The agent must be one
// of the organization's, not removed.
func (s *Service) Assign(ctx context.Context, org *catalog.Organization, a Actor, ticketID, agentID int64) error {
	_, err := s.assign(ctx, org, a, ticketID, agentID, opAssign)
	return err
}

func (s *Service) assign(ctx context.Context, org *catalog.Organization, a Actor, ticketID, agentID int64, o op) (ticketState, error) {
	return s.changeTicket(ctx, org, a, ticketID, o, ChangedAssignee, func(tx *sql.Tx, db *store, cur ticketState, now time.Time) (*Activity, error) {
		if cur.AssigneeID == agentID {
			return nil, nil
		}
		var to, from string
		if agentID != 0 {
			ag, err := db.agent(ctx, tx, "Assign", "id = ?", agentID)
			if apperr.Is(err, apperr.NotFound) {
				return nil, apperr.Field(apperr.Invalid, "agent_id", apperr.CodeInvalid)
			}
			if err != nil {
				return nil, err
			}
			if ag.Removed() {
				return nil, apperr.Field(apperr.Invalid, "agent_id", CodeAgentRemoved)
			}
			to = ag.FullName
		}
		if cur.AssigneeID != 0 {
			prev, err := db.agent(ctx, tx, "Assign", "id = ?", cur.AssigneeID)
			if err != nil {
				return nil, err
			}
			from = prev.FullName
		}
		var assignee any
		if agentID != 0 {
			assignee = agentID
		}
		if _, err := tx.ExecContext(ctx, "UPDATE tickets SET assignee_id = ?, updated_at = ? WHERE id = ?", assignee, now.Unix(), cur.TicketID); err != nil {
			return nil, err
		}
		// Taking an unassigned ticket for oneself is the daily work; everything else moves a
		// ticket between people and is audited.
		if cur.AssigneeID != 0 || agentID != a.AgentID || a.Kind != AgentActor {
			if err := writeAudit(ctx, tx, now, a, audit{event: AuditTicketReassigned, targetKind: TargetTicket,
				targetID: cur.TicketID, detail: map[string]string{"from": from, "to": to}}); err != nil {
				return nil, err
			}
		}
		return &Activity{Kind: "assigned", By: a.Name, To: to, From: from}, nil
	})
}

// SetStatus changes a ticket's status: open, pending, snoozed (until, which must be in the
// future) or closed. Closing records when; the customer may then rate.
func (s *Service) SetStatus(ctx context.Context, org *catalog.Organization, a Actor, ticketID int64, status string, until time.Time) error {
	if !ValidStatus(status) {
		return apperr.Field(apperr.Invalid, "status", apperr.CodeInvalid)
	}
	if status == StatusSnoozed {
		if until.IsZero() {
			return apperr.Field(apperr.Invalid, "snooze_until", apperr.CodeRequired)
		}
		if !until.After(s.now()) {
			return apperr.Field(apperr.Invalid, "snooze_until", CodeSnoozeInPast)
		}
		// Recorded before the snooze commits, so a crash in between leaves an early wake-up
		// (which finds nothing to do), never a missing one.
		s.wakeAt(ctx, org, until)
	}
	_, err := s.changeTicket(ctx, org, a, ticketID, opChange, ChangedStatus, func(tx *sql.Tx, db *store, cur ticketState, now time.Time) (*Activity, error) {
		if cur.Status == status && status != StatusSnoozed {
			return nil, nil
		}
		var snooze, closed any
		if status == StatusSnoozed {
			snooze = until.Unix()
		}
		if status == StatusClosed {
			closed = now.Unix()
		}
		clock := resumeSQL
		if pauses(status) {
			clock = pauseSQL
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tickets SET status = ?2, snooze_until = ?3,
			closed_at = CASE WHEN ?4 IS NULL THEN closed_at ELSE ?4 END, updated_at = ?1, `+clock+` WHERE id = ?5`,
			now.Unix(), status, snooze, closed, cur.TicketID); err != nil {
			return nil, err
		}
		act := &Activity{Kind: "status", By: a.Name, To: status, From: cur.Status}
		if status == StatusSnoozed {
			act.Until = until.Unix()
		}
		return act, nil
	})
	return err
}

// CloseTicket closes a ticket and returns it.
func (s *Service) CloseTicket(ctx context.Context, org *catalog.Organization, a Actor, ticketID int64) (Ticket, error) {
	if err := s.SetStatus(ctx, org, a, ticketID, StatusClosed, time.Time{}); err != nil {
		return Ticket{}, err
	}
	return s.TicketByID(ctx, org, a, ticketID)
}

// SetPriority changes a ticket's priority.
func (s *Service) SetPriority(ctx context.Context, org *catalog.Organization, a Actor, ticketID int64, p Priority) error {
	if p < PriorityLow || p > PriorityUrgent {
		return apperr.Field(apperr.Invalid, "priority", apperr.CodeInvalid)
	}
	_, err := s.changeTicket(ctx, org, a, ticketID, opChange, ChangedPriority, func(tx *sql.Tx, db *store, cur ticketState, now time.Time) (*Activity, error) {
		var old Priority
		if err := tx.QueryRowContext(ctx, "SELECT priority FROM tickets WHERE id = ?", cur.TicketID).Scan(&old); err != nil {
			return nil, err
		}
		if old == p {
			return nil, nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE tickets SET priority = ?, updated_at = ? WHERE id = ?", int(p), now.Unix(), cur.TicketID); err != nil {
			return nil, err
		}
		return &Activity{Kind: "priority", By: a.Name, To: p.String(), From: old.String()}, nil
	})
	return err
}

// NormalizeTags cleans tags as a person typed them: trimmed, lower case, empty ones and
// duplicates dropped, sorted. More than MaxTags, or one longer than MaxTagLength or holding a
// comma, control or format character, is Invalid.
func NormalizeTags(raw []string) ([]string, error) {
	var out []string
	for _, t := range raw {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			continue
		}
		if !utf8.ValidString(t) || utf8.RuneCountInString(t) > MaxTagLength ||
			strings.IndexFunc(t, func(r rune) bool { return r == ',' || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
			return nil, apperr.Field(apperr.Invalid, "tags", apperr.CodeInvalid)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, apperr.Field(apperr.Invalid, "tags", CodeTooManyTags)
	}
	slices.Sort(out)
	return out, nil
}

// SetTags replaces a ticket's tags (normalised by NormalizeTags).
func (s *Service) SetTags(ctx context.Context, org *catalog.Organization, a Actor, ticketID int64, tags []string) error {
	tags, err := NormalizeTags(tags)
	if err != nil {
		return err
	}
	_, err = s.changeTicket(ctx, org, a, ticketID, opChange, ChangedTags, func(tx *sql.Tx, db *store, cur ticketState, now time.Time) (*Activity, error) {
		old, err := ticketTags(ctx, tx, cur.TicketID)
		if err != nil {
			return nil, err
		}
		var added, removed []string
		for _, t := range tags {
			if !slices.Contains(old, t) {
				added = append(added, t)
			}
		}
		for _, t := range old {
			if !slices.Contains(tags, t) {
				removed = append(removed, t)
			}
		}
		if len(added) == 0 && len(removed) == 0 {
			return nil, nil
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM ticket_tags WHERE ticket_id = ?", cur.TicketID); err != nil {
			return nil, err
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, "INSERT INTO ticket_tags (ticket_id, tag) VALUES (?, ?)", cur.TicketID, t); err != nil {
				return nil, err
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE tickets SET updated_at = ? WHERE id = ?", now.Unix(), cur.TicketID); err != nil {
			return nil, err
		}
		return &Activity{Kind: "tags", By: a.Name, Added: added, Removed: removed}, nil
	})
	return err
}

func ticketTags(ctx context.Context, q querier, ticketID int64) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT CAST(tag AS BLOB) FROM ticket_tags WHERE ticket_id = ? ORDER BY tag", ticketID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// changeTicket is an actor's change to one ticket: the rule for o, then apply in a
// transaction on the ticket as it is now (its state re-read, and the rule checked again); the
// activity line it returns (nil: nothing changed) joins the conversation, a status or priority
// change moves its due times, and a new generation starts.
func (s *Service) changeTicket(ctx context.Context, org *catalog.Organization, a Actor, ticketID int64, o op, what Change,
	apply func(tx *sql.Tx, db *store, cur ticketState, now time.Time) (*Activity, error)) (ticketState, error) {
	ts := s.tenant(org)
	st, err := s.stateByTicket(ctx, org, ts, ticketID)
	if err != nil {
		return st, err
	}
	if err := allow(a, o, st); err != nil {
		return st, err
	}
	settings, err := s.Settings(ctx, org)
	if err != nil {
		return st, err
	}
	l := settings.levels()
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return st, err
	}
	defer release()
	now := stamp(s.now)
	changed, kick := false, false
	err = db.inTx(ctx, "changeTicket", func(tx *sql.Tx) error {
		kick = false
		cur, err := db.poll(ctx, tx, "changeTicket", "WHERE t.id = ?", ticketID)
		if err != nil {
			return err
		}
		if err := allow(a, o, cur); err != nil {
			return err
		}
		st = cur
		act, err := apply(tx, db, cur, now)
		if err != nil || act == nil {
			return err
		}
		changed = true
		line, err := insertMessage(ctx, tx, activity(cur, now, *act))
		if err != nil {
			return err
		}
		if what&(ChangedStatus|ChangedPriority) != 0 && l.any() {
			at, err := refreshDue(ctx, tx, l, cur.TicketID)
			if err != nil {
				return err
			}
			if at != 0 {
				s.wakeAt(ctx, org, breachWake(at))
			}
		}
		kick, err = s.produce(ctx, tx, org, ts, change{Event: Event{Kind: TicketChanged, TicketID: cur.TicketID,
			ConversationID: cur.ConversationID, Changed: what, By: a}, Now: now, Activity: act, ActivityID: line.ID})
		return err
	})
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return st, notFound(CodeTicketNotFound)
		}
		return st, err
	}
	if changed {
		ts.appends.Add(1)
		s.changed(ts, Event{Kind: TicketChanged, TicketID: st.TicketID, ConversationID: st.ConversationID, Changed: what, By: a})
	}
	if kick {
		s.kickOutbox(org)
	}
	return st, nil
}

// Rate records the customer's rating (1–5) of its closed ticket, with an optional comment
// (at most MaxRatingComment characters; "" for none), once. Rating an open ticket
// (CodeNotClosed) or rating twice (CodeAlreadyRated) is a Conflict.
func (s *Service) Rate(ctx context.Context, org *catalog.Organization, a Actor, rating int, comment string) error {
	if rating < 1 || rating > 5 {
		return apperr.Field(apperr.Invalid, "rating", apperr.CodeInvalid)
	}
	var note any
	if strings.TrimSpace(comment) != "" {
		if err := checkText("comment", comment); err != nil {
			return err
		}
		if utf8.RuneCountInString(comment) > MaxRatingComment {
			return apperr.Field(apperr.Invalid, "comment", CodeCommentTooLong)
		}
		note = comment
	}
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
	now := stamp(s.now)
	rated, kick := false, false
	err = db.inTx(ctx, "Rate", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tickets SET rating = ?, rating_comment = ?, rated_at = ?, updated_at = ?
			WHERE id = ? AND status = 'closed' AND rating IS NULL`, rating, note, now.Unix(), now.Unix(), st.TicketID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		rated = true
		kick, err = s.produce(ctx, tx, org, ts, change{Event: Event{Kind: TicketChanged, TicketID: st.TicketID,
			ConversationID: st.ConversationID, Changed: ChangedRating, By: a}, Now: now})
		return err
	})
	if err != nil {
		return err
	}
	if kick {
		defer s.kickOutbox(org)
	}
	if !rated {
		t, err := db.Ticket(ctx, st.TicketID)
		if err != nil {
			return err
		}
		if t.Status != StatusClosed {
			return apperr.New(apperr.Conflict, CodeNotClosed)
		}
		return apperr.New(apperr.Conflict, CodeAlreadyRated)
	}
	s.changed(ts, Event{Kind: TicketChanged, TicketID: st.TicketID, ConversationID: st.ConversationID,
		Changed: ChangedRating, By: a})
	return nil
}

// Queue lists one queue view (see QueueQuery) for the acting member of the team.
func (s *Service) Queue(ctx context.Context, org *catalog.Organization, a Actor, q QueueQuery) ([]Ticket, error) {
	if err := mayWork(a); err != nil {
		return nil, err
	}
	if !slices.Contains(Views, q.View) {
		return nil, apperr.Field(apperr.Invalid, "view", apperr.CodeInvalid)
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	return db.Queue(ctx, a.AgentID, s.now(), q)
}

// Counts returns the number of tickets in every queue view (Mine and Mentions the acting
// agent's) and the ratings given.
func (s *Service) Counts(ctx context.Context, org *catalog.Organization, a Actor) (Counts, error) {
	if err := mayWork(a); err != nil {
		return Counts{}, err
	}
	ts := s.tenant(org)
	k := countsKey{t: ts.t, agent: a.AgentID}
	if e, ok := s.c.counts.Get(k); ok && s.fresh(ts, e.gen, e.at) && e.appends == ts.appends.Load() {
		return e.v, nil
	}
	gen, appends, at := ts.gen.Load(), ts.appends.Load(), s.now()
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Counts{}, err
	}
	defer release()
	c, err := db.Counts(ctx, a.AgentID, s.now())
	if err != nil {
		return c, err
	}
	s.c.counts.Add(k, countsEntry{v: c, gen: gen, appends: appends, at: at})
	return c, nil
}

// Version returns a value that changes whenever anything a dashboard shows (queues, counts)
// may have changed, so that a dashboard's poll can skip rendering what it has. It reads no
// database. Messages count too: they move a ticket's waiting time, which queues show and sort
// by. (Both counters only grow, so their sum changes whenever either does.)
func (s *Service) Version(org *catalog.Organization) uint64 {
	ts := s.tenant(org)
	s.use(ts)
	return ts.gen.Load() + ts.appends.Load()
}

// Contact returns a contact and its tickets, newest first, for the team.
func (s *Service) Contact(ctx context.Context, org *catalog.Organization, a Actor, contactID int64, limit int) (Contact, []Ticket, error) {
	if err := mayWork(a); err != nil {
		return Contact{}, nil, apperr.New(apperr.NotFound, CodeContactNotFound)
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return Contact{}, nil, err
	}
	defer release()
	c, err := db.Contact(ctx, contactID)
	if err != nil {
		return c, nil, err
	}
	ts, err := db.ContactTickets(ctx, contactID, limit)
	return c, ts, err
}
