package tenantdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// hangingDriver stands in for go-libsql at the process boundary: every call blocks while
// hang is set (like a write to a frozen primary) and then answers; it counts open native
// connections and catches use after close.
type hangingDriver struct {
	mu      sync.Mutex
	hang    chan struct{} // calls block until it is closed; nil: answer at once
	open    atomic.Int32
	calls   atomic.Int32
	misuse  atomic.Int32
	failMsg string
}

func (d *hangingDriver) block() {
	d.mu.Lock()
	h := d.hang
	d.mu.Unlock()
	if h != nil {
		<-h
	}
}

func (d *hangingDriver) freeze() {
	d.mu.Lock()
	d.hang = make(chan struct{})
	d.mu.Unlock()
}

func (d *hangingDriver) thaw() {
	d.mu.Lock()
	if d.hang != nil {
		close(d.hang)
		d.hang = nil
	}
	d.mu.Unlock()
}

func (d *hangingDriver) Connect(context.Context) (driver.Conn, error) {
	d.block()
	d.open.Add(1)
	return &hangingConn{d: d}, nil
}

func (d *hangingDriver) Driver() driver.Driver { return nil }

type hangingConn struct {
	d      *hangingDriver
	closed atomic.Bool
	busy   atomic.Int32
}

func (c *hangingConn) enter() {
	if c.closed.Load() || c.busy.Add(1) > 1 {
		c.d.misuse.Add(1)
	}
	c.d.calls.Add(1)
}
func (c *hangingConn) leave() { c.busy.Add(-1) }

func (c *hangingConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("no prepare") }
func (c *hangingConn) Begin() (driver.Tx, error)           { return nil, errors.New("no tx") }

func (c *hangingConn) Close() error {
	if c.busy.Load() != 0 || c.closed.Swap(true) {
		c.d.misuse.Add(1)
	}
	c.d.open.Add(-1)
	return nil
}

func (c *hangingConn) ExecContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Result, error) {
	c.enter()
	defer c.leave()
	c.d.block()
	if c.d.failMsg != "" {
		return nil, errors.New(c.d.failMsg)
	}
	return driver.RowsAffected(1), nil
}

func (c *hangingConn) QueryContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	c.enter()
	defer c.leave()
	c.d.block()
	return &hangingRows{c: c, n: 3}, nil
}

type hangingRows struct {
	c *hangingConn
	n int
}

func (r *hangingRows) Columns() []string { return []string{"x"} }
func (r *hangingRows) Close() error      { return nil }
func (r *hangingRows) Next(dest []driver.Value) error {
	r.c.enter()
	defer r.c.leave()
	r.c.d.block()
	if r.n == 0 {
		return io.EOF
	}
	r.n--
	dest[0] = int64(r.n)
	return nil
}

func guardedDB(d *hangingDriver, timeout time.Duration, maxStuck int) (*sql.DB, *guard) {
	g := newGuard("test", timeout, maxStuck)
	db := sql.OpenDB(&guardedConnector{inner: d, g: g})
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	return db, g
}

// TestGuardDeadline: a call into a hanging driver returns an Unavailable error after the
// deadline, its connection is not reused, other calls go on on a fresh connection, and when the
// driver answers, the abandoned call finishes and its connection is closed exactly once.
func TestGuardDeadline(t *testing.T) {
	d := &hangingDriver{}
	db, g := guardedDB(d, 100*time.Millisecond, 2)
	if _, err := db.Exec("INSERT 1"); err != nil {
		t.Fatal(err)
	}
	d.freeze()
	start := time.Now()
	_, err := db.Exec("INSERT 2")
	if took := time.Since(start); took < 90*time.Millisecond || took > time.Second {
		t.Errorf("a hanging call returned after %v, want about the 100 ms deadline", took)
	}
	if !apperr.Is(err, apperr.Unavailable) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("hanging call: %v, want an Unavailable timeout", err)
	}
	var ue *UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no answer within the deadline") {
		t.Errorf("error text %q does not say why (for the log)", err)
	}
	if e, _ := apperr.As(err); e == nil || e.Code != CodeUnavailable {
		t.Errorf("the error people are shown is %v, want code %s", e, CodeUnavailable)
	}
	if got := g.stuck.Load(); got != 1 {
		t.Errorf("stuck calls = %d, want 1", got)
	}
	// A second hanging call, then the bound: further calls fail at once.
	if _, err := db.Exec("INSERT 3"); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("second hanging call: %v", err)
	}
	start = time.Now()
	_, err = db.Exec("INSERT 4")
	if !errors.Is(err, errTooManyStuck) || time.Since(start) > 50*time.Millisecond {
		t.Errorf("past the bound of stuck calls: %v after %v, want errTooManyStuck at once", err, time.Since(start))
	}
	d.thaw()
	if !waitUntil(time.Second, func() bool { return g.stuck.Load() == 0 }) {
		t.Fatalf("stuck calls after the driver answered: %d", g.stuck.Load())
	}
	var n int
	rows, err := db.Query("SELECT")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		n++
	}
	rows.Close()
	if n != 3 {
		t.Errorf("rows after recovery = %d, want 3", n)
	}
	db.Close()
	<-g.drained()
	if d.open.Load() != 0 || d.misuse.Load() != 0 {
		t.Errorf("native connections open %d, misuses %d; want 0 and 0", d.open.Load(), d.misuse.Load())
	}
}

// TestGuardContext: a cancelled request stops waiting at once (the call goes on, bounded).
func TestGuardContext(t *testing.T) {
	d := &hangingDriver{}
	db, g := guardedDB(d, time.Minute, 4)
	defer db.Close()
	if _, err := db.Exec("warm"); err != nil {
		t.Fatal(err)
	}
	d.freeze()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := db.ExecContext(ctx, "x"); err == nil || time.Since(start) > time.Second {
		t.Errorf("cancelled call: %v after %v", err, time.Since(start))
	}
	d.thaw()
	if !waitUntil(time.Second, func() bool { return g.stuck.Load() == 0 }) {
		t.Error("the abandoned call never finished")
	}
}

// TestClassify: driver errors that mean "primary unreachable" become Unavailable; SQLite's
// own errors pass through (a UNIQUE violation on the primary stays a conflict to detect).
func TestClassify(t *testing.T) {
	for msg, unavailable := range map[string]bool{
		"failed to execute query INSERT\nerror code = 2: Error executing statement: Write delegation: `status: Unavailable, message: \"error trying to connect: tcp connect error: Connection refused (os error 111)\"`": true,
		"failed to sync database \nerror code = 1: Error syncing database: replication error: Timeout performing handshake with primary":                                                                                 true,
		"failed to execute query INSERT\nerror code = 2: Error executing statement: Remote SQlite failure: `3:2067:UNIQUE constraint failed: t.v`":                                                                       false,
		"failed to execute query SELECT\nerror code = 1: Error executing statement: SQLite failure: `no such table: t`":                                                                                                  false,
	} {
		err := classify("op", errors.New(msg))
		if got := apperr.Is(err, apperr.Unavailable); got != unavailable {
			t.Errorf("classify(%.60q…) unavailable = %v, want %v", msg, got, unavailable)
		}
		if !strings.Contains(err.Error(), msg) {
			t.Errorf("classify lost the cause: %v", err)
		}
	}
	if classify("op", io.EOF) != io.EOF || classify("op", nil) != nil {
		t.Error("classify must pass io.EOF and nil through")
	}
}

// TestSealer: credentials round-trip; another key, another database name or a changed byte
// do not open; nothing of the secret is visible in the sealed form.
func TestSealer(t *testing.T) {
	k1, _ := CredentialKey([]byte("0123456789abcdef0123456789abcdef"))
	k2, _ := CredentialKey([]byte("another session secret, 32 bytes"))
	if string(k1) == "0123456789abcdef0123456789abcdef" || len(k1) != 32 {
		t.Fatal("CredentialKey must derive a new 32-byte key")
	}
	s1, _ := NewSealer(k1)
	s2, _ := NewSealer(k2)
	const secret = "eyJhbGciOiJFZERTQSJ9.database-token.signature"
	sealed, err := s1.Seal("tenantdesk-acme", secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "database-token") || !strings.HasPrefix(sealed, "v1:") {
		t.Fatalf("sealed = %q", sealed)
	}
	if again, _ := s1.Seal("tenantdesk-acme", secret); again == sealed {
		t.Error("two seals of one secret are equal: the nonce is not random")
	}
	if got, err := s1.Open("tenantdesk-acme", sealed); err != nil || got != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s2.Open("tenantdesk-acme", sealed); err == nil {
		t.Error("another key opened the credential")
	}
	if _, err := s1.Open("tenantdesk-other", sealed); err == nil {
		t.Error("the credential opened for another database")
	}
	b := []byte(sealed)
	b[len(b)-3] ^= 1
	if _, err := s1.Open("tenantdesk-acme", string(b)); err == nil {
		t.Error("an altered credential opened")
	}
	if got, err := s1.Open("x", ""); got != "" || err != nil {
		t.Error("an empty credential must stay empty")
	}
}

func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
