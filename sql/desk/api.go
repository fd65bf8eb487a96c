package desk

// Reads and writes the JSON API needs beyond the pages': tickets filtered and paged by id,
// a ticket's messages by ticket id, contacts, and messages written on a customer's behalf.

import (
	"context"
	"fmt"
	"strings"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// TicketFilter selects tickets, newest first: of one status ("" any), one priority (< 0 any),
// one assignee (AssigneeID; Unassigned for nobody), one tag, one contact, with ids below
// Before (0: from the newest), at most Limit.
type TicketFilter struct {
	Status     string
	Priority   Priority
	AssigneeID int64
	Unassigned bool
	Tag        string
	ContactID  int64
	Before     int64
	Limit      int
}

// ListTickets lists tickets by filter, newest first, for the team.
func (s *Service) ListTickets(ctx context.Context, org *catalog.Organization, a Actor, f TicketFilter) ([]Ticket, error) {
	if err := mayWork(a); err != nil {
		return nil, err
	}
	where := []string{"1"}
	var args []any
	if f.Status != "" {
		if !ValidStatus(f.Status) {
			return nil, apperr.Field(apperr.Invalid, "status", apperr.CodeInvalid)
		}
		where, args = append(where, "t.status = ?"), append(args, f.Status)
	}
	if f.Priority >= 0 {
		where, args = append(where, "t.priority = ?"), append(args, int(f.Priority))
	}
	switch {
	case f.Unassigned:
		where = append(where, "t.assignee_id IS NULL")
	case f.AssigneeID != 0:
		where, args = append(where, "t.assignee_id = ?"), append(args, f.AssigneeID)
	}
	if f.Tag != "" {
		where, args = append(where, "t.id IN (SELECT ticket_id FROM ticket_tags WHERE tag = ?)"), append(args, f.Tag)
	}
	if f.ContactID != 0 {
		where, args = append(where, "t.contact_id = ?"), append(args, f.ContactID)
	}
	if f.Before > 0 {
		where, args = append(where, "t.id < ?"), append(args, f.Before)
	}
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 100
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	return db.tickets(ctx, "ListTickets", ticketSelect+"WHERE "+strings.Join(where, " AND ")+" ORDER BY t.id DESC LIMIT ?",
		append(args, f.Limit)...)
}

// TicketMessages returns up to limit messages of ticket id with ids above after, oldest
// first — notes and activity lines too — for the team.
func (s *Service) TicketMessages(ctx context.Context, org *catalog.Organization, a Actor, id, after int64, limit int) ([]Message, error) {
	ts := s.tenant(org)
	st, err := s.stateByTicket(ctx, org, ts, id)
	if err != nil {
		return nil, err
	}
	if err := allow(a, opNote, st); err != nil {
		return nil, err
	}
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return nil, err
	}
	defer release()
	return db.Messages(ctx, st.TicketID, st.ConversationID, after, false, limit)
}

// AddCustomerMessage adds body to ticket id as the customer's message: for the team through an
// API token only (an integration that brings in what customers wrote elsewhere). It does what
// the customer's own message does (reopens a pending or snoozed ticket; a closed one is a
// Conflict).
func (s *Service) AddCustomerMessage(ctx context.Context, org *catalog.Organization, a Actor, id int64, body string) (Message, error) {
	if !a.viaAPI() {
		return Message{}, apperr.New(apperr.Forbidden, CodeForbidden)
	}
	ts := s.tenant(org)
	st, err := s.stateByTicket(ctx, org, ts, id)
	if err != nil {
		return Message{}, err
	}
	if err := allow(a, opNote, st); err != nil {
		return Message{}, err
	}
	return s.AddMessage(ctx, org, Actor{Kind: Customer, token: st.token}, 0, body)
}

// ContactFilter selects contacts, newest first: of one email ("" any), with ids below Before,
// at most Limit.
type ContactFilter struct {
	Email  string
	Before int64
	Limit  int
}

// Contacts lists contacts by filter, for the team.
func (s *Service) Contacts(ctx context.Context, org *catalog.Organization, a Actor, f ContactFilter) ([]Contact, error) {
	if err := mayWork(a); err != nil {
		return nil, err
	}
	where := []string{"1"}
	var args []any
	if f.Email != "" {
		where, args = append(where, "email = ?"), append(args, strings.ToLower(f.Email))
	}
	if f.Before > 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 100
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := db.db.QueryContext(ctx, `SELECT id, CAST(email AS BLOB), CAST(name AS BLOB), created_at, updated_at
		FROM contacts WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("desk.Contacts: %w", err)
	}
	defer rows.Close()
	var out []Contact
	for rows.Next() {
		var c Contact
		var created, updated int64
		if err := rows.Scan(&c.ID, &c.Email, &c.Name, &created, &updated); err != nil {
			return nil, fmt.Errorf("desk.Contacts: %w", err)
		}
		c.CreatedAt, c.UpdatedAt = unix(created), unix(updated)
		out = append(out, c)
	}
	return out, rows.Err()
}
