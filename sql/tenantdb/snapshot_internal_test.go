package tenantdb

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// TestCopyDatabase: the replica snapshot (a logical copy) keeps every object and every value
// with its storage class: date-like text stays text, blobs stay blobs, reals, NULLs, the
// AUTOINCREMENT counters, indexes, triggers, views, and a full-text table with its index.
func TestCopyDatabase(t *testing.T) {
	dir := t.TempDir()
	src, err := sqlite.Open(filepath.Join(dir, "src.db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, stmt := range []string{
		`CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, txt TEXT, b BLOB, r REAL, n INTEGER, "odd ""name""" TEXT)`,
		`CREATE INDEX t_txt ON t (txt)`,
		`CREATE TABLE log (v TEXT)`,
		`CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.txt); END`,
		`CREATE VIEW tv AS SELECT id, txt FROM t`,
		`CREATE VIRTUAL TABLE docs USING fts5 (body)`,
		`INSERT INTO t (txt, b, r, n, "odd ""name""") VALUES ('2024-01-02', x'00ff10', 1.0000000000000002, NULL, 'q')`,
		`INSERT INTO t (txt, b, r, n) VALUES ('plain', NULL, -3.5, 42)`,
		`DELETE FROM t WHERE txt = 'plain'`,
		`INSERT INTO docs (body) VALUES ('the printer is on fire'), ('unplug it')`,
	} {
		if _, err := src.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	path := filepath.Join(dir, "copy.db")
	if err := copyDatabase(src, path); err != nil {
		t.Fatal(err)
	}
	if err := copyDatabase(src, path); err == nil {
		t.Error("copy onto an existing file: got nil error")
	}
	dst, err := sqlite.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	for _, q := range []string{
		`SELECT group_concat(type || ':' || name, ',') FROM (SELECT type, name FROM sqlite_master ORDER BY name)`,
		`SELECT group_concat(id || typeof(txt) || CAST(txt AS BLOB) || hex(b) || typeof(b) || quote(r) || typeof(n) || CAST("odd ""name""" AS BLOB), ';') FROM t`,
		`SELECT CAST(group_concat(v) AS BLOB) FROM log`,
		`SELECT seq FROM sqlite_sequence WHERE name = 't'`,
		`SELECT count(*) FROM sqlite_sequence`,
		`SELECT group_concat(rowid) FROM docs WHERE docs MATCH 'printer'`,
		`SELECT count(*) FROM tv`,
		`PRAGMA integrity_check`,
	} {
		if a, b := one(t, src, q), one(t, dst, q); a != b {
			t.Errorf("%s:\n source %q\n   copy %q", q, a, b)
		}
	}
}

func one(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var raw any
	if err := db.QueryRow(q).Scan(&raw); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if b, ok := raw.([]byte); ok {
		return string(b)
	}
	return fmt.Sprint(raw)
}
