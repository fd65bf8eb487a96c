package desk

// The SQL of one tenant database: the statements the Service runs, on a store that wraps the
// tenant's *sql.DB for one call. Rules (who may do what), caches and change events live in the
// Service; a store only reads and writes rows, and reports outcomes as apperr kinds and codes.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// store reads and writes one tenant database.
type store struct {
	db  *sql.DB
	now func() time.Time
	// adds batches concurrent AddMessage calls on this tenant into one commit
	// (groupcommit.go); it outlives the store, which is made per call.
	adds *groupCommit
}

// newStore returns a store on a migrated tenant database, for tests and tools that need no
// Service (group commit included).
func newStore(db *sql.DB) *store { return &store{db: db, now: time.Now, adds: new(groupCommit)} }

func unix(sec sql.NullInt64) time.Time {
	if !sec.Valid || sec.Int64 == 0 {
		return time.Time{}
	}
	return time.Unix(sec.Int64, 0).UTC()
}

func notFound(code apperr.Code) error { return apperr.New(apperr.NotFound, code) }

// CreateAgent adds an agent. A taken email is a Conflict (CodeTaken) on the email field.
func (s *store) CreateAgent(ctx context.Context, fullName, email, passwordHash string) (Agent, error) {
	now := s.now().UTC().Truncate(time.Second)
	// ON CONFLICT DO NOTHING reports the taken email as "no row", without parsing error text.
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO agents (full_name, email, password_hash,
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
		CreatedAt: now, UpdatedAt: now}, nil
}

const agentColumns = `id, CAST(full_name AS BLOB), CAST(email AS BLOB), CAST(password_hash AS BLOB),
	must_change_password, created_at, updated_at`

func scanAgent(row interface{ Scan(...any) error }) (Agent, error) {
	var a Agent
	var created, updated sql.NullInt64
	err := row.Scan(&a.ID, &a.FullName, &a.Email, &a.PasswordHash, &a.MustChangePassword, &created, &updated)
	a.CreatedAt, a.UpdatedAt = unix(created), unix(updated)
	return a, err
}

func (s *store) agent(ctx context.Context, op, where string, arg any) (Agent, error) {
	a, err := scanAgent(s.db.QueryRowContext(ctx, "SELECT "+agentColumns+" FROM agents WHERE "+where, arg))
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
	return s.agent(ctx, "Agent", "id = ?", id)
}

// AgentByEmail returns the agent with this (lower-case) email, or NotFound.
func (s *store) AgentByEmail(ctx context.Context, email string) (Agent, error) {
	return s.agent(ctx, "AgentByEmail", "email = ?", email)
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
func (s *store) SetAgentPassword(ctx context.Context, id int64, passwordHash string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE agents SET password_hash = ?, must_change_password = 0,
		updated_at = ? WHERE id = ?`, passwordHash, s.now().Unix(), id)
	if err != nil {
		return fmt.Errorf("desk.SetAgentPassword: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(CodeAgentNotFound)
	}
	return nil
}

// OpenTicket records a customer's question. tokenHash is the hash of the customer's private
// link token.
func (s *store) OpenTicket(ctx context.Context, customerName, customerEmail, query string, tokenHash []byte) (Ticket, error) {
	now := s.now().UTC().Truncate(time.Second)
	res, err := s.db.ExecContext(ctx, `INSERT INTO tickets (customer_name, customer_email, query,
		token_hash, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'open', ?, ?)`,
		customerName, customerEmail, query, tokenHash, now.Unix(), now.Unix())
	if err != nil {
		return Ticket{}, fmt.Errorf("desk.OpenTicket: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Ticket{}, fmt.Errorf("desk.OpenTicket: %w", err)
	}
	return Ticket{ID: id, CustomerName: customerName, CustomerEmail: customerEmail, Query: query,
		Status: StatusOpen, CreatedAt: now}, nil
}

const ticketSelect = `SELECT t.id, CAST(t.customer_name AS BLOB), CAST(t.customer_email AS BLOB),
	CAST(t.query AS BLOB), CAST(t.status AS BLOB), COALESCE(t.rating, 0), t.created_at, t.closed_at,
	COALESCE(c.id, 0), COALESCE(c.agent_id, 0), CAST(COALESCE(a.full_name, '') AS BLOB)
	FROM tickets t
	LEFT JOIN conversations c ON c.ticket_id = t.id
	LEFT JOIN agents a ON a.id = c.agent_id `

func scanTicket(row interface{ Scan(...any) error }) (Ticket, error) {
	var t Ticket
	var created, closed sql.NullInt64
	err := row.Scan(&t.ID, &t.CustomerName, &t.CustomerEmail, &t.Query, &t.Status, &t.Rating,
		&created, &closed, &t.ConversationID, &t.AgentID, &t.AgentName)
	t.CreatedAt, t.ClosedAt = unix(created), unix(closed)
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

// TicketByToken returns the ticket whose private link token hashes to tokenHash, or NotFound.
func (s *store) TicketByToken(ctx context.Context, tokenHash []byte) (Ticket, error) {
	t, err := scanTicket(s.db.QueryRowContext(ctx, ticketSelect+"WHERE t.token_hash = ?", tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return Ticket{}, notFound(CodeTicketNotFound)
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("desk.TicketByToken: %w", err)
	}
	return t, nil
}

// Tickets lists the organization's tickets in one state (all states when status is ""),
// newest first.
func (s *store) Tickets(ctx context.Context, status string, limit int) ([]Ticket, error) {
	if status == "" {
		return s.tickets(ctx, "Tickets", ticketSelect+"ORDER BY t.id DESC LIMIT ?", limit)
	}
	return s.tickets(ctx, "Tickets", ticketSelect+"WHERE t.status = ? ORDER BY t.id DESC LIMIT ?", status, limit)
}

// AgentTickets lists the tickets an agent engaged, newest conversation first.
func (s *store) AgentTickets(ctx context.Context, agentID int64, limit int) ([]Ticket, error) {
	return s.tickets(ctx, "AgentTickets", ticketSelect+"WHERE c.agent_id = ? ORDER BY c.id DESC LIMIT ?", agentID, limit)
}

// Counts returns the organization's ticket counts.
func (s *store) Counts(ctx context.Context) (TicketCounts, error) {
	var c TicketCounts
	var avg sql.NullFloat64
	err := s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(status = 'open'), 0), COALESCE(SUM(status = 'engaged'), 0),
		COALESCE(SUM(status = 'closed'), 0), COUNT(rating), AVG(rating) FROM tickets`).
		Scan(&c.Open, &c.Engaged, &c.Closed, &c.Rated, &avg)
	if err != nil {
		return c, fmt.Errorf("desk.Counts: %w", err)
	}
	c.AverageRating = avg.Float64
	return c, nil
}

// Engage starts the conversation on an open ticket for agentID, with the customer's question as
// its first message, and returns the conversation id. Engaging a ticket the same agent already
// engaged returns its conversation; one engaged by another agent, or closed, is a Conflict.
func (s *store) Engage(ctx context.Context, ticketID, agentID int64) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("desk.Engage: %w", err)
	}
	defer tx.Rollback()
	var status string
	var query string
	var convID, convAgent int64
	err = tx.QueryRowContext(ctx, `SELECT CAST(t.status AS BLOB), CAST(t.query AS BLOB),
		COALESCE(c.id, 0), COALESCE(c.agent_id, 0)
		FROM tickets t LEFT JOIN conversations c ON c.ticket_id = t.id WHERE t.id = ?`, ticketID).
		Scan(&status, &query, &convID, &convAgent)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound(CodeTicketNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("desk.Engage: %w", err)
	}
	switch {
	case convID != 0 && convAgent == agentID && status != StatusOpen:
		return convID, nil
	case convID != 0 && status == StatusOpen:
		// The conversation's agent was removed and the ticket went back to the queue: the
		// engaging agent takes the conversation over, history included.
		return convID, s.takeOver(ctx, tx, ticketID, convID, agentID)
	case convID != 0:
		return 0, apperr.New(apperr.Conflict, CodeEngagedByOther)
	case status != StatusOpen:
		return 0, apperr.New(apperr.Conflict, CodeTicketClosed)
	}
	now := s.now().Unix()
	res, err := tx.ExecContext(ctx, "INSERT INTO conversations (ticket_id, agent_id, created_at) VALUES (?, ?, ?)",
		ticketID, agentID, now)
	if err != nil {
		return 0, fmt.Errorf("desk.Engage: %w", err)
	}
	if convID, err = res.LastInsertId(); err != nil {
		return 0, fmt.Errorf("desk.Engage: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages (conversation_id, sender, body, created_at)
		VALUES (?, 'customer', ?, ?)`, convID, query, now); err != nil {
		return 0, fmt.Errorf("desk.Engage: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE tickets SET status = 'engaged', updated_at = ? WHERE id = ?", now, ticketID); err != nil {
		return 0, fmt.Errorf("desk.Engage: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("desk.Engage: %w", err)
	}
	return convID, nil
}

// ConversationTicket returns the ticket a conversation belongs to, or NotFound.
func (s *store) ConversationTicket(ctx context.Context, conversationID int64) (Ticket, error) {
	t, err := scanTicket(s.db.QueryRowContext(ctx, ticketSelect+"WHERE c.id = ?", conversationID))
	if errors.Is(err, sql.ErrNoRows) {
		return Ticket{}, notFound(CodeConversationNotFound)
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("desk.ConversationTicket: %w", err)
	}
	return t, nil
}

// Messages returns up to limit messages of a conversation with an id above afterID, oldest
// first.
func (s *store) Messages(ctx context.Context, conversationID, afterID int64, limit int) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, CAST(sender AS BLOB), COALESCE(agent_id, 0), CAST(body AS BLOB), created_at
		FROM messages WHERE conversation_id = ? AND id > ? ORDER BY id LIMIT ?`, conversationID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("desk.Messages: %w", err)
	}
	out, err := scanMessages(rows, conversationID)
	if err != nil {
		return nil, fmt.Errorf("desk.Messages: %w", err)
	}
	return out, nil
}

// scanMessages reads rows of id, sender, agent_id, body, created_at and closes them.
func scanMessages(rows *sql.Rows, conversationID int64) ([]Message, error) {
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m := Message{ConversationID: conversationID}
		var created sql.NullInt64
		if err := rows.Scan(&m.ID, &m.Sender, &m.AgentID, &m.Body, &created); err != nil {
			return nil, err
		}
		m.CreatedAt = unix(created)
		out = append(out, m)
	}
	return out, rows.Err()
}

// LastMessages returns the newest limit messages of a conversation, oldest first, in one
// indexed query (read newest first, then reversed).
func (s *store) LastMessages(ctx context.Context, conversationID int64, limit int) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, CAST(sender AS BLOB), COALESCE(agent_id, 0), CAST(body AS BLOB), created_at
		FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?`, conversationID, limit)
	if err != nil {
		return nil, fmt.Errorf("desk.LastMessages: %w", err)
	}
	out, err := scanMessages(rows, conversationID)
	if err != nil {
		return nil, fmt.Errorf("desk.LastMessages: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// AddMessage appends a message to a conversation whose ticket is engaged. agentID is the
// sending agent (0 for the customer). A closed ticket is a Conflict. Concurrent calls share
// one commit (groupcommit.go); the message is durable when AddMessage returns.
func (s *store) AddMessage(ctx context.Context, ticketID, conversationID int64, sender string, agentID int64, body string, by Actor) (Message, error) {
	m := Message{TicketID: ticketID, ConversationID: conversationID, Sender: sender, Body: body, CreatedAt: stamp(s.now)}
	if sender == SenderAgent {
		m.AgentID = agentID
	}
	// One statement: the state check and the insert cannot be split by a concurrent close.
	// Concurrent calls share one transaction and one fsync (groupcommit.go).
	id, err := s.insertMessage(ctx, m, by)
	if errors.Is(err, sql.ErrNoRows) {
		t, err := s.ConversationTicket(ctx, conversationID)
		if err != nil {
			return Message{}, err
		}
		if t.Status == StatusOpen {
			// Back in the queue after its agent was removed.
			return Message{}, apperr.New(apperr.Conflict, CodeNotEngaged)
		}
		return Message{}, apperr.New(apperr.Conflict, CodeTicketClosed)
	}
	if err != nil {
		return Message{}, fmt.Errorf("desk.AddMessage: %w", err)
	}
	m.ID = id
	return m, nil
}

// CloseTicket closes a ticket that agentID engaged. A ticket the agent did not engage is
// NotFound; one already closed is a Conflict.
func (s *store) CloseTicket(ctx context.Context, ticketID, agentID int64) error {
	now := s.now().Unix()
	res, err := s.db.ExecContext(ctx, `UPDATE tickets SET status = 'closed', closed_at = ?, updated_at = ?
		WHERE id = ? AND status = 'engaged'
		AND EXISTS (SELECT 1 FROM conversations WHERE ticket_id = tickets.id AND agent_id = ?)`,
		now, now, ticketID, agentID)
	if err != nil {
		return fmt.Errorf("desk.CloseTicket: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	t, err := s.Ticket(ctx, ticketID)
	if err != nil {
		return err
	}
	if t.AgentID != agentID {
		return notFound(CodeTicketNotFound)
	}
	return apperr.New(apperr.Conflict, CodeTicketClosed)
}

// Rate records the customer's rating (1–5) of a closed ticket, once. Rating an open ticket or
// rating twice is a Conflict.
func (s *store) Rate(ctx context.Context, ticketID int64, rating int) error {
	if rating < 1 || rating > 5 {
		return apperr.Field(apperr.Invalid, "rating", apperr.CodeInvalid)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE tickets SET rating = ?, updated_at = ?
		WHERE id = ? AND status = 'closed' AND rating IS NULL`, rating, s.now().Unix(), ticketID)
	if err != nil {
		return fmt.Errorf("desk.Rate: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	t, err := s.Ticket(ctx, ticketID)
	if err != nil {
		return err
	}
	if t.Status != StatusClosed {
		return apperr.New(apperr.Conflict, CodeNotClosed)
	}
	return apperr.New(apperr.Conflict, CodeAlreadyRated)
}

const pollSelect = `SELECT t.id, t.token_hash, CAST(t.status AS BLOB), COALESCE(c.id, 0), COALESCE(c.agent_id, 0),
	COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.conversation_id = c.id), 0)
	FROM tickets t LEFT JOIN conversations c ON c.ticket_id = t.id `

func (s *store) poll(ctx context.Context, op, where string, arg any) (ticketState, error) {
	var p ticketState
	var token []byte
	err := s.db.QueryRowContext(ctx, pollSelect+where, arg).
		Scan(&p.TicketID, &token, &p.Status, &p.ConversationID, &p.AgentID, &p.LastMessageID)
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
	return s.poll(ctx, "PollByConversation", "WHERE c.id = ?", conversationID)
}

// PollByToken returns the poll state of the ticket whose token hashes to tokenHash in one
// indexed lookup, or NotFound.
func (s *store) PollByToken(ctx context.Context, tokenHash []byte) (ticketState, error) {
	return s.poll(ctx, "PollByToken", "WHERE t.token_hash = ?", tokenHash)
}

// PollByTicket returns a ticket's poll state in one indexed lookup, or NotFound.
func (s *store) PollByTicket(ctx context.Context, ticketID int64) (ticketState, error) {
	return s.poll(ctx, "PollByTicket", "WHERE t.id = ?", ticketID)
}
