package tenantdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// go-libsql ignores context and has no timeouts: a write forwarded to a primary that accepts
// TCP but never answers blocks for minutes. The guard gives every call into the driver a
// deadline of our own. The call runs in a goroutine; when the deadline (or the request's
// context) passes first, the caller gets an *UnavailableError at once, the goroutine is left to
// finish, and its connection is marked bad so that database/sql never hands it out again.
//
// Such abandoned calls still hold a native connection, so they are bounded: past maxStuck per
// database, calls fail at once instead of starting another goroutine. A connection's native
// handle is only ever used by one goroutine at a time (its sem), and it is disconnected only
// after its last call returned, so an abandoned call never runs on freed memory. The replica
// closes its connector only when every native call and connection is gone (idle).

// guard is shared by every connection of one database.
type guard struct {
	op       string // names the database in errors
	timeout  time.Duration
	maxStuck int32

	stuck atomic.Int32 // abandoned calls still running
	mu    sync.Mutex
	live  int           // native connections not yet disconnected, plus calls in flight
	idle  chan struct{} // closed when live drops to 0 after close was requested
	done  bool          // closing: idle is waited for
}

func newGuard(op string, timeout time.Duration, maxStuck int) *guard {
	return &guard{op: op, timeout: timeout, maxStuck: int32(maxStuck), idle: make(chan struct{})}
}

func (g *guard) hold() {
	g.mu.Lock()
	g.live++
	g.mu.Unlock()
}

func (g *guard) unhold() {
	g.mu.Lock()
	g.live--
	if g.live == 0 && g.done {
		select {
		case <-g.idle:
		default:
			close(g.idle)
		}
	}
	g.mu.Unlock()
}

// drained returns a channel closed once no native call or connection is left.
func (g *guard) drained() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done = true
	if g.live == 0 {
		select {
		case <-g.idle:
		default:
			close(g.idle)
		}
	}
	return g.idle
}

// errTooManyStuck is the cause when a database already has maxStuck abandoned calls.
var errTooManyStuck = errors.New("too many calls still waiting for the primary")

// run calls fn on a goroutine holding sem and waits for it until the deadline or ctx ends.
// abandoned, if not nil, runs when the caller gave up (to mark a connection bad).
func (g *guard) run(ctx context.Context, what string, sem chan struct{}, fn func() error, abandoned func()) error {
	if g.stuck.Load() >= g.maxStuck {
		return &UnavailableError{Op: g.op + " " + what, Err: errTooManyStuck}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	timer := time.NewTimer(g.timeout)
	defer timer.Stop()
	select {
	case sem <- struct{}{}:
	case <-timer.C:
		if abandoned != nil {
			abandoned()
		}
		return &UnavailableError{Op: g.op + " " + what, Err: ErrTimeout}
	case <-ctx.Done():
		return ctx.Err()
	}
	const (
		waiting = iota
		gaveUp
		finished
	)
	var state atomic.Int32
	result := make(chan error, 1)
	g.hold()
	go func() {
		err := fn()
		if !state.CompareAndSwap(waiting, finished) {
			g.stuck.Add(-1)
		}
		<-sem
		g.unhold()
		result <- err
	}()
	var cause error
	select {
	case err := <-result:
		return classify(g.op+" "+what, err)
	case <-timer.C:
		cause = ErrTimeout
	case <-ctx.Done():
		cause = ctx.Err()
	}
	if !state.CompareAndSwap(waiting, gaveUp) {
		return classify(g.op+" "+what, <-result) // it finished just now
	}
	g.stuck.Add(1)
	if abandoned != nil {
		abandoned()
	}
	if errors.Is(cause, ErrTimeout) {
		return &UnavailableError{Op: g.op + " " + what, Err: cause}
	}
	return cause
}

// later runs fn once sem is free, without waiting for it: cleanup after an abandoned call.
func (g *guard) later(sem chan struct{}, fn func()) {
	select {
	case sem <- struct{}{}:
		fn()
		<-sem
	default:
		g.hold()
		go func() {
			sem <- struct{}{}
			fn()
			<-sem
			g.unhold()
		}()
	}
}

// unreachable are fragments of go-libsql's error texts that mean the primary could not be
// reached (seen against sqld: a stopped server, a wrong host, a handshake that timed out).
// Errors the primary's SQLite raised ("Remote SQlite failure: UNIQUE constraint failed …") are
// not among them and pass through unchanged.
var unreachable = []string{
	"Write delegation",
	"error trying to connect",
	"tcp connect error",
	"Connection refused",
	"connection refused",
	"dns error",
	"failed to lookup address",
	"Timeout performing handshake",
	"replication error",
	"sync error",
	"error syncing",
	"Error syncing",
	"transport error",
	"connection closed",
	"connection reset",
	"broken pipe",
	"status: Unavailable",
	"status: DeadlineExceeded",
	"status: Unknown",
	"Hrana",
	"hrana",
	"stream error",
	"http error",
	"deadline has elapsed",
	"operation timed out",
}

// classify turns errors that mean "primary unreachable" into *UnavailableError.
func classify(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return err
	}
	msg := err.Error()
	for _, m := range unreachable {
		if strings.Contains(msg, m) {
			return &UnavailableError{Op: op, Err: err}
		}
	}
	return err
}

// guardedConnector wraps a go-libsql connector so that its connections are guarded.
type guardedConnector struct {
	inner driver.Connector
	g     *guard
}

func (c *guardedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var conn driver.Conn
	sem := make(chan struct{}, 1)
	gc := &guardedConn{g: c.g, sem: sem}
	err := c.g.run(ctx, "connect", sem, func() error {
		var err error
		conn, err = c.inner.Connect(context.Background())
		if err == nil {
			c.g.hold() // the native connection, until disconnected
		}
		return err
	}, func() { gc.bad.Store(true) })
	if err != nil {
		if gc.bad.Load() {
			// The connect may still succeed later: disconnect it then.
			c.g.later(sem, func() {
				if conn != nil {
					conn.Close()
					c.g.unhold()
				}
			})
		}
		return nil, err
	}
	gc.inner = conn
	return gc, nil
}

func (c *guardedConnector) Driver() driver.Driver { return c.inner.Driver() }

// guardedConn is one native connection.
type guardedConn struct {
	inner  driver.Conn
	g      *guard
	sem    chan struct{}
	bad    atomic.Bool
	closed atomic.Bool
}

var (
	_ driver.Conn               = (*guardedConn)(nil)
	_ driver.ConnPrepareContext = (*guardedConn)(nil)
	_ driver.ConnBeginTx        = (*guardedConn)(nil)
	_ driver.ExecerContext      = (*guardedConn)(nil)
	_ driver.QueryerContext     = (*guardedConn)(nil)
	_ driver.Validator          = (*guardedConn)(nil)
	_ driver.SessionResetter    = (*guardedConn)(nil)
)

func (c *guardedConn) markBad() { c.bad.Store(true) }

func (c *guardedConn) run(ctx context.Context, what string, fn func() error) error {
	if c.bad.Load() {
		return driver.ErrBadConn
	}
	return c.g.run(ctx, what, c.sem, fn, c.markBad)
}

func (c *guardedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *guardedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	err := c.run(ctx, "prepare", func() error {
		var err error
		if p, ok := c.inner.(driver.ConnPrepareContext); ok {
			st, err = p.PrepareContext(context.Background(), query)
		} else {
			st, err = c.inner.Prepare(query)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &guardedStmt{inner: st, c: c}, nil
}

func (c *guardedConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *guardedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	err := c.run(ctx, "begin", func() error {
		var err error
		if b, ok := c.inner.(driver.ConnBeginTx); ok {
			tx, err = b.BeginTx(context.Background(), opts)
		} else {
			tx, err = c.inner.Begin() //nolint:staticcheck // the driver's fallback
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &guardedTx{inner: tx, c: c}, nil
}

func (c *guardedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	var res driver.Result
	err := c.run(ctx, "exec", func() error {
		var err error
		res, err = e.ExecContext(context.Background(), query, args)
		if err == nil && res != nil {
			// go-libsql's result is already computed; read it here so that the
			// caller never touches the native connection outside the guard.
			id, ierr := res.LastInsertId()
			n, nerr := res.RowsAffected()
			res = fixedResult{id, ierr, n, nerr}
		}
		return err
	})
	return res, err
}

func (c *guardedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	var rows driver.Rows
	err := c.run(ctx, "query", func() error {
		var err error
		rows, err = q.QueryContext(context.Background(), query, args)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &guardedRows{inner: rows, c: c, ctx: ctx}, nil
}

// Close disconnects now, or once an abandoned call on this connection returned.
func (c *guardedConn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.g.later(c.sem, func() {
		c.inner.Close()
		c.g.unhold()
	})
	return nil
}

// IsValid and ResetSession make database/sql drop a connection whose call was abandoned.
func (c *guardedConn) IsValid() bool { return !c.bad.Load() }

func (c *guardedConn) ResetSession(context.Context) error {
	if c.bad.Load() {
		return driver.ErrBadConn
	}
	return nil
}

type fixedResult struct {
	id    int64
	idErr error
	n     int64
	nErr  error
}

func (r fixedResult) LastInsertId() (int64, error) { return r.id, r.idErr }
func (r fixedResult) RowsAffected() (int64, error) { return r.n, r.nErr }

type guardedStmt struct {
	inner driver.Stmt
	c     *guardedConn
}

func (s *guardedStmt) Close() error {
	s.c.g.later(s.c.sem, func() { s.inner.Close() })
	return nil
}

func (s *guardedStmt) NumInput() int { return s.inner.NumInput() }

func (s *guardedStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *guardedStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *guardedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	var res driver.Result
	err := s.c.run(ctx, "exec", func() error {
		var err error
		if e, ok := s.inner.(driver.StmtExecContext); ok {
			res, err = e.ExecContext(context.Background(), args)
		} else {
			res, err = s.inner.Exec(values(args)) //nolint:staticcheck // the driver's fallback
		}
		if err == nil && res != nil {
			id, ierr := res.LastInsertId()
			n, nerr := res.RowsAffected()
			res = fixedResult{id, ierr, n, nerr}
		}
		return err
	})
	return res, err
}

func (s *guardedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	var rows driver.Rows
	err := s.c.run(ctx, "query", func() error {
		var err error
		if q, ok := s.inner.(driver.StmtQueryContext); ok {
			rows, err = q.QueryContext(context.Background(), args)
		} else {
			rows, err = s.inner.Query(values(args)) //nolint:staticcheck // the driver's fallback
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &guardedRows{inner: rows, c: s.c, ctx: ctx}, nil
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

func values(args []driver.NamedValue) []driver.Value {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

type guardedTx struct {
	inner driver.Tx
	c     *guardedConn
}

func (t *guardedTx) Commit() error {
	return t.c.run(context.Background(), "commit", t.inner.Commit)
}

func (t *guardedTx) Rollback() error {
	return t.c.run(context.Background(), "rollback", t.inner.Rollback)
}

type guardedRows struct {
	inner  driver.Rows
	c      *guardedConn
	ctx    context.Context
	closed bool
}

func (r *guardedRows) Columns() []string { return r.inner.Columns() }

// Next reads into a private buffer: an abandoned call must not write into dest later.
func (r *guardedRows) Next(dest []driver.Value) error {
	buf := make([]driver.Value, len(dest))
	err := r.c.run(r.ctx, "next", func() error { return r.inner.Next(buf) })
	if err == nil {
		copy(dest, buf)
	}
	return err
}

func (r *guardedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.c.g.later(r.c.sem, func() { r.inner.Close() })
	return nil
}
