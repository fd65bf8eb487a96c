package tenantdb_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	libsql "github.com/tursodatabase/go-libsql"

	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb/sqldtest"
)

// TestProbeFacts logs what go-libsql's embedded replicas do against this sqld, the facts the
// replica code is built on. It only logs; run it when a
// version changes:
//
//	TENANTDB_PROBE=1 go test -tags libsqlite3 -run TestProbeFacts -v ./sql/tenantdb/
func TestProbeFacts(t *testing.T) {
	if os.Getenv("TENANTDB_PROBE") == "" {
		t.Skip("set TENANTDB_PROBE=1 to run")
	}
	s := sqldtest.Start(t)
	secret, public, _ := tenantdb.KeyPair()
	pub, _ := decodeKey(public)
	if err := s.CreateNamespace("probe", pub); err != nil {
		t.Fatal(err)
	}
	t.Logf("create of an existing namespace: %v", s.CreateNamespace("probe", pub))
	token, _ := tenantdb.MintToken(secret, "probe", time.Hour)
	dir := t.TempDir()
	path := filepath.Join(dir, "probe.db")
	open := func(what string) (*libsql.Connector, *sql.DB) {
		start := time.Now()
		c, err := libsql.NewEmbeddedReplicaConnector(path, s.DBURL("probe"), libsql.WithAuthToken(token))
		t.Logf("open (%s): %v, err %v", what, time.Since(start), err)
		if err != nil {
			return nil, nil
		}
		return c, sql.OpenDB(c)
	}
	exec := func(db *sql.DB, q string, args ...any) {
		start := time.Now()
		_, err := db.Exec(q, args...)
		t.Logf("%-60.60q %8v err %v", q, time.Since(start).Round(time.Microsecond), err)
	}
	count := func(db *sql.DB, q string) string {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			return err.Error()
		}
		return strconv.Itoa(n)
	}

	c, db := open("new")
	exec(db, "BEGIN IMMEDIATE")
	exec(db, "CREATE TABLE t (v TEXT)")
	exec(db, "COMMIT")
	exec(db, "CREATE TABLE u (x); CREATE TABLE w (y); INSERT INTO t VALUES ('multi')")
	t.Logf("tables made by a 3-statement string: %s", count(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('u','w')"))
	for i := range 5 {
		exec(db, "INSERT INTO t VALUES (?)", i)
	}
	exec(db, "CREATE UNIQUE INDEX tv ON t (v)")
	exec(db, "INSERT INTO t VALUES ('1')")
	exec(db, "VACUUM INTO ?", filepath.Join(dir, "snap.db"))
	_, err := s.Pipeline("probe", token, "INSERT INTO t VALUES ('on the primary')")
	t.Logf("write on the primary: %v", err)
	start := time.Now()
	_, err = c.Sync()
	t.Logf("sync: %v, err %v; rows now %s", time.Since(start), err, count(db, "SELECT count(*) FROM t"))

	s.Stop()
	exec(db, "INSERT INTO t VALUES ('while stopped')")
	t.Logf("read while stopped: %s rows", count(db, "SELECT count(*) FROM t"))
	start = time.Now()
	_, err = c.Sync()
	t.Logf("sync while stopped: %v, err %v", time.Since(start), err)
	db.Close()
	c.Close()
	open("existing files, primary stopped")
	s.Restart()

	// The namespace deleted and created again, empty, behind the replica's back.
	c, db = open("after restart")
	t.Logf("rows: %s", count(db, "SELECT count(*) FROM t"))
	db.Close()
	c.Close()
	time.Sleep(100 * time.Millisecond)
	t.Logf("delete: %v, create: %v", s.DeleteNamespace("probe"), s.CreateNamespace("probe", pub))
	c, db = open("old files, namespace re-created empty")
	if db != nil {
		t.Logf("rows the re-created (empty) namespace shows: %s", count(db, "SELECT count(*) FROM t"))
		exec(db, "CREATE TABLE t (v TEXT)")
		c.Sync()
		t.Logf("after a write and a sync: %s", count(db, "SELECT count(*) FROM t"))
		db.Close()
		c.Close()
	}

	// Another namespace's token.
	_, public2, _ := tenantdb.KeyPair()
	p2, _ := decodeKey(public2)
	s.CreateNamespace("other", p2)
	start = time.Now()
	c2, err := libsql.NewEmbeddedReplicaConnector(filepath.Join(t.TempDir(), "o.db"), s.DBURL("other"), libsql.WithAuthToken(token))
	t.Logf("open another namespace with this token: %v, err %v", time.Since(start), err)
	if c2 != nil {
		c2.Close()
	}
}
