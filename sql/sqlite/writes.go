package sqlite

// Write counting: what lets the HTTP layer keep answers in memory (a conversation's newest
// message id, a ticket's status, an agent's credential) and still never serve one that a write
// made wrong. Every database this package opens, and every connector wrapped by CountWrites,
// counts the write statements run through it in a Writes value that outlives the connection
// pool: a cached answer records the count it was read at and is good only while the count has
// not moved. Counting happens in the driver, so a new store method that writes is counted
// without anyone remembering to invalidate a cache.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// Writes counts the writes to one database made by this process. Changes moves on every write
// statement, transaction and commit, before it runs and after it finished; Appends instead,
// for statements run with a context from Append (they only add a message, and their callers
// update what they cached themselves). A reader that took Changes before a query and finds it
// unchanged afterwards knows that no write ran, or finished, in between.
type Writes struct {
	changes atomic.Uint64
	appends atomic.Uint64
}

// Changes returns the count of writes other than appends.
func (w *Writes) Changes() uint64 { return w.changes.Load() }

// Appends returns the count of append-only writes.
func (w *Writes) Appends() uint64 { return w.appends.Load() }

// Touch records a change this process did not make through a counted pool: an embedded
// replica that pulled another writer's frames from its primary.
func (w *Writes) Touch() { w.changes.Add(1) }

func (w *Writes) bump(ctx context.Context) {
	if ctx != nil && ctx.Value(appendKey{}) != nil {
		w.appends.Add(1)
		return
	}
	w.changes.Add(1)
}

type appendKey struct{}

// Append marks the statements run with the returned context as append-only: they insert rows
// that change no cached answer except one the caller updates itself.
func Append(ctx context.Context) context.Context { return context.WithValue(ctx, appendKey{}, true) }

// counters holds one Writes per database name; entries are never dropped, so a database that
// is closed and opened again keeps counting from where it was.
var counters sync.Map // name → *Writes

// WritesTo returns the write counter of the database called name: the file name without
// ".db" (tenant databases: their database name, local file or replica alike). Two databases
// of the same name in one process (tests) share one counter, which only makes caches of
// either drop answers more often.
func WritesTo(name string) *Writes {
	if w, ok := counters.Load(name); ok {
		return w.(*Writes)
	}
	w, _ := counters.LoadOrStore(name, new(Writes))
	return w.(*Writes)
}

// byDB maps the open pools made by OpenDB (and Open) to their counters.
var byDB sync.Map // *sql.DB → *Writes

// WritesOf returns the write counter of an open pool made by Open or OpenDB, or nil for any
// other pool (whose writes are unknown: do not cache what it holds).
func WritesOf(db *sql.DB) *Writes {
	if w, ok := byDB.Load(db); ok {
		return w.(*Writes)
	}
	return nil
}

// OpenDB opens a pool on inner whose writes move w (see CountWrites); WritesOf reports w for
// it until it is closed.
func OpenDB(inner driver.Connector, w *Writes) *sql.DB {
	cc := &countingConnector{inner: inner, w: w}
	db := sql.OpenDB(cc)
	cc.db = db
	byDB.Store(db, w)
	return db
}

// nameOf is the counter name of a database file: its base name without ".db".
func nameOf(path string) string { return strings.TrimSuffix(filepath.Base(path), ".db") }

// CountWrites wraps a connector so that the writes through its connections move w.
func CountWrites(inner driver.Connector, w *Writes) driver.Connector {
	return &countingConnector{inner: inner, w: w}
}

type countingConnector struct {
	inner driver.Connector
	w     *Writes
	db    *sql.DB // set by OpenDB
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{inner: conn, w: c.w}, nil
}

func (c *countingConnector) Driver() driver.Driver { return c.inner.Driver() }

// Close closes the wrapped connector if it can be closed (database/sql calls it from DB.Close).
func (c *countingConnector) Close() error {
	if c.db != nil {
		byDB.Delete(c.db)
	}
	if cl, ok := c.inner.(interface{ Close() error }); ok {
		return cl.Close()
	}
	return nil
}

// countingConn passes everything to the driver's connection, counting writes around it. It
// implements every optional interface and behaves as the driver does where the driver lacks
// one (ErrSkip, or the default database/sql assumes).
type countingConn struct {
	inner driver.Conn
	w     *Writes
}

var (
	_ driver.Conn               = (*countingConn)(nil)
	_ driver.ConnPrepareContext = (*countingConn)(nil)
	_ driver.ConnBeginTx        = (*countingConn)(nil)
	_ driver.ExecerContext      = (*countingConn)(nil)
	_ driver.QueryerContext     = (*countingConn)(nil)
	_ driver.Validator          = (*countingConn)(nil)
	_ driver.SessionResetter    = (*countingConn)(nil)
	_ driver.Pinger             = (*countingConn)(nil)
)

// isRead reports whether a statement only reads: it starts with SELECT, VALUES or EXPLAIN
// (after blanks and comments). Anything else, WITH included, counts as a write.
func isRead(query string) bool {
	q := query
	for {
		q = strings.TrimLeft(q, " \t\r\n")
		switch {
		case strings.HasPrefix(q, "--"):
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return false
			}
			q = q[i+1:]
			continue
		case strings.HasPrefix(q, "/*"):
			i := strings.Index(q, "*/")
			if i < 0 {
				return false
			}
			q = q[i+2:]
			continue
		}
		break
	}
	for _, kw := range [...]string{"SELECT", "VALUES", "EXPLAIN"} {
		if len(q) > len(kw) && strings.EqualFold(q[:len(kw)], kw) {
			switch q[len(kw)] {
			case ' ', '\t', '\r', '\n', '(', '*':
				return true
			}
		}
	}
	return false
}

func (c *countingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.inner.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.inner.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{inner: st, w: c.w, write: !isRead(query)}, nil
}

func (c *countingConn) Close() error { return c.inner.Close() }

func (c *countingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx counts before the transaction starts and again when it ends.
func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.w.bump(ctx)
	var tx driver.Tx
	var err error
	if b, ok := c.inner.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		tx, err = c.inner.Begin() //nolint:staticcheck // the driver's fallback
	}
	if err != nil {
		c.w.bump(ctx)
		return nil, err
	}
	return &countingTx{inner: tx, w: c.w, ctx: ctx}, nil
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.w.bump(ctx)
	defer c.w.bump(ctx)
	return e.ExecContext(ctx, query, args)
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if isRead(query) {
		return q.QueryContext(ctx, query, args)
	}
	// A write that returns rows (INSERT … RETURNING) finishes when its rows are closed.
	c.w.bump(ctx)
	rows, err := q.QueryContext(ctx, query, args)
	if err != nil {
		c.w.bump(ctx)
		return nil, err
	}
	return &countingRows{Rows: rows, w: c.w, ctx: ctx}, nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

type countingTx struct {
	inner driver.Tx
	w     *Writes
	ctx   context.Context
}

func (t *countingTx) Commit() error {
	defer t.w.bump(t.ctx)
	return t.inner.Commit()
}

func (t *countingTx) Rollback() error {
	defer t.w.bump(t.ctx)
	return t.inner.Rollback()
}

type countingRows struct {
	driver.Rows
	w      *Writes
	ctx    context.Context
	closed bool
}

func (r *countingRows) Close() error {
	err := r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.w.bump(r.ctx)
	}
	return err
}

type countingStmt struct {
	inner driver.Stmt
	w     *Writes
	write bool
}

func (s *countingStmt) Close() error  { return s.inner.Close() }
func (s *countingStmt) NumInput() int { return s.inner.NumInput() }

func (s *countingStmt) Exec(args []driver.Value) (driver.Result, error) {
	s.w.bump(nil)
	defer s.w.bump(nil)
	return s.inner.Exec(args) //nolint:staticcheck // the driver's fallback
}

func (s *countingStmt) Query(args []driver.Value) (driver.Rows, error) {
	if !s.write {
		return s.inner.Query(args) //nolint:staticcheck // the driver's fallback
	}
	s.w.bump(nil)
	rows, err := s.inner.Query(args) //nolint:staticcheck // the driver's fallback
	if err != nil {
		s.w.bump(nil)
		return nil, err
	}
	return &countingRows{Rows: rows, w: s.w}, nil
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	e, ok := s.inner.(driver.StmtExecContext)
	if !ok {
		return s.Exec(namedToValues(args))
	}
	s.w.bump(ctx)
	defer s.w.bump(ctx)
	return e.ExecContext(ctx, args)
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := s.inner.(driver.StmtQueryContext)
	if !ok {
		return s.Query(namedToValues(args))
	}
	if !s.write {
		return q.QueryContext(ctx, args)
	}
	s.w.bump(ctx)
	rows, err := q.QueryContext(ctx, args)
	if err != nil {
		s.w.bump(ctx)
		return nil, err
	}
	return &countingRows{Rows: rows, w: s.w, ctx: ctx}, nil
}

func namedToValues(named []driver.NamedValue) []driver.Value {
	out := make([]driver.Value, len(named))
	for i, n := range named {
		out[i] = n.Value
	}
	return out
}
