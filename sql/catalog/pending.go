package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// Why a database waits in pending_drops.
const (
	// DropDeleted is the database of a deleted organization.
	DropDeleted = "deleted"
	// DropOrphan is a database a failed registration may have left on the backend.
	DropOrphan = "orphan"
)

// PendingDrop is a tenant database that must still be deleted on its backend, until the
// backend confirms it is gone.
type PendingDrop struct {
	Backend   string
	DBName    string
	Reason    string // DropDeleted or DropOrphan
	CreatedAt time.Time
	// NotBefore is when the next attempt may start (attempts back off).
	NotBefore time.Time
	Attempts  int
	LastError string
	// Holder is deleting it right now, until HeldUntil.
	Holder    string
	HeldUntil time.Time
}

const dropColumns = `CAST(backend AS BLOB), CAST(db_name AS BLOB), CAST(reason AS BLOB), created_at,
	not_before, attempts, CAST(last_error AS BLOB), CAST(holder AS BLOB), held_until`

func scanDrop(row interface{ Scan(...any) error }) (PendingDrop, error) {
	var d PendingDrop
	var created, notBefore, heldUntil int64
	err := row.Scan(&d.Backend, &d.DBName, &d.Reason, &created, &notBefore, &d.Attempts, &d.LastError,
		&d.Holder, &heldUntil)
	d.CreatedAt, d.NotBefore, d.HeldUntil = unix(created), unix(notBefore), unix(heldUntil)
	return d, err
}

// DeleteQueueingDrop removes the organization's row and, in the same transaction, records its
// database as a pending drop, so that a database whose deletion on the backend fails (or is
// interrupted) is never forgotten. A missing row is a NotFound error.
func (s *Store) DeleteQueueingDrop(ctx context.Context, id int64) error {
	defer s.cache.changed()
	now := time.Now().Unix()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("catalog.DeleteQueueingDrop: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO pending_drops (backend, db_name, reason, created_at, not_before)
		SELECT db_backend, db_name, ?, ?, ? FROM organizations WHERE id = ?
		ON CONFLICT (backend, db_name) DO UPDATE SET reason = excluded.reason, not_before = excluded.not_before`,
		DropDeleted, now, now, id); err != nil {
		return fmt.Errorf("catalog.DeleteQueueingDrop: %w", err)
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM organizations WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("catalog.DeleteQueueingDrop: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.NotFound, CodeNotFound)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("catalog.DeleteQueueingDrop: %w", err)
	}
	return nil
}

// QueueDrop records dbName on backend as a database to delete for reason, with the error that
// left it behind; a database already recorded keeps its reason and gets the new error.
func (s *Store) QueueDrop(ctx context.Context, backend, dbName, reason, lastError string) error {
	now := time.Now().Unix()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO pending_drops
		(backend, db_name, reason, created_at, not_before, last_error) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (backend, db_name) DO UPDATE SET last_error = excluded.last_error`,
		backend, dbName, reason, now, now, lastError); err != nil {
		return fmt.Errorf("catalog.QueueDrop: %w", err)
	}
	return nil
}

// PendingDrops lists every database still to be deleted, oldest first.
func (s *Store) PendingDrops(ctx context.Context) ([]PendingDrop, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+dropColumns+" FROM pending_drops ORDER BY created_at, db_name")
	if err != nil {
		return nil, fmt.Errorf("catalog.PendingDrops: %w", err)
	}
	defer rows.Close()
	var out []PendingDrop
	for rows.Next() {
		d, err := scanDrop(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog.PendingDrops: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog.PendingDrops: %w", err)
	}
	return out, nil
}

// PendingDrop returns the pending drop of dbName on backend, and false when there is none.
func (s *Store) PendingDrop(ctx context.Context, backend, dbName string) (PendingDrop, bool, error) {
	d, err := scanDrop(s.db.QueryRowContext(ctx, "SELECT "+dropColumns+
		" FROM pending_drops WHERE backend = ? AND db_name = ?", backend, dbName))
	if errors.Is(err, sql.ErrNoRows) {
		return PendingDrop{}, false, nil
	}
	if err != nil {
		return PendingDrop{}, false, fmt.Errorf("catalog.PendingDrop: %w", err)
	}
	return d, true, nil
}

// ClaimDrop makes holder the one deleting dbName for ttl, unless another holder's claim is
// still running. It reports false when the record is gone or held by someone else.
func (s *Store) ClaimDrop(ctx context.Context, backend, dbName, holder string, ttl time.Duration) (bool, error) {
	now := time.Now().Unix()
	res, err := s.db.ExecContext(ctx, `UPDATE pending_drops SET holder = ?, held_until = ?
		WHERE backend = ? AND db_name = ? AND (held_until <= ? OR holder = ?)`,
		holder, now+ttlSeconds(ttl), backend, dbName, now, holder)
	if err != nil {
		return false, fmt.Errorf("catalog.ClaimDrop: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("catalog.ClaimDrop: %w", err)
	}
	return n == 1, nil
}

// FinishDrop removes holder's record of dbName: the backend confirmed the database is gone (or
// it turned out to belong to an organization after all).
func (s *Store) FinishDrop(ctx context.Context, backend, dbName, holder string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM pending_drops WHERE backend = ? AND db_name = ? AND holder = ?",
		backend, dbName, holder); err != nil {
		return fmt.Errorf("catalog.FinishDrop: %w", err)
	}
	return nil
}

// FailDrop records a failed attempt by holder: its error, and when the next may start. The
// claim is released.
func (s *Store) FailDrop(ctx context.Context, backend, dbName, holder, lastError string, next time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE pending_drops SET attempts = attempts + 1, last_error = ?,
		not_before = ?, holder = '', held_until = 0 WHERE backend = ? AND db_name = ? AND holder = ?`,
		lastError, next.Unix(), backend, dbName, holder); err != nil {
		return fmt.Errorf("catalog.FailDrop: %w", err)
	}
	return nil
}

// HoldsDB reports whether an organization's database is dbName on backend.
func (s *Store) HoldsDB(ctx context.Context, backend, dbName string) (bool, error) {
	var held bool
	if err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM organizations
		WHERE db_name = ? AND db_backend = ?)`, dbName, backend).Scan(&held); err != nil {
		return false, fmt.Errorf("catalog.HoldsDB: %w", err)
	}
	return held, nil
}

// SetDBSecret replaces the sealed credential of organization id when it is still old, so that
// a credential renewed by one process never overwrites a newer one another process stored. It
// reports whether the row changed.
func (s *Store) SetDBSecret(ctx context.Context, id int64, old, sealed string) (bool, error) {
	defer s.cache.changed()
	res, err := s.db.ExecContext(ctx, `UPDATE organizations SET db_secret = ?, updated_at = ?
		WHERE id = ? AND db_secret = ?`, sealed, time.Now().Unix(), id, old)
	if err != nil {
		return false, fmt.Errorf("catalog.SetDBSecret: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("catalog.SetDBSecret: %w", err)
	}
	return n == 1, nil
}
