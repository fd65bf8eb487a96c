package desk

// Full-text search of a tenant's tickets (sql/search holds the index and the query). The
// index is kept by triggers in the tenant's schema, so every write of the desk — and of
// anything else that writes the tables — is searchable once it commits.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/search"
)

// SearchQuery is a search of the team's: what was typed and the filters.
type SearchQuery struct {
	// Text is what the person typed (search.Parse reads it: words, prefixes, "phrases",
	// #ticket numbers; nothing in it is query syntax).
	Text string
	// Status narrows to one status ("" any).
	Status string
	// AssigneeID narrows to one agent's tickets (0 any); Unassigned to tickets of nobody.
	AssigneeID int64
	Unassigned bool
	// Tag narrows to tickets with that tag ("" any; normalised as NormalizeTags does).
	Tag string
	// Priority narrows to one priority (negative: any).
	Priority Priority
	// From and To narrow to tickets opened at or after From and before To (zero: unbounded).
	From, To time.Time
	// Limit and Offset page the results (search.DefaultLimit when 0, at most
	// search.MaxLimit; Offset at most search.MaxOffset).
	Limit, Offset int
}

// SearchHit is one ticket found: the ticket as a queue shows it, and where it matched best.
type SearchHit struct {
	Ticket Ticket
	// Kind says what matched: a message, a note, the contact, the tags, the question.
	Kind search.Kind
	// Snippet is the matching text around the match, the matched words marked.
	Snippet search.Snippet
}

// SearchResult is one page of tickets, best match first (recency breaks ties).
type SearchResult struct {
	Hits []SearchHit
	// More reports that another page follows.
	More bool
	// Numbered is the ticket the text names by number ("#1042" or "1042" alone), when it
	// exists: the page may go straight to it. It is not among Hits unless its text matched.
	Numbered *Ticket
	// Truncated reports that the text was longer than a search reads; only its beginning was
	// searched.
	Truncated bool
}

// Search finds the tickets whose texts match q.Text, for the team (the owner and agents: notes,
// contacts and tags included). Customers do not search (Forbidden). A text with nothing to
// search for finds nothing, without an error.
func (s *Service) Search(ctx context.Context, org *catalog.Organization, a Actor, q SearchQuery) (SearchResult, error) {
	if err := mayWork(a); err != nil {
		return SearchResult{}, err
	}
	filter, args, err := searchFilter(q)
	if err != nil {
		return SearchResult{}, err
	}
	parsed := search.Parse(q.Text)
	res := SearchResult{Truncated: parsed.Truncated}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return res, err
	}
	defer release()
	if parsed.TicketID != 0 {
		t, err := db.Ticket(ctx, parsed.TicketID)
		switch {
		case err == nil:
			res.Numbered = &t
		case !apperr.Is(err, apperr.NotFound):
			return res, err
		}
	}
	found, err := search.Find(ctx, db.db, parsed, search.Options{Staff: true, Limit: q.Limit, Offset: q.Offset,
		Filter: filter, Args: args})
	if err != nil {
		return res, fmt.Errorf("desk.Search: %w", err)
	}
	res.More = found.More
	if len(found.Hits) == 0 {
		return res, nil
	}
	ids := make([]any, len(found.Hits))
	for i, h := range found.Hits {
		ids[i] = h.TicketID
	}
	tickets, err := db.tickets(ctx, "Search", ticketSelect+"WHERE t.id IN (?"+strings.Repeat(", ?", len(ids)-1)+")", ids...)
	if err != nil {
		return res, err
	}
	byID := make(map[int64]Ticket, len(tickets))
	for _, t := range tickets {
		byID[t.ID] = t
	}
	for _, h := range found.Hits {
		if t, ok := byID[h.TicketID]; ok {
			res.Hits = append(res.Hits, SearchHit{Ticket: t, Kind: h.Key.Kind, Snippet: h.Snippet})
		}
	}
	return res, nil
}

// searchFilter turns q's filters into the SQL condition over tickets (aliased t) that
// search.Find narrows by. Only constants and placeholders are written here.
func searchFilter(q SearchQuery) (string, []any, error) {
	var where []string
	var args []any
	if q.Status != "" {
		if !ValidStatus(q.Status) {
			return "", nil, apperr.Field(apperr.Invalid, "status", apperr.CodeInvalid)
		}
		where, args = append(where, "t.status = ?"), append(args, q.Status)
	}
	switch {
	case q.Unassigned:
		where = append(where, "t.assignee_id IS NULL")
	case q.AssigneeID > 0:
		where, args = append(where, "t.assignee_id = ?"), append(args, q.AssigneeID)
	case q.AssigneeID < 0:
		return "", nil, apperr.Field(apperr.Invalid, "assignee", apperr.CodeInvalid)
	}
	if q.Tag != "" {
		tags, err := NormalizeTags([]string{q.Tag})
		if err != nil || len(tags) != 1 {
			return "", nil, apperr.Field(apperr.Invalid, "tag", apperr.CodeInvalid)
		}
		where, args = append(where, "t.id IN (SELECT ticket_id FROM ticket_tags WHERE tag = ?)"), append(args, tags[0])
	}
	if q.Priority >= 0 {
		if q.Priority > PriorityUrgent {
			return "", nil, apperr.Field(apperr.Invalid, "priority", apperr.CodeInvalid)
		}
		where, args = append(where, "t.priority = ?"), append(args, int(q.Priority))
	}
	if !q.From.IsZero() {
		where, args = append(where, "t.created_at >= ?"), append(args, q.From.Unix())
	}
	if !q.To.IsZero() {
		if !q.From.IsZero() && !q.To.After(q.From) {
			return "", nil, apperr.Field(apperr.Invalid, "to", apperr.CodeInvalid)
		}
		where, args = append(where, "t.created_at < ?"), append(args, q.To.Unix())
	}
	return strings.Join(where, " AND "), args, nil
}
