package search

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// The index is one FTS5 table holding a copy of every searchable text of a tenant (a plain
// FTS5 table, not external-content or contentless):
//   - snippet() needs the text, which a contentless table does not keep;
//   - external content would need one content table or view for five kinds of text spread
//     over several tables, and its 'delete' command must be given the exact old text — any
//     mismatch (a cascade delete the store forgot, say) silently corrupts the index;
//   - a plain table deletes and replaces by rowid alone, and the index's text is ours to
//     clean (the snippet markers below can never come from a user).
//
// The copy costs space (the measurements are in the package's benchmark); messages never
// change once written, so it costs no second update.
//
// Each document's rowid is its source row's id times 8 plus its kind, so the store finds a
// document again from what it already knows, without an index on the UNINDEXED columns.
const (
	// Table is the FTS5 table's name.
	Table = "ticket_search"

	// CreateTable creates the index (also run by the migration).
	//   body        the text, tokenized by unicode61 with accents removed;
	//   ticket_id   the ticket the text belongs to (results are tickets);
	//   kind        a Kind, also the rowid's low three bits, from which searches tell what
	//               the viewer may find without reading the row (notes, contacts and tags
	//               are for agents and the owner only);
	//   created_at  Unix seconds, the tie-break after bm25.
	// prefix='2 3' keeps extra index entries for 2- and 3-character prefixes, so that
	// "re" or "ref" as someone types does not scan every token that starts with them.
	CreateTable = `CREATE VIRTUAL TABLE ticket_search USING fts5(
    body,
    ticket_id UNINDEXED,
    kind UNINDEXED,
    created_at UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
)`
)

// Kind is what a document's text is.
type Kind int

// The kinds of documents. Their numbers are part of the rowid scheme: never renumber them.
const (
	KindQuestion Kind = 1 // a ticket's question; source id = ticket id
	KindMessage  Kind = 2 // a message of the conversation; source id = message id
	KindNote     Kind = 3 // an internal note, staff only; source id = the note's id
	KindContact  Kind = 4 // the ticket's contact, name and email, staff only; source id = ticket id
	KindTag      Kind = 5 // the ticket's tags, space-separated, staff only; source id = ticket id
)

func (k Kind) valid() bool { return k >= KindQuestion && k <= KindTag }

// Key names one document: its kind and the id of the row its text comes from.
type Key struct {
	Kind     Kind
	SourceID int64
}

// maxSourceID keeps SourceID*8+Kind inside an int64.
const maxSourceID = 1<<60 - 1

// rowid returns k's rowid in the index.
func (k Key) rowid() (int64, error) {
	if !k.Kind.valid() {
		return 0, fmt.Errorf("search: unknown document kind %d", k.Kind)
	}
	if k.SourceID <= 0 || k.SourceID > maxSourceID {
		return 0, fmt.Errorf("search: source id %d out of range", k.SourceID)
	}
	return k.SourceID<<3 | int64(k.Kind), nil
}

// Doc is one searchable text.
type Doc struct {
	Key
	TicketID  int64
	Text      string
	CreatedAt int64 // Unix seconds
}

// Question is the document of a ticket's question.
func Question(ticketID int64, question string, createdAt int64) Doc {
	return Doc{Key{KindQuestion, ticketID}, ticketID, question, createdAt}
}

// Message is the document of a message on a ticket.
func Message(messageID, ticketID int64, body string, createdAt int64) Doc {
	return Doc{Key{KindMessage, messageID}, ticketID, body, createdAt}
}

// Note is the document of an internal note on a ticket (found only by staff).
func Note(noteID, ticketID int64, body string, createdAt int64) Doc {
	return Doc{Key{KindNote, noteID}, ticketID, body, createdAt}
}

// Contact is the document of a ticket's contact (found only by staff).
func Contact(ticketID int64, name, email string, createdAt int64) Doc {
	return Doc{Key{KindContact, ticketID}, ticketID, name + " " + email, createdAt}
}

// Tags is the document of a ticket's tags (found only by staff); no tags removes it.
func Tags(ticketID int64, tags []string, updatedAt int64) Doc {
	return Doc{Key{KindTag, ticketID}, ticketID, strings.Join(tags, " "), updatedAt}
}

// Execer is a *sql.Tx, *sql.Conn or *sql.DB.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Put adds or replaces documents. Call it in the transaction that writes their source rows,
// so that the index and the data commit together or not at all. A document whose text is
// empty after cleaning is removed instead (a ticket's last tag taken away).
func Put(ctx context.Context, tx Execer, docs ...Doc) error {
	for _, d := range docs {
		rowid, err := d.rowid()
		if err != nil {
			return err
		}
		text := cleanText(d.Text)
		if strings.TrimSpace(text) == "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM ticket_search WHERE rowid = ?`, rowid); err != nil {
				return fmt.Errorf("search: remove %v: %w", d.Key, err)
			}
			continue
		}
		if d.TicketID <= 0 {
			return fmt.Errorf("search: document %v has no ticket", d.Key)
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO ticket_search
			(rowid, body, ticket_id, kind, created_at) VALUES (?, ?, ?, ?, ?)`,
			rowid, text, d.TicketID, int64(d.Kind), d.CreatedAt); err != nil {
			return fmt.Errorf("search: index %v: %w", d.Key, err)
		}
	}
	return nil
}

// Remove deletes documents (a deleted message, note or ticket); a key with no document is no
// error. Deleting a ticket removes its question, contact and tags documents and one document
// per message and note: the store passes their ids before it deletes the rows.
func Remove(ctx context.Context, tx Execer, keys ...Key) error {
	for _, k := range keys {
		rowid, err := k.rowid()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM ticket_search WHERE rowid = ?`, rowid); err != nil {
			return fmt.Errorf("search: remove %v: %w", k, err)
		}
	}
	return nil
}

// TicketKeys returns the keys of a ticket's own documents (question, contact, tags), for
// Remove together with the keys of its messages and notes.
func TicketKeys(ticketID int64) []Key {
	return []Key{{KindQuestion, ticketID}, {KindContact, ticketID}, {KindTag, ticketID}}
}

// Snippet markers: private-use characters that cleanText removes from every indexed text,
// so that in snippet() output they can only be the markers FTS5 inserted.
const (
	markOpen  = '\uE000'
	markClose = '\uE001'
	markElide = '\uE002'
)

// cleanText prepares text for the index: the snippet markers and NUL (which would cut the
// text short in SQLite's C functions) become spaces, invalid UTF-8 becomes U+FFFD.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r == markOpen || r == markClose || r == markElide || r == 0 {
			return ' '
		}
		return r
	}, s)
}

// cleanSQL is cleanText in SQL, for the rebuild, which copies text straight from the tables.
func cleanSQL(expr string) string {
	return fmt.Sprintf("replace(replace(replace(replace(%s, char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' ')", expr)
}

// rebuildStatements fill an empty index from the tenant's tables (the schema of
// sql/migrations/tenant). The migration that creates the index runs the same statements;
// a test checks that both produce the same index.
var rebuildStatements = []string{
	`INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT id * 8 + 1, ` + cleanSQL("query") + `, id, 1, created_at FROM tickets`,
	`INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT id * 8 + 4, ` + cleanSQL("customer_name || ' ' || customer_email") + `, id, 4, created_at FROM tickets`,
	`INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT m.id * 8 + 2, ` + cleanSQL("m.body") + `, c.ticket_id, 2, m.created_at
FROM messages m JOIN conversations c ON c.id = m.conversation_id`,
}

// Rebuild drops the index and builds it again from the tenant's tables, inside tx (the
// operator command `tenants reindex` runs it per tenant, one transaction each). It also
// applies a changed CreateTable (another tokenizer, say) to an existing tenant, and repairs
// an index that Check found corrupt.
func Rebuild(ctx context.Context, tx Execer) error {
	stmts := append([]string{`DROP TABLE IF EXISTS ticket_search`, CreateTable}, rebuildStatements...)
	// Merging the index's b-trees after a bulk load makes the first queries as fast as later
	// ones.
	stmts = append(stmts, `INSERT INTO ticket_search (ticket_search) VALUES ('optimize')`)
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("search: rebuild: %w", err)
		}
	}
	return nil
}

// Check runs FTS5's integrity check on the index (for `tenants check`): an error means the
// index does not match its stored text, or is missing; Rebuild repairs both.
func Check(ctx context.Context, db Execer) error {
	_, err := db.ExecContext(ctx, `INSERT INTO ticket_search (ticket_search, rank) VALUES ('integrity-check', 0)`)
	if err != nil {
		return fmt.Errorf("search: check: %w", err)
	}
	return nil
}
