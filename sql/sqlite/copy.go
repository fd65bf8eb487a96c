package sqlite

// Copying a table row by row, exactly: export snapshots of replicas, imports and backups all
// use CopyTable.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// QuoteIdent quotes an SQLite identifier.
func QuoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// Querier runs queries: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Execer runs statements: a *sql.DB, *sql.Conn or *sql.Tx.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Columns lists table's columns in order.
func Columns(ctx context.Context, q Querier, table string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT CAST(name AS BLOB) FROM pragma_table_info(?) ORDER BY cid", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s: %w", table, errNoColumns)
	}
	return cols, nil
}

var errNoColumns = errors.New("no columns")

// copyBatch bounds the rows of one INSERT (and its parameters, below SQLite's 32766).
const copyBatch = 200

// CopyTable copies every row of table from src into the table of the same name and columns in
// dst and returns how many it copied (rowid tables and WITHOUT ROWID ones, such as full-text
// index shadow tables, alike). Each value keeps its storage class:
// text is read as a blob (go-libsql would otherwise turn date-like text into a time.Time) and
// written back as text; rows go in batched INSERTs.
func CopyTable(ctx context.Context, src Querier, dst Execer, table string) (int64, error) {
	cols, err := Columns(ctx, src, table)
	if err != nil {
		return 0, err
	}
	var sel, names []string
	for _, c := range cols {
		q := QuoteIdent(c)
		sel = append(sel, "typeof("+q+")", "CASE typeof("+q+") WHEN 'text' THEN CAST("+q+" AS BLOB) ELSE "+q+" END")
		names = append(names, q)
	}
	rows, err := src.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+QuoteIdent(table))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	perRow := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	prefix := "INSERT INTO " + QuoteIdent(table) + " (" + strings.Join(names, ", ") + ") VALUES "
	per := max(1, min(copyBatch, 30000/len(cols)))
	cells := make([]any, 2*len(cols))
	for i := range cells {
		cells[i] = new(any)
	}
	var args []any
	var n, pending int64
	flush := func() error {
		if pending == 0 {
			return nil
		}
		q := prefix + strings.TrimSuffix(strings.Repeat(perRow+", ", int(pending)), ", ")
		_, err := dst.ExecContext(ctx, q, args...)
		args, pending = args[:0], 0
		return err
	}
	for rows.Next() {
		if err := rows.Scan(cells...); err != nil {
			return n, err
		}
		for i := range cols {
			var kind string
			switch k := (*cells[2*i].(*any)).(type) {
			case string:
				kind = k
			case []byte:
				kind = string(k)
			}
			v := *cells[2*i+1].(*any)
			if b, ok := v.([]byte); ok && kind == "text" {
				v = string(b)
			}
			args = append(args, v)
		}
		n++
		if pending++; pending == int64(per) {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}
