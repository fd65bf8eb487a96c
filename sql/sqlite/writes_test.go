package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

func TestWritesCountsEveryWriteAndNoRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counted.db")
	db, err := Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := WritesOf(db)
	if w == nil || w != WritesTo("counted") {
		t.Fatalf("WritesOf(db) = %p, want WritesTo(\"counted\") = %p", w, WritesTo("counted"))
	}
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name             string
		run              func() error
		changes, appends bool
	}{
		{"select", func() error {
			var n int
			return db.QueryRowContext(ctx, "  -- a comment\n SELECT count(*) FROM t").Scan(&n)
		}, false, false},
		{"exec insert", func() error {
			_, err := db.ExecContext(ctx, "INSERT INTO t (v) VALUES ('a')")
			return err
		}, true, false},
		{"insert returning", func() error {
			var id int64
			return db.QueryRowContext(ctx, "INSERT INTO t (v) VALUES ('b') RETURNING id").Scan(&id)
		}, true, false},
		{"append", func() error {
			var id int64
			return db.QueryRowContext(Append(ctx), "INSERT INTO t (v) VALUES ('c') RETURNING id").Scan(&id)
		}, false, true},
		{"with … update", func() error {
			_, err := db.ExecContext(ctx, "WITH x AS (SELECT 1) UPDATE t SET v = 'd' WHERE id = 1")
			return err
		}, true, false},
		{"transaction", func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE t SET v = 'e'"); err != nil {
				return err
			}
			return tx.Commit()
		}, true, false},
		{"rolled back", func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			return tx.Rollback()
		}, true, false},
	}
	for _, s := range steps {
		c0, a0 := w.Changes(), w.Appends()
		if err := s.run(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := w.Changes() != c0; got != s.changes {
			t.Errorf("%s: Changes moved = %v, want %v", s.name, got, s.changes)
		}
		if got := w.Appends() != a0; got != s.appends {
			t.Errorf("%s: Appends moved = %v, want %v", s.name, got, s.appends)
		}
	}

	// The counter outlives the pool: a reopened database counts on.
	c := w.Changes()
	db.Close()
	if WritesOf(db) != nil {
		t.Error("WritesOf a closed pool is not nil")
	}
	db2, err := Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if WritesOf(db2) != w || w.Changes() < c {
		t.Errorf("reopened: counter %p at %d, want %p at ≥ %d", WritesOf(db2), w.Changes(), w, c)
	}
}

func TestIsRead(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                             true,
		"select\n* from t":                     true,
		"  /* x */ SELECT 1":                   true,
		"VALUES (1)":                           true,
		"EXPLAIN QUERY PLAN SELECT":            true,
		"SELECTED":                             false,
		"INSERT INTO t VALUES (1)":             false,
		"WITH x AS (SELECT 1) SELECT * FROM x": false, // conservatively a write
		"PRAGMA journal_mode":                  false,
		"-- only a comment":                    false,
		"":                                     false,
	} {
		if got := isRead(q); got != want {
			t.Errorf("isRead(%q) = %v, want %v", q, got, want)
		}
	}
}
