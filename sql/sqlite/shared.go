package sqlite

// One connection per tenant database serialises its writers without "database is locked"
// errors, but database/sql hands a freed connection to a *random* waiter
// (connRequestSet.TakeRandom): with one connection and many concurrent requests on a busy
// tenant, some wait many turns — a conversation page at 64 connections had p99 four times its
// mean. sharedConnector keeps the single SQLite connection and gives database/sql as many
// connections as it asks for, each taking the real one in turn, first come first served. A
// transaction, or a query until its rows are closed, holds it, as with any pool.

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync"
	"time"
)

// closeWait bounds how long Close waits for the connection to be given back.
const closeWait = 5 * time.Second

// maxShared bounds the connections database/sql may hold on one shared connection (waiters
// beyond it wait in database/sql instead).
const maxShared = 128

// fifo is a lock that hands itself to its waiters in arrival order.
type fifo struct {
	mu   sync.Mutex
	held bool
	q    []chan struct{}
}

func (f *fifo) lock() {
	f.mu.Lock()
	if !f.held {
		f.held = true
		f.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	f.q = append(f.q, ch)
	f.mu.Unlock()
	<-ch
}

func (f *fifo) unlock() {
	f.mu.Lock()
	if len(f.q) > 0 {
		ch := f.q[0]
		f.q[0] = nil
		f.q = f.q[1:]
		f.mu.Unlock()
		close(ch) // ownership passes to the first waiter
		return
	}
	f.held = false
	f.mu.Unlock()
}

type sharedConnector struct {
	inner driver.Connector
	gate  fifo
	mu    sync.Mutex // guards conn
	conn  driver.Conn
}

func newSharedConnector(inner driver.Connector) *sharedConnector {
	return &sharedConnector{inner: inner}
}

// real returns the SQLite connection, connecting on first use (or after it went bad).
func (c *sharedConnector) real(ctx context.Context) (driver.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := c.inner.Connect(ctx)
		if err != nil {
			return nil, err
		}
		c.conn = conn
	}
	return c.conn, nil
}

// bad drops the real connection after the driver reported it unusable.
func (c *sharedConnector) bad(conn driver.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == conn {
		c.conn = nil
		conn.Close()
	}
}

func (c *sharedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if _, err := c.real(ctx); err != nil {
		return nil, err
	}
	return &sharedConn{c: c}, nil
}

func (c *sharedConnector) Driver() driver.Driver { return c.inner.Driver() }

// Close closes the real connection and the wrapped connector (database/sql calls it from
// DB.Close, which does not wait for connections still in use). It waits for whoever holds the
// connection; if that takes longer than closeWait it returns and the close happens when the
// connection is given back — never while a statement runs on it.
func (c *sharedConnector) Close() error {
	closed := make(chan error, 1)
	go func() {
		c.gate.lock()
		defer c.gate.unlock()
		c.mu.Lock()
		conn := c.conn
		c.conn = nil
		c.mu.Unlock()
		var err error
		if conn != nil {
			err = conn.Close()
		}
		if cl, ok := c.inner.(interface{ Close() error }); ok {
			err = errors.Join(err, cl.Close())
		}
		closed <- err
	}()
	select {
	case err := <-closed:
		return err
	case <-time.After(closeWait):
		return errors.New("sqlite: closing a database still in use; it closes when released")
	}
}

// sharedConn is one of database/sql's connections: every use takes the real connection.
type sharedConn struct {
	c    *sharedConnector
	inTx bool // a transaction of this connection holds the gate
	bad  bool
}

var (
	_ driver.Conn               = (*sharedConn)(nil)
	_ driver.ConnPrepareContext = (*sharedConn)(nil)
	_ driver.ConnBeginTx        = (*sharedConn)(nil)
	_ driver.ExecerContext      = (*sharedConn)(nil)
	_ driver.QueryerContext     = (*sharedConn)(nil)
	_ driver.Validator          = (*sharedConn)(nil)
)

// acquire takes the gate (unless this connection's transaction holds it) and returns the real
// connection and the function that gives the gate back.
func (s *sharedConn) acquire(ctx context.Context) (driver.Conn, func(), error) {
	if s.inTx {
		conn, err := s.c.real(ctx)
		return conn, func() {}, err
	}
	s.c.gate.lock()
	conn, err := s.c.real(ctx)
	if err != nil {
		s.c.gate.unlock()
		return nil, nil, err
	}
	var once sync.Once
	return conn, func() { once.Do(s.c.gate.unlock) }, nil
}

func (s *sharedConn) check(conn driver.Conn, err error) error {
	if errors.Is(err, driver.ErrBadConn) {
		s.bad = true
		s.c.bad(conn)
	}
	return err
}

func (s *sharedConn) Prepare(query string) (driver.Stmt, error) {
	return s.PrepareContext(context.Background(), query)
}

// PrepareContext prepares on the real connection; the statement takes the gate when used.
func (s *sharedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	conn, release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var st driver.Stmt
	if p, ok := conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = conn.Prepare(query)
	}
	if err != nil {
		return nil, s.check(conn, err)
	}
	return &sharedStmt{inner: st, conn: s}, nil
}

func (s *sharedConn) Close() error { return nil } // the real connection outlives it

func (s *sharedConn) Begin() (driver.Tx, error) {
	return s.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx takes the gate until the transaction ends.
func (s *sharedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	conn, release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	var tx driver.Tx
	if b, ok := conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		tx, err = conn.Begin() //nolint:staticcheck // the driver's fallback
	}
	if err != nil {
		release()
		return nil, s.check(conn, err)
	}
	s.inTx = true
	return &sharedTx{inner: tx, conn: s, release: release}, nil
}

func (s *sharedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	conn, release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	e, ok := conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	res, err := e.ExecContext(ctx, query, args)
	return res, s.check(conn, err)
}

// QueryContext holds the gate until the rows are closed.
func (s *sharedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	conn, release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		release()
		return nil, driver.ErrSkip
	}
	rows, err := q.QueryContext(ctx, query, args)
	if err != nil {
		release()
		return nil, s.check(conn, err)
	}
	return &sharedRows{Rows: rows, release: release}, nil
}

func (s *sharedConn) IsValid() bool { return !s.bad }

type sharedTx struct {
	inner   driver.Tx
	conn    *sharedConn
	release func()
}

func (t *sharedTx) Commit() error {
	defer t.end()
	return t.inner.Commit()
}

func (t *sharedTx) Rollback() error {
	defer t.end()
	return t.inner.Rollback()
}

func (t *sharedTx) end() {
	t.conn.inTx = false
	t.release()
}

type sharedRows struct {
	driver.Rows
	release func()
}

func (r *sharedRows) Close() error {
	defer r.release()
	return r.Rows.Close()
}

type sharedStmt struct {
	inner driver.Stmt
	conn  *sharedConn
}

func (st *sharedStmt) Close() error  { return st.inner.Close() }
func (st *sharedStmt) NumInput() int { return st.inner.NumInput() }

func (st *sharedStmt) Exec(args []driver.Value) (driver.Result, error) {
	_, release, err := st.conn.acquire(context.Background())
	if err != nil {
		return nil, err
	}
	defer release()
	return st.inner.Exec(args) //nolint:staticcheck // the driver's fallback
}

func (st *sharedStmt) Query(args []driver.Value) (driver.Rows, error) {
	_, release, err := st.conn.acquire(context.Background())
	if err != nil {
		return nil, err
	}
	rows, err := st.inner.Query(args) //nolint:staticcheck // the driver's fallback
	if err != nil {
		release()
		return nil, err
	}
	return &sharedRows{Rows: rows, release: release}, nil
}
