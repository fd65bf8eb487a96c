package desk

// The SQL of one tenant database: the statements the Service runs, on a store that wraps the
// tenant's *sql.DB for one call. Rules (who may do what), caches and change events live in the
// Service; a store only reads and writes rows, and reports outcomes as apperr kinds and codes.
// Text columns are read CAST(… AS BLOB): go-libsql turns date-like text into time.Time
// otherwise.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// store reads and writes one tenant database.
type store struct {
	db  *sql.DB
	now func() time.Time
	// adds batches concurrent message writes on this tenant into one commit
	// (groupcommit.go); it outlives the store, which is made per call.
	adds *groupCommit
}

// newStore returns a store on a migrated tenant database, for tests and tools that need no
// Service (group commit included).
func newStore(db *sql.DB) *store { return &store{db: db, now: time.Now, adds: new(groupCommit)} }

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func unix(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

func unixOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}

func notFound(code apperr.Code) error { return apperr.New(apperr.NotFound, code) }

// stamp is the time a row is stored with: whole seconds, as the columns hold.
func stamp(now func() time.Time) time.Time { return now().UTC().Truncate(time.Second) }

// inTx runs fn in a transaction on s.db.
func (s *store) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("desk.%s: %w", op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		if _, ok := apperr.As(err); ok {
			return err
		}
		return fmt.Errorf("desk.%s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("desk.%s: %w", op, err)
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// Agents

// CreateAgent adds an agent. A taken email is a Conflict (CodeTaken) on the email field.
func (s *store) CreateAgent(ctx context.Context, fullName, email, passwordHash string) (Agent, error) {
	return s.createAgent(ctx, s.db, fullName, email, passwordHash)
}

func (s *store) createAgent(ctx context.Context, q querier, fullName, email, passwordHash string) (Agent, error) {
	now := stamp(s.now)
	// ON CONFLICT DO NOTHING reports the taken email as "no row", without parsing error text.
	var id int64
	err := q.QueryRowContext(ctx, `INSERT INTO agents (full_name, email, password_hash,
		must_change_password, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)
		ON CONFLICT (email) DO NOTHING RETURNING id`,
		fullName, email, passwordHash, now.Unix(), now.Unix()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Agent{}, apperr.Field(apperr.Conflict, "email", apperr.CodeTaken)
	}
	if err != nil {
		return Agent{}, fmt.Errorf("desk.CreateAgent: %w", err)
	}
	return Agent{ID: id, FullName: fullName, Email: email, PasswordHash: passwordHash, MustChangePassword: true,
		Role: RoleAgent, CreatedAt: now, UpdatedAt: now}, nil
}

const agentColumns = `id, CAST(full_name AS BLOB), CAST(email AS BLOB), CAST(password_hash AS BLOB),
	must_change_password, CAST(role AS BLOB), created_at, updated_at`

func scanAgent(row interface{ Scan(...any) error }) (Agent, error) {
	var a Agent
	var created, updated int64
	err := row.Scan(&a.ID, &a.FullName, &a.Email, &a.PasswordHash, &a.MustChangePassword, &a.Role, &created, &updated)
	a.CreatedAt, a.UpdatedAt = unix(created), unix(updated)
	return a, err
}

func (s *store) agent(ctx context.Context, q querier, op, where string, arg any) (Agent, error) {
	a, err := scanAgent(q.QueryRowContext(ctx, "SELECT "+agentColumns+" FROM agents WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Agent{}, notFound(CodeAgentNotFound)
	}
	if err != nil {
		return Agent{}, fmt.Errorf("desk.%s: %w", op, err)
	}
	return a, nil
}

// Agent returns the agent with this id, or NotFound.
func (s *store) Agent(ctx context.Context, id int64) (Agent, error) {
	return s.agent(ctx, s.db, "Agent", "id = ?", id)
}

// AgentByEmail returns the agent with this (lower-case) email, or NotFound.
func (s *store) AgentByEmail(ctx context.Context, email string) (Agent, error) {
	return s.agent(ctx, s.db, "AgentByEmail", "email = ?", email)
}

// Agents lists the organization's agents, oldest first.
func (s *store) Agents(ctx context.Context, limit int) ([]Agent, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+agentColumns+" FROM agents ORDER BY id LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("desk.Agents: %w", err)
	}
	defer rows.Close()
	var out []Agent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, fmt.Errorf("desk.Agents: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetAgentPassword replaces an agent's password hash and clears the must-change flag.
func (s *store) SetAgentPassword(ctx context.Context, q querier, id int64, passwordHash string) error {
	res, err := q.ExecContext(ctx, `UPDATE agents SET password_hash = ?, must_change_password = 0,
		updated_at = ? WHERE id = ?`, passwordHash, s.now().Unix(), id)
	if err != nil {
		return fmt.Errorf("desk.SetAgentPassword: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(CodeAgentNotFound)
	}
	return nil
}

// SetRole changes an agent's role.
func (s *store) SetRole(ctx context.Context, q querier, id int64, role string) error {
	res, err := q.ExecContext(ctx, "UPDATE agents SET role = ? WHERE id = ?", role, id)
	if err != nil {
		return fmt.Errorf("desk.SetRole: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(CodeAgentNotFound)
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// Tickets

// openTicket records a customer's question: its contact (made or renamed), the ticket, its
// conversation and the question as the conversation's first message. tokenHash is the hash of
// the customer's private link token.
func (s *store) OpenTicket(ctx context.Context, customerName, customerEmail, query string, tokenHash []byte) (Ticket, error) {
	return s.openTicket(ctx, customerName, customerEmail, query, tokenHash, nil)
}

// openTicket is OpenTicket with after run in the same transaction once the rows are in
// (nil: nothing), told the ticket and its first message.
func (s *store) openTicket(ctx context.Context, customerName, customerEmail, query string, tokenHash []byte,
	after func(tx *sql.Tx, t Ticket, first Message) error) (Ticket, error) {
	now := stamp(s.now)
	t := Ticket{CustomerName: customerName, CustomerEmail: customerEmail, Query: query, Status: StatusOpen,
		Priority: PriorityNormal, WaitingSince: now, CreatedAt: now, UpdatedAt: now}
	err := s.inTx(ctx, "OpenTicket", func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO contacts (email, name, created_at, updated_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (email) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at
			RETURNING id`, strings.ToLower(customerEmail), customerName, now.Unix(), now.Unix()).Scan(&t.ContactID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO tickets (contact_id, customer_name, customer_email, query,
			token_hash, status, priority, waiting_since, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 'open', 1, ?, ?, ?) RETURNING id`, t.ContactID, customerName, customerEmail, query,
			tokenHash, now.Unix(), now.Unix(), now.Unix()).Scan(&t.ID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "INSERT INTO conversations (ticket_id, created_at) VALUES (?, ?) RETURNING id",
			t.ID, now.Unix()).Scan(&t.ConversationID); err != nil {
			return err
		}
		first := Message{TicketID: t.ID, ConversationID: t.ConversationID, Sender: SenderCustomer, Body: query, CreatedAt: now}
		if err := tx.QueryRowContext(ctx, `INSERT INTO messages (conversation_id, sender, body, created_at)
			VALUES (?, 'customer', ?, ?) RETURNING id`, t.ConversationID, query, now.Unix()).Scan(&first.ID); err != nil {
			return err
		}
		if after != nil {
			return after(tx, t, first)
		}
		return nil
	})
	return t, err
}

const ticketSelect = `SELECT t.id, t.contact_id, v.id, CAST(t.customer_name AS BLOB), CAST(t.customer_email AS BLOB),
	CAST(t.query AS BLOB), CAST(t.status AS BLOB), t.priority, COALESCE(t.assignee_id, 0),
	CAST(COALESCE(a.full_name, '') AS BLOB), COALESCE(t.snooze_until, 0), COALESCE(t.waiting_since, 0),
	CAST(COALESCE((SELECT group_concat(tag, ',') FROM (SELECT tag FROM ticket_tags WHERE ticket_id = t.id ORDER BY tag)), '') AS BLOB),
	COALESCE(t.rating, 0), t.created_at, t.updated_at, COALESCE(t.closed_at, 0),
	CAST(COALESCE(t.rating_comment, '') AS BLOB), COALESCE(t.rated_at, 0), COALESCE(t.first_reply_at, 0),
	COALESCE(t.first_response_due_at, 0), COALESCE(t.resolution_due_at, 0), t.sla_breached
	FROM tickets t
	JOIN conversations v ON v.ticket_id = t.id
	LEFT JOIN agents a ON a.id = t.assignee_id `

func scanTicket(row interface{ Scan(...any) error }) (Ticket, error) {
	var t Ticket
	var snooze, waiting, created, updated, closed, rated, replied, frDue, resDue int64
	var tags string
	err := row.Scan(&t.ID, &t.ContactID, &t.ConversationID, &t.CustomerName, &t.CustomerEmail, &t.Query, &t.Status,
		&t.Priority, &t.AssigneeID, &t.AssigneeName, &snooze, &waiting, &tags, &t.Rating, &created, &updated, &closed,
		&t.RatingComment, &rated, &replied, &frDue, &resDue, &t.Breached)
	t.SnoozeUntil, t.WaitingSince = unix(snooze), unix(waiting)
	t.CreatedAt, t.UpdatedAt, t.ClosedAt = unix(created), unix(updated), unix(closed)
	t.RatedAt, t.FirstReplyAt, t.FirstResponseDue, t.ResolutionDue = unix(rated), unix(replied), unix(frDue), unix(resDue)
	if tags != "" {
		t.Tags = strings.Split(tags, ",")
	}
	return t, err
}

func (s *store) tickets(ctx context.Context, op, query string, args ...any) ([]Ticket, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("desk.%s: %w", op, err)
	}
	defer rows.Close()
	var out []Ticket
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("desk.%s: %w", op, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("desk.%s: %w", op, err)
	}
	return out, nil
}

// Ticket returns one ticket, or NotFound.
func (s *store) Ticket(ctx context.Context, id int64) (Ticket, error) {
	t, err := scanTicket(s.db.QueryRowContext(ctx, ticketSelect+"WHERE t.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Ticket{}, notFound(CodeTicketNotFound)
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("desk.Ticket: %w", err)
	}
	return t, nil
}

// Counts counts the tickets of every queue view, Mine and Mentions for agentID (0: none), Due
// soon at now, and averages the ratings given.
func (s *store) Counts(ctx context.Context, agentID int64, now time.Time) (Counts, error) {
	c := Counts{Views: map[string]int{}}
	var unassigned, mine, all, pending, snoozed, closed, mentions, due int
	var avg sql.NullFloat64
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM tickets WHERE sla_due_at >= ? AND sla_due_at <= ?),
		COALESCE(SUM(status = 'open' AND assignee_id IS NULL), 0),
		COALESCE(SUM(status = 'open' AND assignee_id = ?), 0),
		COALESCE(SUM(status <> 'closed'), 0),
		COALESCE(SUM(status = 'pending'), 0),
		COALESCE(SUM(status = 'snoozed'), 0),
		COALESCE(SUM(status = 'closed'), 0),
		COUNT(rating), AVG(rating),
		(SELECT COUNT(DISTINCT m.ticket_id) FROM mentions m JOIN tickets x ON x.id = m.ticket_id
			WHERE m.agent_id = ? AND x.status <> 'closed')
		FROM tickets`, now.Unix(), now.Add(DueSoon).Unix(), agentID, agentID).
		Scan(&due, &unassigned, &mine, &all, &pending, &snoozed, &closed, &c.Rated, &avg, &mentions)
	if err != nil {
		return c, fmt.Errorf("desk.Counts: %w", err)
	}
	c.Views[ViewUnassigned], c.Views[ViewMine], c.Views[ViewMentions] = unassigned, mine, mentions
	c.Views[ViewAll], c.Views[ViewPending], c.Views[ViewSnoozed], c.Views[ViewClosed] = all, pending, snoozed, closed
	c.Views[ViewDueSoon] = due
	c.AverageRating = avg.Float64
	return c, nil
}

// QueueQuery selects the tickets of one queue view, optionally of one tag and one priority
// (Priority < 0: any), Offset rows in, at most Limit.
type QueueQuery struct {
	View     string
	Tag      string
	Priority Priority
	Limit    int
	Offset   int
}

// Queue lists a queue view for agentID (Mine and Mentions are its own) at now: urgent first,
// then the customer who has waited longest; the closed view newest first; Due soon by due
// time.
func (s *store) Queue(ctx context.Context, agentID int64, now time.Time, q QueueQuery) ([]Ticket, error) {
	var where []string
	var args []any
	switch q.View {
	case ViewUnassigned:
		where = append(where, "t.status = 'open' AND t.assignee_id IS NULL")
	case ViewMine:
		where, args = append(where, "t.status = 'open' AND t.assignee_id = ?"), append(args, agentID)
	case ViewMentions:
		where, args = append(where, "t.status <> 'closed' AND t.id IN (SELECT ticket_id FROM mentions WHERE agent_id = ?)"), append(args, agentID)
	case ViewAll:
		where = append(where, "t.status <> 'closed'")
	case ViewDueSoon:
		where, args = append(where, "t.sla_due_at >= ? AND t.sla_due_at <= ?"), append(args, now.Unix(), now.Add(DueSoon).Unix())
	case ViewPending, ViewSnoozed, ViewClosed:
		where, args = append(where, "t.status = ?"), append(args, q.View)
	default:
		return nil, apperr.Field(apperr.Invalid, "view", apperr.CodeInvalid)
	}
	if q.Tag != "" {
		where, args = append(where, "t.id IN (SELECT ticket_id FROM ticket_tags WHERE tag = ?)"), append(args, q.Tag)
	}
	if q.Priority >= 0 {
		where, args = append(where, "t.priority = ?"), append(args, int(q.Priority))
	}
	order := "t.priority DESC, t.waiting_since IS NULL, t.waiting_since, t.id"
	switch q.View {
	case ViewClosed:
		order = "t.closed_at DESC, t.id DESC"
	case ViewDueSoon:
		order = "t.sla_due_at, t.priority DESC, t.id"
	}
	args = append(args, q.Limit, q.Offset)
	// The page's ids are chosen first, from the tickets table alone: SQLite evaluates every
	// result column of every candidate row before it sorts, and the row's tags and names cost
	// a subquery and a join each, so sorting whole rows of a queue of thousands costs tens of
	// milliseconds where sorting ids costs one or two.
	page := "SELECT t.id FROM tickets t WHERE " + strings.Join(where, " AND ") + " ORDER BY " + order + " LIMIT ? OFFSET ?"
	return s.tickets(ctx, "Queue", ticketSelect+"WHERE t.id IN ("+page+") ORDER BY "+order, args...)
}

// ContactTickets lists a contact's tickets, newest first.
func (s *store) ContactTickets(ctx context.Context, contactID int64, limit int) ([]Ticket, error) {
	return s.tickets(ctx, "ContactTickets", ticketSelect+"WHERE t.contact_id = ? ORDER BY t.id DESC LIMIT ?", contactID, limit)
}

// Contact returns a contact, or NotFound.
func (s *store) Contact(ctx context.Context, id int64) (Contact, error) {
	var c Contact
	var created, updated int64
	err := s.db.QueryRowContext(ctx, `SELECT id, CAST(email AS BLOB), CAST(name AS BLOB), created_at, updated_at
		FROM contacts WHERE id = ?`, id).Scan(&c.ID, &c.Email, &c.Name, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound(CodeContactNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("desk.Contact: %w", err)
	}
	c.CreatedAt, c.UpdatedAt = unix(created), unix(updated)
	return c, nil
}

// ---------------------------------------------------------------------------------------------
// Poll state

const pollSelect = `SELECT t.id, t.token_hash, CAST(t.status AS BLOB), v.id, COALESCE(t.assignee_id, 0),
	COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.conversation_id = v.id), 0),
	COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.conversation_id = v.id AND m.sender IN ('customer', 'agent')), 0),
	t.access_version
	FROM tickets t JOIN conversations v ON v.ticket_id = t.id `

func (s *store) poll(ctx context.Context, q querier, op, where string, arg any) (ticketState, error) {
	var p ticketState
	var token []byte
	err := q.QueryRowContext(ctx, pollSelect+where, arg).
		Scan(&p.TicketID, &token, &p.Status, &p.ConversationID, &p.AssigneeID, &p.LastMessageID, &p.LastPublicID, &p.access)
	copy(p.token[:], token)
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound(CodeConversationNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("desk.%s: %w", op, err)
	}
	return p, nil
}

// PollByConversation returns a conversation's poll state in one indexed lookup, or NotFound.
func (s *store) PollByConversation(ctx context.Context, conversationID int64) (ticketState, error) {
	return s.poll(ctx, s.db, "PollByConversation", "WHERE v.id = ?", conversationID)
}

// PollByToken returns the poll state of the ticket whose token hashes to tokenHash, or
// NotFound.
func (s *store) PollByToken(ctx context.Context, tokenHash []byte) (ticketState, error) {
	return s.poll(ctx, s.db, "PollByToken", "WHERE t.token_hash = ?", tokenHash)
}

// PollByTicket returns a ticket's poll state, or NotFound.
func (s *store) PollByTicket(ctx context.Context, ticketID int64) (ticketState, error) {
	return s.poll(ctx, s.db, "PollByTicket", "WHERE t.id = ?", ticketID)
}

// ---------------------------------------------------------------------------------------------
// Messages

const messageSelect = `SELECT m.id, CAST(m.sender AS BLOB), COALESCE(m.agent_id, 0),
	CAST(COALESCE(a.full_name, '') AS BLOB), CAST(m.body AS BLOB), CAST(m.data AS BLOB), m.created_at
	FROM messages m LEFT JOIN agents a ON a.id = m.agent_id `

// publicOnly restricts a message query to what the customer sees.
const publicOnly = " AND m.sender IN ('customer', 'agent')"

// scanMessages reads message rows of one conversation and closes them.
func scanMessages(rows *sql.Rows, ticketID, conversationID int64) ([]Message, error) {
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m := Message{TicketID: ticketID, ConversationID: conversationID}
		var created int64
		var data string
		if err := rows.Scan(&m.ID, &m.Sender, &m.AgentID, &m.AgentName, &m.Body, &data, &created); err != nil {
			return nil, err
		}
		m.CreatedAt = unix(created)
		if data != "" {
			var act Activity
			if err := json.Unmarshal([]byte(data), &act); err == nil {
				m.Activity = &act
			}
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Messages returns up to limit messages of a conversation with an id above afterID, oldest
// first; only those the customer sees when public.
func (s *store) Messages(ctx context.Context, ticketID, conversationID, afterID int64, public bool, limit int) ([]Message, error) {
	filter := ""
	if public {
		filter = publicOnly
	}
	rows, err := s.db.QueryContext(ctx, messageSelect+"WHERE m.conversation_id = ? AND m.id > ?"+filter+" ORDER BY m.id LIMIT ?",
		conversationID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("desk.Messages: %w", err)
	}
	out, err := scanMessages(rows, ticketID, conversationID)
	if err == nil {
		err = messageFiles(ctx, s.db, out)
	}
	if err != nil {
		return nil, fmt.Errorf("desk.Messages: %w", err)
	}
	return out, nil
}

// LastMessages returns the newest limit messages of a conversation, oldest first.
func (s *store) LastMessages(ctx context.Context, ticketID, conversationID int64, limit int) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, messageSelect+"WHERE m.conversation_id = ? ORDER BY m.id DESC LIMIT ?",
		conversationID, limit)
	if err != nil {
		return nil, fmt.Errorf("desk.LastMessages: %w", err)
	}
	out, err := scanMessages(rows, ticketID, conversationID)
	if err == nil {
		err = messageFiles(ctx, s.db, out)
	}
	if err != nil {
		return nil, fmt.Errorf("desk.LastMessages: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// insertMessage stores a message in tx and returns it with its id.
func insertMessage(ctx context.Context, tx querier, m Message) (Message, error) {
	var agent any
	if m.AgentID != 0 {
		agent = m.AgentID
	}
	data := ""
	if m.Activity != nil {
		b, err := json.Marshal(m.Activity)
		if err != nil {
			return m, err
		}
		data = string(b)
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO messages (conversation_id, sender, agent_id, body, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, m.ConversationID, m.Sender, agent, m.Body, data, m.CreatedAt.Unix()).Scan(&m.ID)
	return m, err
}

// ---------------------------------------------------------------------------------------------
// Canned replies and settings

// CannedReplies lists the canned replies by title.
func (s *store) CannedReplies(ctx context.Context) ([]Canned, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, CAST(title AS BLOB), CAST(body AS BLOB), created_at, updated_at
		FROM canned_replies ORDER BY title COLLATE NOCASE, id LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("desk.CannedReplies: %w", err)
	}
	defer rows.Close()
	var out []Canned
	for rows.Next() {
		var c Canned
		var created, updated int64
		if err := rows.Scan(&c.ID, &c.Title, &c.Body, &created, &updated); err != nil {
			return nil, fmt.Errorf("desk.CannedReplies: %w", err)
		}
		c.CreatedAt, c.UpdatedAt = unix(created), unix(updated)
		out = append(out, c)
	}
	return out, rows.Err()
}

// CreateCanned stores a canned reply.
func (s *store) CreateCanned(ctx context.Context, title, body string) (Canned, error) {
	now := stamp(s.now)
	c := Canned{Title: title, Body: body, CreatedAt: now, UpdatedAt: now}
	err := s.db.QueryRowContext(ctx, `INSERT INTO canned_replies (title, body, created_at, updated_at)
		VALUES (?, ?, ?, ?) RETURNING id`, title, body, now.Unix(), now.Unix()).Scan(&c.ID)
	if err != nil {
		return c, fmt.Errorf("desk.CreateCanned: %w", err)
	}
	return c, nil
}

// DeleteCanned deletes a canned reply, or answers NotFound.
func (s *store) DeleteCanned(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM canned_replies WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("desk.DeleteCanned: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(CodeCannedNotFound)
	}
	return nil
}

// Setting returns a setting's value, "" when it is not set.
func (s *store) Setting(ctx context.Context, key string) (string, error) {
	return s.setting(ctx, s.db, key)
}

func (s *store) setting(ctx context.Context, q querier, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, "SELECT CAST(value AS BLOB) FROM settings WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("desk.Setting: %w", err)
	}
	return v, nil
}

// SettingsOf returns the settings of the given keys that are set.
func (s *store) SettingsOf(ctx context.Context, keys []string) (map[string]string, error) {
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := s.db.QueryContext(ctx, "SELECT CAST(key AS BLOB), CAST(value AS BLOB) FROM settings WHERE key IN (?"+
		strings.Repeat(", ?", len(keys)-1)+")", args...)
	if err != nil {
		return nil, fmt.Errorf("desk.Settings: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("desk.Settings: %w", err)
		}
		out[k] = v
	}
	return out, rows.Err()
}

// setSetting stores a setting.
func setSetting(ctx context.Context, q querier, key, value string, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, now.Unix())
	if err != nil {
		return fmt.Errorf("desk.SetSetting: %w", err)
	}
	return nil
}
