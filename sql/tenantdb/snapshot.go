package tenantdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// copyDatabase writes every schema object and row of src into a new SQLite file at path. It is
// the snapshot of an embedded replica, where VACUUM INTO is refused ("unsupported statement")
// and a transaction would run on the primary: it reads the local copy on one connection while
// the caller keeps syncs away, so it sees one moment. Shadow tables of virtual tables are copied
// row by row, so a full-text index comes out as it was.
func copyDatabase(src *sql.DB, path string) (err error) {
	if err := snapshotTarget(path); err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	conn, err := src.Conn(ctx)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer conn.Close()

	type object struct{ kind, name, sql string }
	rows, err := conn.QueryContext(ctx, `SELECT CAST(type AS BLOB), CAST(name AS BLOB), CAST(sql AS BLOB)
		FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
		AND name NOT LIKE 'libsql\_%' ESCAPE '\' ORDER BY rowid`)
	if err != nil {
		return fmt.Errorf("snapshot: reading the schema: %w", err)
	}
	var objects []object
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.kind, &o.name, &o.sql); err != nil {
			rows.Close()
			return fmt.Errorf("snapshot: reading the schema: %w", err)
		}
		objects = append(objects, o)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("snapshot: reading the schema: %w", err)
	}
	var hasSequence int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'").Scan(&hasSequence); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}

	dst, err := sql.Open("libsql", "file:"+abs)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	dst.SetMaxOpenConns(1)
	defer func() {
		if cerr := dst.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
				os.Remove(abs + suffix)
			}
		}
	}()
	tx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer tx.Rollback()

	isVirtual := func(o object) bool {
		return o.kind == "table" && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(o.sql)), "CREATE VIRTUAL")
	}
	// Virtual tables first: they create their shadow tables, which are then filled below.
	for _, o := range objects {
		if isVirtual(o) {
			if _, err := tx.ExecContext(ctx, o.sql); err != nil {
				return fmt.Errorf("snapshot: %s: %w", o.name, err)
			}
		}
	}
	var tables []string
	for _, o := range objects {
		if o.kind != "table" || isVirtual(o) {
			continue
		}
		var exists int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", o.name).Scan(&exists); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		stmt := o.sql
		if exists > 0 {
			stmt = "DELETE FROM " + sqlite.QuoteIdent(o.name)
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("snapshot: %s: %w", o.name, err)
		}
		tables = append(tables, o.name)
	}
	if hasSequence > 0 {
		tables = append(tables, "sqlite_sequence")
	}
	for _, table := range tables {
		if table == "sqlite_sequence" {
			// Filled by the inserts above; replaced by the source's counters.
			if _, err := tx.ExecContext(ctx, "DELETE FROM sqlite_sequence"); err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
		}
		if _, err := sqlite.CopyTable(ctx, conn, tx, table); err != nil {
			return fmt.Errorf("snapshot: %s: %w", table, err)
		}
	}
	for _, o := range objects {
		if o.kind != "table" {
			if _, err := tx.ExecContext(ctx, o.sql); err != nil {
				return fmt.Errorf("snapshot: %s: %w", o.name, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}
