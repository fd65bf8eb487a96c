package search

import (
	"context"
	"database/sql"
	"fmt"
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
// Each document's rowid is its source row's id times 8 plus its kind, so a trigger finds a
// document again from the row it fires on, without an index on the UNINDEXED columns.
//
// The index is written by triggers on the tables its texts come from (tenant migration
// 0003), not by the Go code that writes those tables: every writer — the web, email, the
// API, an import that copies rows — keeps it in step, in its own transaction, without
// knowing it exists.
const (
	// Table is the FTS5 table's name.
	Table = "ticket_search"

	// CreateTable creates the index (the migration runs the same statement).
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

// The kinds of documents. Their numbers are part of the rowid scheme (and of the tenant
// migration's triggers): never renumber them.
const (
	// KindQuestion is a ticket's question, indexed only when the ticket's conversation does
	// not hold it as its first message (tickets taken before conversations started with the
	// question); source id = ticket id.
	KindQuestion Kind = 1
	KindMessage  Kind = 2 // a message the customer sees (customer or agent); source id = message id
	KindNote     Kind = 3 // an internal note, staff only; source id = the note's message id
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

// Execer is a *sql.Tx, *sql.Conn or *sql.DB.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Snippet markers: private-use characters that cleanSQL removes from every indexed text,
// so that in snippet() output they can only be the markers FTS5 inserted.
const (
	markOpen  = '\uE000'
	markClose = '\uE001'
	markElide = '\uE002'
)

// cleanSQL is the SQL every indexed text goes through (the rebuild's and the triggers'): the
// snippet markers and NUL become spaces, so that in snippet() output the markers can only be
// the ones FTS5 inserted (NUL would also cut the text short in SQLite's C functions).
func cleanSQL(expr string) string {
	return fmt.Sprintf("replace(replace(replace(replace(%s, char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' ')", expr)
}

// rebuildStatements fill an empty index from the tenant's tables (the schema of
// sql/migrations/tenant): the statements of the migration that creates the index, writing
// what its triggers write. A test checks that the three agree.
var rebuildStatements = []string{
	`INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT m.id * 8 + 2, ` + cleanSQL("m.body") + `, v.ticket_id, 2, m.created_at
FROM messages m JOIN conversations v ON v.id = m.conversation_id
WHERE m.sender IN ('customer', 'agent')`,
	`INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT m.id * 8 + 3, ` + cleanSQL("m.body") + `, v.ticket_id, 3, m.created_at
FROM messages m JOIN conversations v ON v.id = m.conversation_id
WHERE m.sender = 'note'`,
	`INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT t.id * 8 + 4, ` + cleanSQL("t.customer_name || ' ' || t.customer_email || iif(c.name <> t.customer_name, ' ' || c.name, '')") + `, t.id, 4, t.created_at
FROM tickets t JOIN contacts c ON c.id = t.contact_id`,
	`INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT g.ticket_id * 8 + 5, ` + cleanSQL("g.tags") + `, g.ticket_id, 5, t.created_at
FROM (SELECT ticket_id, group_concat(tag, ' ') AS tags FROM ticket_tags GROUP BY ticket_id) g
JOIN tickets t ON t.id = g.ticket_id`,
	`INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT t.id * 8 + 1, ` + cleanSQL("t.query") + `, t.id, 1, t.created_at
FROM tickets t JOIN conversations v ON v.ticket_id = t.id
WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = v.id AND m.sender = 'customer' AND m.body = t.query)`,
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

// Installed reports whether db has the index's triggers, which only the tenant migration
// that adds the index creates: without them a rebuilt index would fall behind at the next
// write, so `tenants reindex` asks for `migrate` first.
func Installed(ctx context.Context, db Queryer) (bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'messages_search_public'`)
	if err != nil {
		return false, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	found := rows.Next()
	return found, rows.Err()
}
