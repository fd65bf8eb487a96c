package search

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/golang-migrate/migrate/v4/source"

	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// indexVersion is the tenant schema version that adds the index (and its triggers).
const indexVersion = 3

// tenantMigrations are the tenant migrations; beforeIndex those up to the version before the
// index (a tenant written before it). Each is one fs.FS value for the whole package (schema
// caches it).
var (
	tenantMigrations = os.DirFS("../migrations/tenant")
	beforeIndex      = mustUpTo(indexVersion - 1)
)

func mustUpTo(max uint) fs.FS {
	m := fstest.MapFS{}
	names, err := fs.Glob(tenantMigrations, "*.sql")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		if mig, err := source.DefaultParse(path.Base(n)); err != nil || mig.Version > max {
			continue
		}
		b, err := fs.ReadFile(tenantMigrations, n)
		if err != nil {
			panic(err)
		}
		m[n] = &fstest.MapFile{Data: b}
	}
	return m
}

// openDB returns a fresh tenant database with one connection (as tenants are opened),
// migrated with migrations.
func openDB(tb testing.TB, migrations fs.FS) *sql.DB {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "tenant.db"), 1)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := schema.Up(db, migrations); err != nil {
		tb.Fatal(err)
	}
	return db
}

// seed writes tickets, conversations, messages and tags with the statements the desk runs;
// the index follows through the triggers (on a database that has them).
type seed struct {
	tb  testing.TB
	db  *sql.DB
	ctx context.Context
}

func newSeed(tb testing.TB, db *sql.DB) *seed { return &seed{tb, db, context.Background()} }

func (s *seed) inTx(fn func(tx *sql.Tx) error) {
	s.tb.Helper()
	tx, err := s.db.BeginTx(s.ctx, nil)
	if err != nil {
		s.tb.Fatal(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		s.tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		s.tb.Fatal(err)
	}
}

var nextToken int

// ticket opens a ticket for the contact with email (made on first use, renamed to name
// otherwise, as the desk does) with its conversation, the question as its first message,
// and returns the ticket and conversation ids.
func (s *seed) ticket(name, email, question string, at int64) (ticketID, convID int64) {
	s.tb.Helper()
	s.inTx(func(tx *sql.Tx) error {
		var err error
		ticketID, convID, err = insertTicket(s.ctx, tx, name, email, question, at, true)
		return err
	})
	return ticketID, convID
}

// insertTicket is ticket in tx; withQuestion=false leaves the conversation empty (a ticket an
// agent took before conversations started with the question).
func insertTicket(ctx context.Context, tx *sql.Tx, name, email, question string, at int64, withQuestion bool) (ticketID, convID int64, err error) {
	var contactID int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO contacts (email, name, created_at, updated_at)
		VALUES (lower(?), ?, ?, ?) ON CONFLICT (email) DO UPDATE SET name = excluded.name,
		updated_at = excluded.updated_at RETURNING id`, email, name, at, at).Scan(&contactID); err != nil {
		return 0, 0, err
	}
	nextToken++
	r, err := tx.ExecContext(ctx, `INSERT INTO tickets (contact_id, customer_name,
		customer_email, query, token_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		contactID, name, email, question, []byte{byte(nextToken), byte(nextToken >> 8), byte(nextToken >> 16), 1}, at, at)
	if err != nil {
		return 0, 0, err
	}
	if ticketID, err = r.LastInsertId(); err != nil {
		return 0, 0, err
	}
	r, err = tx.ExecContext(ctx, `INSERT INTO conversations (ticket_id, created_at) VALUES (?, ?)`, ticketID, at)
	if err != nil {
		return 0, 0, err
	}
	if convID, err = r.LastInsertId(); err != nil {
		return 0, 0, err
	}
	if withQuestion {
		_, err = insertMessage(ctx, tx, convID, "customer", question, at)
	}
	return ticketID, convID, err
}

func insertMessage(ctx context.Context, tx *sql.Tx, convID int64, sender, body string, at int64) (int64, error) {
	r, err := tx.ExecContext(ctx, `INSERT INTO messages (conversation_id, sender, body, created_at)
		VALUES (?, ?, ?, ?)`, convID, sender, body, at)
	if err != nil {
		return 0, err
	}
	return r.LastInsertId()
}

// message adds a message from sender (customer, agent, note, activity) and returns its id.
func (s *seed) message(convID int64, sender, body string, at int64) (id int64) {
	s.tb.Helper()
	s.inTx(func(tx *sql.Tx) error {
		var err error
		id, err = insertMessage(s.ctx, tx, convID, sender, body, at)
		return err
	})
	return id
}

// tags replaces a ticket's tags the way the desk does: every row deleted, the new ones added.
func (s *seed) tags(ticketID int64, tags ...string) {
	s.tb.Helper()
	s.inTx(func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(s.ctx, `DELETE FROM ticket_tags WHERE ticket_id = ?`, ticketID); err != nil {
			return err
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(s.ctx, `INSERT INTO ticket_tags (ticket_id, tag) VALUES (?, ?)`, ticketID, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// putDoc writes a document straight into the index, as the triggers would for a row with
// that id (ranking tests that need thousands of documents on made-up tickets).
func putDoc(ctx context.Context, tx *sql.Tx, k Key, ticketID int64, text string, at int64) error {
	rowid, err := k.rowid()
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
		VALUES (?, `+cleanSQL("?")+`, ?, ?, ?)`, rowid, text, ticketID, int64(k.Kind), at)
	return err
}

// find runs Find and fails the test on an error.
func find(tb testing.TB, db Queryer, input string, opt Options) Result {
	tb.Helper()
	res, err := Find(context.Background(), db, Parse(input), opt)
	if err != nil {
		tb.Fatalf("Find(%q): %v", input, err)
	}
	return res
}

func ticketIDs(res Result) []int64 {
	ids := make([]int64, len(res.Hits))
	for i, h := range res.Hits {
		ids[i] = h.TicketID
	}
	return ids
}
