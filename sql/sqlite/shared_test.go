package sqlite

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// A transaction holds the one connection: another caller's statement waits for its end and
// then sees its writes.
func TestSharedConnectionTransactionHoldsIt(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "s.db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (v INTEGER)"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1)
	go func() {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
			t.Error(err)
		}
		got <- n
	}()
	select {
	case n := <-got:
		t.Fatalf("a query ran while a transaction held the connection (saw %d rows)", n)
	case <-time.After(100 * time.Millisecond):
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != 1 {
		t.Errorf("query after the commit saw %d rows, want 1", n)
	}
}

// Waiters are served in arrival order.
func TestSharedConnectionServesInOrder(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "s.db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (seq INTEGER)"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const n = 20
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (?)", i); err != nil {
				t.Error(err)
			}
		}()
		time.Sleep(5 * time.Millisecond) // arrive one after the other, all waiting
	}
	tx.Rollback()
	wg.Wait()
	rows, err := db.QueryContext(ctx, "SELECT seq FROM t ORDER BY rowid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := 0
	for rows.Next() {
		var seq int
		rows.Scan(&seq)
		if seq != want {
			t.Fatalf("insert %d ran in place %d: not in arrival order", seq, want)
		}
		want++
	}
	if want != n {
		t.Fatalf("%d inserts ran, want %d", want, n)
	}
}

// Close waits for the statement that holds the connection.
func TestSharedConnectionCloseWaitsForItsUser(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "s.db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query("SELECT 1 UNION ALL SELECT 2")
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { db.Close(); close(closed) }()
	time.Sleep(50 * time.Millisecond)
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return once the rows were closed")
	}
}
