package sqlite

import (
	"context"
	"database/sql/driver"
)

// checkedConn is go-libsql's connection with the argument check database/sql consults before
// any statement runs (CheckNamedValue, nul.go). It passes everything else through, and
// implements every optional interface the way database/sql would without it (ErrSkip, or the
// default it assumes) where the driver lacks one.
type checkedConn struct {
	inner driver.Conn
}

var (
	_ driver.Conn               = (*checkedConn)(nil)
	_ driver.ConnPrepareContext = (*checkedConn)(nil)
	_ driver.ConnBeginTx        = (*checkedConn)(nil)
	_ driver.ExecerContext      = (*checkedConn)(nil)
	_ driver.QueryerContext     = (*checkedConn)(nil)
	_ driver.Validator          = (*checkedConn)(nil)
	_ driver.SessionResetter    = (*checkedConn)(nil)
	_ driver.Pinger             = (*checkedConn)(nil)
	_ driver.NamedValueChecker  = (*checkedConn)(nil)
	_ driver.NamedValueChecker  = (*sharedConn)(nil)
)

// CheckNamedValue refuses a string argument holding a NUL byte (nul.go).
func (c *checkedConn) CheckNamedValue(nv *driver.NamedValue) error { return refuseNUL(nv) }

// CheckNamedValue refuses a string argument holding a NUL byte (nul.go).
func (s *sharedConn) CheckNamedValue(nv *driver.NamedValue) error { return refuseNUL(nv) }

func (c *checkedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *checkedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.inner.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.inner.Prepare(query)
}

func (c *checkedConn) Close() error { return c.inner.Close() }

func (c *checkedConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *checkedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.inner.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return c.inner.Begin() //nolint:staticcheck // the driver's fallback
}

func (c *checkedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := c.inner.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *checkedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := c.inner.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *checkedConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *checkedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *checkedConn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}
