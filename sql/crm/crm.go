// Package crm stores one organization's helpdesk: its agents, the tickets customers open, the
// conversations agents start on them and their messages. A Store wraps exactly one tenant
// database; which tenant that is was decided before the Store was handed out.
package crm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// Ticket states.
const (
	StatusOpen    = "open"    // waiting for an agent
	StatusEngaged = "engaged" // an agent started the conversation
	StatusClosed  = "closed"  // the agent closed it; the customer may rate once
)

// Message senders.
const (
	SenderAgent    = "agent"
	SenderCustomer = "customer"
)

// Agent is a member of the organization's support staff.
type Agent struct {
	ID                 int64
	FullName           string
	Email              string
	PasswordHash       string
	MustChangePassword bool
	CreatedAt          time.Time
	// UpdatedAt is when the agent's credential last changed: while MustChangePassword is set,
	// it is when the one-time password was issued (onboarding or a reset), so it ages out.
	UpdatedAt time.Time
}

// Removed reports whether the organization removed the agent: its credential is revoked
// (an empty hash matches no password) while its conversations stay readable.
func (a Agent) Removed() bool { return a.PasswordHash == "" }

// Ticket is a customer's question and where it stands. ConversationID and AgentName are set
// once an agent engaged it; Rating is 0 until the customer rates.
type Ticket struct {
	ID             int64
	CustomerName   string
	CustomerEmail  string
	Query          string
	Status         string
	Rating         int
	CreatedAt      time.Time
	ClosedAt       time.Time
	ConversationID int64
	AgentID        int64
	AgentName      string
}

// Message is one line of a conversation.
type Message struct {
	ID             int64
	ConversationID int64
	Sender         string
	Body           string
	CreatedAt      time.Time
}

// PollState is what a message poll needs to decide whether anything changed: the ticket's
// status, its conversation (0 before an agent engaged), the agent and the newest message id.
type PollState struct {
	TicketID       int64
	Status         string
	ConversationID int64
	AgentID        int64
	LastMessageID  int64
}

// Store reads and writes one tenant database.
type Store struct {
	db  *sql.DB
	now func() time.Time
	// adds batches concurrent AddMessage calls into one commit (groupcommit.go).
	adds groupCommit
}

// New returns a Store on a migrated tenant database.
func New(db *sql.DB) *Store { return &Store{db: db, now: time.Now} }

func unix(sec sql.NullInt64) time.Time {
	if !sec.Valid || sec.Int64 == 0 {
		return time.Time{}
	}
	return time.Unix(sec.Int64, 0).UTC()
}

func notFound(what string) error { return apperr.New(apperr.NotFound, "%s not found.", what) }

// CreateAgent adds an agent. A taken email is a Conflict error on the email field.
func (s *Store) CreateAgent(ctx context.Context, fullName, email, passwordHash string) (Agent, error) {
	now := s.now().UTC().Truncate(time.Second)
	res, err := s.db.ExecContext(ctx, `INSERT INTO agents (full_name, email, password_hash,
		must_change_password, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)`,
		fullName, email, passwordHash, now.Unix(), now.Unix())
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return Agent{}, &apperr.Error{Kind: apperr.Conflict, Field: "email", Message: "An agent with this email already exists."}
		}
		return Agent{}, fmt.Errorf("crm.CreateAgent: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Agent{}, fmt.Errorf("crm.CreateAgent: %w", err)
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

func (s *Store) agent(ctx context.Context, op, where string, arg any) (Agent, error) {
	a, err := scanAgent(s.db.QueryRowContext(ctx, "SELECT "+agentColumns+" FROM agents WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Agent{}, notFound("Agent")
	}
	if err != nil {
		return Agent{}, fmt.Errorf("crm.%s: %w", op, err)
	}
	return a, nil
}

// Agent returns the agent with this id, or NotFound.
func (s *Store) Agent(ctx context.Context, id int64) (Agent, error) {
	return s.agent(ctx, "Agent", "id = ?", id)
}

// AgentByEmail returns the agent with this (lower-case) email, or NotFound.
func (s *Store) AgentByEmail(ctx context.Context, email string) (Agent, error) {
	return s.agent(ctx, "AgentByEmail", "email = ?", email)
}

// Agents lists the organization's agents, oldest first.
func (s *Store) Agents(ctx context.Context, limit int) ([]Agent, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+agentColumns+" FROM agents ORDER BY id LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("crm.Agents: %w", err)
	}
	defer rows.Close()
	var out []Agent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, fmt.Errorf("crm.Agents: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetAgentPassword replaces an agent's password hash and clears the must-change flag.
func (s *Store) SetAgentPassword(ctx context.Context, id int64, passwordHash string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE agents SET password_hash = ?, must_change_password = 0,
		updated_at = ? WHERE id = ?`, passwordHash, s.now().Unix(), id)
	if err != nil {
		return fmt.Errorf("crm.SetAgentPassword: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("Agent")
	}
	return nil
}

// OpenTicket records a customer's question. tokenHash is the hash of the customer's private
// link token.
func (s *Store) OpenTicket(ctx context.Context, customerName, customerEmail, query string, tokenHash []byte) (Ticket, error) {
	now := s.now().UTC().Truncate(time.Second)
	res, err := s.db.ExecContext(ctx, `INSERT INTO tickets (customer_name, customer_email, query,
		token_hash, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'open', ?, ?)`,
		customerName, customerEmail, query, tokenHash, now.Unix(), now.Unix())
	if err != nil {
		return Ticket{}, fmt.Errorf("crm.OpenTicket: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Ticket{}, fmt.Errorf("crm.OpenTicket: %w", err)
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

func (s *Store) tickets(ctx context.Context, op, query string, args ...any) ([]Ticket, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("crm.%s: %w", op, err)
	}
	defer rows.Close()
	var out []Ticket
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("crm.%s: %w", op, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("crm.%s: %w", op, err)
	}
	return out, nil
}

// Ticket returns one ticket, or NotFound.
func (s *Store) Ticket(ctx context.Context, id int64) (Ticket, error) {
	t, err := scanTicket(s.db.QueryRowContext(ctx, ticketSelect+"WHERE t.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Ticket{}, notFound("Ticket")
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("crm.Ticket: %w", err)
	}
	return t, nil
}

// TicketByToken returns the ticket whose private link token hashes to tokenHash, or NotFound.
func (s *Store) TicketByToken(ctx context.Context, tokenHash []byte) (Ticket, error) {
	t, err := scanTicket(s.db.QueryRowContext(ctx, ticketSelect+"WHERE t.token_hash = ?", tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return Ticket{}, notFound("Ticket")
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("crm.TicketByToken: %w", err)
	}
	return t, nil
}

// Tickets lists the organization's tickets in one state (all states when status is ""),
// newest first.
func (s *Store) Tickets(ctx context.Context, status string, limit int) ([]Ticket, error) {
	if status == "" {
		return s.tickets(ctx, "Tickets", ticketSelect+"ORDER BY t.id DESC LIMIT ?", limit)
	}
	return s.tickets(ctx, "Tickets", ticketSelect+"WHERE t.status = ? ORDER BY t.id DESC LIMIT ?", status, limit)
}

// AgentTickets lists the tickets an agent engaged, newest conversation first.
func (s *Store) AgentTickets(ctx context.Context, agentID int64, limit int) ([]Ticket, error) {
	return s.tickets(ctx, "AgentTickets", ticketSelect+"WHERE c.agent_id = ? ORDER BY c.id DESC LIMIT ?", agentID, limit)
}

// TicketCounts counts tickets per state, and averages the ratings given.
type TicketCounts struct {
	Open, Engaged, Closed int
	Rated                 int
	AverageRating         float64
}

// Counts returns the organization's ticket counts.
func (s *Store) Counts(ctx context.Context) (TicketCounts, error) {
	var c TicketCounts
	var avg sql.NullFloat64
	err := s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(status = 'open'), 0), COALESCE(SUM(status = 'engaged'), 0),
		COALESCE(SUM(status = 'closed'), 0), COUNT(rating), AVG(rating) FROM tickets`).
		Scan(&c.Open, &c.Engaged, &c.Closed, &c.Rated, &avg)
	if err != nil {
		return c, fmt.Errorf("crm.Counts: %w", err)
	}
	c.AverageRating = avg.Float64
	return c, nil
}

// Engage starts the conversation on an open ticket for agentID, with the customer's question as
// its first message, and returns the conversation id. Engaging a ticket the same agent already
// engaged returns its conversation; one engaged by another agent, or closed, is a Conflict.
func (s *Store) Engage(ctx context.Context, ticketID, agentID int64) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("crm.Engage: %w", err)
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
		return 0, notFound("Ticket")
	}
	if err != nil {
		return 0, fmt.Errorf("crm.Engage: %w", err)
	}
	switch {
	case convID != 0 && convAgent == agentID && status != StatusOpen:
		return convID, nil
	case convID != 0 && status == StatusOpen:
		// The conversation's agent was removed and the ticket went back to the queue: the
		// engaging agent takes the conversation over, history included.
		return convID, s.takeOver(ctx, tx, ticketID, convID, agentID)
	case convID != 0:
		return 0, apperr.New(apperr.Conflict, "Another agent is already handling this ticket.")
	case status != StatusOpen:
		return 0, apperr.New(apperr.Conflict, "This ticket is closed.")
	}
	now := s.now().Unix()
	res, err := tx.ExecContext(ctx, "INSERT INTO conversations (ticket_id, agent_id, created_at) VALUES (?, ?, ?)",
		ticketID, agentID, now)
	if err != nil {
		return 0, fmt.Errorf("crm.Engage: %w", err)
	}
	if convID, err = res.LastInsertId(); err != nil {
		return 0, fmt.Errorf("crm.Engage: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages (conversation_id, sender, body, created_at)
		VALUES (?, 'customer', ?, ?)`, convID, query, now); err != nil {
		return 0, fmt.Errorf("crm.Engage: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE tickets SET status = 'engaged', updated_at = ? WHERE id = ?", now, ticketID); err != nil {
		return 0, fmt.Errorf("crm.Engage: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("crm.Engage: %w", err)
	}
	return convID, nil
}

// ConversationTicket returns the ticket a conversation belongs to, or NotFound.
func (s *Store) ConversationTicket(ctx context.Context, conversationID int64) (Ticket, error) {
	t, err := scanTicket(s.db.QueryRowContext(ctx, ticketSelect+"WHERE c.id = ?", conversationID))
	if errors.Is(err, sql.ErrNoRows) {
		return Ticket{}, notFound("Conversation")
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("crm.ConversationTicket: %w", err)
	}
	return t, nil
}

// Messages returns up to limit messages of a conversation with an id above afterID, oldest
// first.
func (s *Store) Messages(ctx context.Context, conversationID, afterID int64, limit int) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, CAST(sender AS BLOB), CAST(body AS BLOB), created_at
		FROM messages WHERE conversation_id = ? AND id > ? ORDER BY id LIMIT ?`, conversationID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("crm.Messages: %w", err)
	}
	out, err := scanMessages(rows, conversationID)
	if err != nil {
		return nil, fmt.Errorf("crm.Messages: %w", err)
	}
	return out, nil
}

// scanMessages reads rows of id, sender, body, created_at and closes them.
func scanMessages(rows *sql.Rows, conversationID int64) ([]Message, error) {
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m := Message{ConversationID: conversationID}
		var created sql.NullInt64
		if err := rows.Scan(&m.ID, &m.Sender, &m.Body, &created); err != nil {
			return nil, err
		}
		m.CreatedAt = unix(created)
		out = append(out, m)
	}
	return out, rows.Err()
}

// LastMessages returns the newest limit messages of a conversation, oldest first, in one
// indexed query (read newest first, then reversed).
func (s *Store) LastMessages(ctx context.Context, conversationID int64, limit int) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, CAST(sender AS BLOB), CAST(body AS BLOB), created_at
		FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?`, conversationID, limit)
	if err != nil {
		return nil, fmt.Errorf("crm.LastMessages: %w", err)
	}
	out, err := scanMessages(rows, conversationID)
	if err != nil {
		return nil, fmt.Errorf("crm.LastMessages: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// AddMessage appends a message to a conversation whose ticket is engaged. agentID is the
// sending agent (0 for the customer). A closed ticket is a Conflict. Concurrent calls share
// one commit (groupcommit.go); the message is durable when AddMessage returns. The write
// counts as an append only (sqlite.Append): a caller that caches the conversation's newest
// message id records the new one itself (handlers.sendMessage does; an append from anywhere
// else in the process reaches cached polls after handlers' StateTTL).
func (s *Store) AddMessage(ctx context.Context, conversationID int64, sender string, agentID int64, body string) (Message, error) {
	now := s.now().UTC().Truncate(time.Second)
	var agent any
	if sender == SenderAgent {
		agent = agentID
	}
	// One statement: the state check and the insert cannot be split by a concurrent close.
	// Concurrent calls share one transaction and one fsync (groupcommit.go). It only appends
	// a message (sqlite.Append): caches of this tenant's other state stay valid, and the
	// caller records the new message id itself.
	id, err := s.insertMessage(ctx, sender, agent, body, now.Unix(), conversationID)
	if errors.Is(err, sql.ErrNoRows) {
		t, err := s.ConversationTicket(ctx, conversationID)
		if err != nil {
			return Message{}, err
		}
		if t.Status == StatusOpen {
			// Back in the queue after its agent was removed.
			return Message{}, apperr.New(apperr.Conflict, "An agent has not joined this ticket yet.")
		}
		return Message{}, apperr.New(apperr.Conflict, "This ticket is closed; no more messages can be sent.")
	}
	if err != nil {
		return Message{}, fmt.Errorf("crm.AddMessage: %w", err)
	}
	return Message{ID: id, ConversationID: conversationID, Sender: sender, Body: body, CreatedAt: now}, nil
}

// CloseTicket closes a ticket that agentID engaged. A ticket the agent did not engage is
// NotFound; one already closed is a Conflict.
func (s *Store) CloseTicket(ctx context.Context, ticketID, agentID int64) error {
	now := s.now().Unix()
	res, err := s.db.ExecContext(ctx, `UPDATE tickets SET status = 'closed', closed_at = ?, updated_at = ?
		WHERE id = ? AND status = 'engaged'
		AND EXISTS (SELECT 1 FROM conversations WHERE ticket_id = tickets.id AND agent_id = ?)`,
		now, now, ticketID, agentID)
	if err != nil {
		return fmt.Errorf("crm.CloseTicket: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	t, err := s.Ticket(ctx, ticketID)
	if err != nil {
		return err
	}
	if t.AgentID != agentID {
		return notFound("Ticket")
	}
	return apperr.New(apperr.Conflict, "This ticket is already closed.")
}

// Rate records the customer's rating (1–5) of a closed ticket, once. Rating an open ticket or
// rating twice is a Conflict.
func (s *Store) Rate(ctx context.Context, ticketID int64, rating int) error {
	if rating < 1 || rating > 5 {
		return apperr.Field("rating", "Choose a rating from 1 to 5.")
	}
	res, err := s.db.ExecContext(ctx, `UPDATE tickets SET rating = ?, updated_at = ?
		WHERE id = ? AND status = 'closed' AND rating IS NULL`, rating, s.now().Unix(), ticketID)
	if err != nil {
		return fmt.Errorf("crm.Rate: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	t, err := s.Ticket(ctx, ticketID)
	if err != nil {
		return err
	}
	if t.Status != StatusClosed {
		return apperr.New(apperr.Conflict, "You can rate the service once the ticket is closed.")
	}
	return apperr.New(apperr.Conflict, "You have already rated this ticket.")
}

const pollSelect = `SELECT t.id, CAST(t.status AS BLOB), COALESCE(c.id, 0), COALESCE(c.agent_id, 0),
	COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.conversation_id = c.id), 0)
	FROM tickets t LEFT JOIN conversations c ON c.ticket_id = t.id `

func (s *Store) poll(ctx context.Context, op, where string, arg any) (PollState, error) {
	var p PollState
	err := s.db.QueryRowContext(ctx, pollSelect+where, arg).
		Scan(&p.TicketID, &p.Status, &p.ConversationID, &p.AgentID, &p.LastMessageID)
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("Conversation")
	}
	if err != nil {
		return p, fmt.Errorf("crm.%s: %w", op, err)
	}
	return p, nil
}

// PollByConversation returns a conversation's poll state in one indexed lookup, or NotFound.
func (s *Store) PollByConversation(ctx context.Context, conversationID int64) (PollState, error) {
	return s.poll(ctx, "PollByConversation", "WHERE c.id = ?", conversationID)
}

// PollByToken returns the poll state of the ticket whose token hashes to tokenHash in one
// indexed lookup, or NotFound.
func (s *Store) PollByToken(ctx context.Context, tokenHash []byte) (PollState, error) {
	return s.poll(ctx, "PollByToken", "WHERE t.token_hash = ?", tokenHash)
}
