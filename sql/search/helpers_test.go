package search

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// tenantMigrations are the tenant migrations the index's migration follows (those numbered
// below it: higher numbers belong to other features); withSearch adds it as the next version.
// Each is one fs.FS value for the whole package (schema caches it).
var (
	tenantMigrations = mustBelowSearch()
	withSearch       = mustWithSearch()
)

// searchVersion is the number of the index's migration file.
const searchVersion = "0003"

func mustBelowSearch() fs.FS {
	return mustCollect(os.DirFS("../migrations/tenant"), func(name string) bool { return name < searchVersion })
}

func mustWithSearch() fs.FS {
	m := mustCollect(tenantMigrations, func(string) bool { return true })
	for n, f := range mustCollect(os.DirFS("migration"), func(string) bool { return true }) {
		m[n] = f
	}
	return m
}

// mustCollect copies the .sql files of dir that keep accepts into a MapFS.
func mustCollect(dir fs.FS, keep func(name string) bool) fstest.MapFS {
	m := fstest.MapFS{}
	names, err := fs.Glob(dir, "*.sql")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		if !keep(n) {
			continue
		}
		b, err := fs.ReadFile(dir, n)
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

// seed writes tickets, conversations and messages the way the store does, with their
// documents in the same transaction.
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

// ticket opens a ticket for the contact with email (made on first use) with its conversation
// and returns the ticket and conversation ids. index=false writes the rows without documents
// (a tenant from before the index).
func (s *seed) ticket(name, email, question string, at int64, index bool) (ticketID, convID int64) {
	s.tb.Helper()
	s.inTx(func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(s.ctx, `INSERT OR IGNORE INTO contacts (email, name,
			created_at, updated_at) VALUES (lower(?), ?, ?, ?)`, email, name, at, at); err != nil {
			return err
		}
		var contactID int64
		if err := tx.QueryRowContext(s.ctx, `SELECT id FROM contacts WHERE email = lower(?)`,
			email).Scan(&contactID); err != nil {
			return err
		}
		nextToken++
		r, err := tx.ExecContext(s.ctx, `INSERT INTO tickets (contact_id, customer_name,
			customer_email, query, token_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			contactID, name, email, question, []byte{byte(nextToken), byte(nextToken >> 8), byte(nextToken >> 16), 1}, at, at)
		if err != nil {
			return err
		}
		if ticketID, err = r.LastInsertId(); err != nil {
			return err
		}
		r, err = tx.ExecContext(s.ctx, `INSERT INTO conversations (ticket_id, created_at)
			VALUES (?, ?)`, ticketID, at)
		if err != nil {
			return err
		}
		if convID, err = r.LastInsertId(); err != nil {
			return err
		}
		if !index {
			return nil
		}
		return Put(s.ctx, tx, Question(ticketID, question, at), Contact(ticketID, name, email, at))
	})
	return ticketID, convID
}

// message adds a message to a conversation and returns its id.
func (s *seed) message(ticketID, convID int64, body string, at int64, index bool) (id int64) {
	s.tb.Helper()
	s.inTx(func(tx *sql.Tx) error {
		r, err := tx.ExecContext(s.ctx, `INSERT INTO messages (conversation_id, sender, body, created_at)
			VALUES (?, 'customer', ?, ?)`, convID, body, at)
		if err != nil {
			return err
		}
		if id, err = r.LastInsertId(); err != nil {
			return err
		}
		if !index {
			return nil
		}
		return Put(s.ctx, tx, Message(id, ticketID, body, at))
	})
	return id
}

// put writes documents in a transaction of their own.
func (s *seed) put(docs ...Doc) {
	s.tb.Helper()
	s.inTx(func(tx *sql.Tx) error { return Put(s.ctx, tx, docs...) })
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
