package search

import (
	"context"
	"database/sql"
	"fmt"
	"html/template"
	"strings"
	"unicode/utf8"
)

// Queryer is a *sql.Tx, *sql.Conn or *sql.DB.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Paging bounds.
const (
	DefaultLimit = 25
	MaxLimit     = 100
	// MaxOffset bounds how deep a search pages: each page ranks every match again.
	MaxOffset = 1000
)

// SnippetTokens is how many words a snippet shows around the best match.
const SnippetTokens = 20

// How many of the newest matching documents a search ranks at most (see Find).
const (
	RankedMessages   = 6_000
	RankedTicketDocs = 2_000
)

// Options are what a search may see and which page it returns.
type Options struct {
	// Staff is set when the viewer is an agent or the owner: notes, contacts and tags are
	// searched only then.
	Staff bool
	// Limit and Offset page the tickets found (DefaultLimit when 0, at most MaxLimit;
	// Offset at most MaxOffset).
	Limit, Offset int
	// Filter narrows the tickets: a boolean SQL expression over the tickets table, aliased
	// t, with ? placeholders bound to Args (status, assignee, tag, priority, dates). It is
	// written by the store, never taken from a request. Empty means every ticket.
	Filter string
	Args   []any
}

// Hit is one ticket found, with the document that matched best.
type Hit struct {
	TicketID int64
	// Key is the best-matching document of the ticket (a message, the question, …).
	Key Key
	// Rank is FTS5's bm25 of that document: lower is better.
	Rank float64
	// CreatedAt is when that document was written (the tie-break after Rank).
	CreatedAt int64
	// Snippet is the document's text around the match, matched words marked.
	Snippet Snippet
}

// Result is one page of tickets, best first.
type Result struct {
	Hits []Hit
	// More reports that another page follows.
	More bool
}

// Find returns the tickets matching q, best first: one hit per ticket, ranked by the bm25 of
// its best-matching document, more recent documents first among equals. Every term must be
// found in one document (the question, one message, the contact…), not spread over a
// ticket's documents. When a query matches
// more than RankedMessages messages and notes (or RankedTicketDocs questions, contacts and
// tags), only the newest of them are ranked. An empty query finds nothing (and runs no SQL).
func Find(ctx context.Context, db Queryer, q Query, opt Options) (Result, error) {
	match := q.Match()
	if match == "" {
		return Result{}, nil
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	offset := min(max(opt.Offset, 0), MaxOffset)
	// Document kinds the viewer may find, by the kind bits of the rowid: no content lookup.
	ticketKinds, messageKinds := "1", "2"
	if opt.Staff {
		ticketKinds, messageKinds = "1, 4, 5", "2, 3"
	}

	// The best first page comes from the best few hundred documents: a first pass reads the
	// ticket of only the topDocs best-ranked documents; when they hold too few tickets for the
	// page (few matches, many matches on one ticket, a narrow filter) a second pass reads
	// every candidate.
	topDocs := 4*(offset+limit+1) + 100
	res, err := rank(ctx, db, match, ticketKinds, messageKinds, topDocs, limit, offset, opt)
	if err == nil && len(res.Hits) <= limit && topDocs < RankedMessages+RankedTicketDocs {
		res, err = rank(ctx, db, match, ticketKinds, messageKinds, RankedMessages+RankedTicketDocs, limit, offset, opt)
	}
	if err != nil {
		return Result{}, err
	}
	if len(res.Hits) > limit {
		res.Hits, res.More = res.Hits[:limit], true
	}
	if len(res.Hits) == 0 {
		return res, nil
	}
	if err := snippets(ctx, db, match, scanForSnippets(q), res.Hits); err != nil {
		return Result{}, err
	}
	return res, nil
}

// rank returns one page (plus one hit, to tell whether more follow) of the tickets of the
// topDocs best documents among the candidates.
func rank(ctx context.Context, db Queryer, match, ticketKinds, messageKinds string, topDocs, limit, offset int, opt Options) (Result, error) {
	// bm25 costs about a microsecond per matching document, so a word in most documents
	// would take 100 ms on 100,000 messages. Only the newest RankedMessages message and note
	// documents and the newest RankedTicketDocs question, contact and tag documents are ranked
	// (FTS5 walks its rowids backwards and stops): for selective queries that is every match,
	// for very common words the results come from recent tickets. The two kinds are capped
	// apart because their rowids come from different id sequences. The candidates are ranked
	// from the index alone; the stored ticket and time are read for the topDocs best.
	//
	// SQLite takes the bare columns doc and created_at from the row that holds min(r) when
	// min() is the query's only aggregate: the best document of each ticket.
	hits := fmt.Sprintf(`WITH cand AS (
    SELECT * FROM (SELECT rowid AS doc, rank AS r FROM ticket_search
        WHERE ticket_search MATCH ?1 AND (rowid & 7) IN (%s) ORDER BY rowid DESC LIMIT %d)
    UNION ALL
    SELECT * FROM (SELECT rowid AS doc, rank AS r FROM ticket_search
        WHERE ticket_search MATCH ?1 AND (rowid & 7) IN (%s) ORDER BY rowid DESC LIMIT %d)
), top AS (
    SELECT doc, r FROM cand ORDER BY r LIMIT %d
), docs AS (
    SELECT top.doc, top.r, s.ticket_id, s.created_at FROM top JOIN ticket_search s ON s.rowid = top.doc
), hits AS (
    SELECT ticket_id, doc, created_at, min(r) AS best FROM docs GROUP BY ticket_id
)`, ticketKinds, RankedTicketDocs, messageKinds, RankedMessages, topDocs)
	args := []any{match}
	var query string
	if opt.Filter == "" {
		query = hits + `
SELECT h.ticket_id, h.doc, h.created_at, h.best FROM hits h
ORDER BY h.best, h.created_at DESC, h.ticket_id DESC
LIMIT ? OFFSET ?`
	} else {
		// The tickets are filtered after grouping: one lookup per ticket, not per document.
		query = hits + `
SELECT h.ticket_id, h.doc, h.created_at, h.best
FROM hits h JOIN tickets t ON t.id = h.ticket_id
WHERE (` + opt.Filter + `)
ORDER BY h.best, h.created_at DESC, h.ticket_id DESC
LIMIT ? OFFSET ?`
		args = append(args, opt.Args...)
	}
	args = append(args, limit+1, offset)

	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return Result{}, fmt.Errorf("search: find: %w", err)
	}
	var res Result
	for rows.Next() {
		var h Hit
		var doc int64
		if err := rows.Scan(&h.TicketID, &doc, &h.CreatedAt, &h.Rank); err != nil {
			rows.Close()
			return Result{}, fmt.Errorf("search: find: %w", err)
		}
		h.Key = Key{Kind(doc & 7), doc >> 3}
		res.Hits = append(res.Hits, h)
	}
	if err := rows.Close(); err != nil {
		return Result{}, fmt.Errorf("search: find: %w", err)
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("search: find: %w", err)
	}
	return res, nil
}

// scanForSnippets reports whether the snippet query should read the query's matches once
// rather than seek to each hit's rowid. FTS5 merges the doclists of every token a prefix
// term covers on each seek, unless the prefix index holds that prefix length (2 and 3): with
// a longer prefix term, 25 seeks cost 25 merges (12 ms for a common word on 100,000
// messages) where one pass costs one; without one, seeks are cheap and a pass over a common
// word's matches is not.
func scanForSnippets(q Query) bool {
	for _, t := range q.Terms {
		if t.Prefix && utf8.RuneCountInString(t.lastWord()) > 3 {
			return true
		}
	}
	return false
}

// lastWord returns the word of t that a prefix applies to.
func (t Term) lastWord() string {
	if i := strings.LastIndexByte(t.Text, ' '); i >= 0 {
		return t.Text[i+1:]
	}
	return t.Text
}

// snippets fills in the snippets of one page of hits with a second query on their documents
// only: snippet() in the ranking query would build one for every matching document. scan
// picks how the hits are found (scanForSnippets); "+rowid" hides the IN from FTS5, which
// then reads its matches once and SQLite filters them.
func snippets(ctx context.Context, db Queryer, match string, scan bool, hits []Hit) error {
	args := make([]any, 0, len(hits)+1)
	args = append(args, match)
	byRowid := make(map[int64]*Hit, len(hits))
	for i := range hits {
		rowid, err := hits[i].Key.rowid()
		if err != nil {
			return err
		}
		args = append(args, rowid)
		byRowid[rowid] = &hits[i]
	}
	query := fmt.Sprintf(`SELECT rowid, CAST(snippet(ticket_search, 0, char(57344), char(57345), char(57346), %d) AS BLOB)
FROM ticket_search WHERE ticket_search MATCH ? AND %srowid IN (?%s)`,
		SnippetTokens, map[bool]string{true: "+"}[scan], strings.Repeat(", ?", len(hits)-1))
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("search: snippets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rowid int64
		var raw []byte
		if err := rows.Scan(&rowid, &raw); err != nil {
			return fmt.Errorf("search: snippets: %w", err)
		}
		if h := byRowid[rowid]; h != nil {
			h.Snippet = parseSnippet(string(raw))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("search: snippets: %w", err)
	}
	return nil
}

// Snippet is a short excerpt of a document: plain text, some of it marked as matching.
type Snippet []Segment

// Segment is a run of a snippet's text.
type Segment struct {
	Text string
	// Mark is set for text that matched the query.
	Mark bool
}

// Text returns the snippet's plain text.
func (s Snippet) Text() string {
	var b strings.Builder
	for _, seg := range s {
		b.WriteString(seg.Text)
	}
	return b.String()
}

// HTML renders the snippet with every matched run in <mark>…</mark>. All text is
// HTML-escaped; the mark tags are the only markup, and they come from Segment.Mark, never
// from the text, so the result is safe to insert into a page as it is.
func (s Snippet) HTML() template.HTML {
	var b strings.Builder
	for _, seg := range s {
		if seg.Mark {
			b.WriteString("<mark>")
		}
		template.HTMLEscape(&b, []byte(seg.Text))
		if seg.Mark {
			b.WriteString("</mark>")
		}
	}
	return template.HTML(b.String()) //nolint:gosec // every byte of text is escaped above
}

// parseSnippet splits snippet() output at the markers FTS5 inserted (U+E000 opens a match,
// U+E001 closes it, U+E002 stands where text was left out). The indexed text never contains
// the markers (cleanSQL), so any found are FTS5's; a close without an open is dropped, and
// a match still open at the end ends there. NUL becomes U+FFFD.
func parseSnippet(raw string) Snippet {
	raw = strings.ToValidUTF8(raw, "\uFFFD")
	var out Snippet
	var cur strings.Builder
	mark := false
	flush := func() {
		if cur.Len() == 0 {
			return
		}
		if n := len(out); n > 0 && out[n-1].Mark == mark {
			out[n-1].Text += cur.String()
		} else {
			out = append(out, Segment{Text: cur.String(), Mark: mark})
		}
		cur.Reset()
	}
	for _, r := range raw {
		switch r {
		case markOpen:
			if !mark {
				flush()
				mark = true
			}
		case markClose:
			if mark {
				flush()
				mark = false
			}
		case markElide:
			cur.WriteRune('…')
		case 0:
			cur.WriteRune('\uFFFD') // as HTMLEscape writes it, so that Text and HTML agree
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}
