package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// TestNULTruncatesBoundStrings: go-libsql hands string arguments to SQLite as C strings, so a
// NUL would silently cut "visible\x00HIDDEN" down to "visible". Every string bound for the
// database is refused with a NUL in it, on every pool size, inside transactions too; BLOBs
// carry their length and keep their NULs.
func TestNULTruncatesBoundStrings(t *testing.T) {
	type label string
	for _, conns := range []int{1, 4} {
		db, err := Open(filepath.Join(t.TempDir(), "x.db"), conns)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE t (v TEXT, b BLOB)"); err != nil {
			t.Fatal(err)
		}
		for _, arg := range []any{"visible\x00HIDDEN", "\x00", label("named\x00type")} {
			_, err := db.Exec("INSERT INTO t (v) VALUES (?)", arg)
			if err == nil {
				t.Errorf("%d conns: a string with a NUL (%q) was bound", conns, arg)
			} else if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("%d conns: %v, want an Invalid error", conns, err)
			}
			var n int
			if err := db.QueryRow("SELECT count(*) FROM t WHERE v = ?", arg).Scan(&n); err == nil {
				t.Errorf("%d conns: a query bound a string with a NUL (%q)", conns, arg)
			}
		}
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO t (v) VALUES (?)", "in a\x00transaction"); err == nil {
			t.Errorf("%d conns: a transaction bound a string with a NUL", conns)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d conns: %d rows stored, %v; want none", conns, n, err)
		}
		if _, err := db.Exec("INSERT INTO t (v, b) VALUES (?, ?)", "tab\tand\nnewline", []byte("blob\x00kept")); err != nil {
			t.Fatalf("%d conns: an ordinary string and a BLOB: %v", conns, err)
		}
		var v string
		var b []byte
		if err := db.QueryRow("SELECT CAST(v AS BLOB), b FROM t").Scan(&v, &b); err != nil {
			t.Fatal(err)
		}
		if v != "tab\tand\nnewline" || string(b) != "blob\x00kept" {
			t.Fatalf("%d conns: stored %q and %q", conns, v, b)
		}
	}
}
