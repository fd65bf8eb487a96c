package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// MigrationLock is a row of migration_locks: who migrates a tenant database, until when.
type MigrationLock struct {
	DBName    string
	Holder    string
	ExpiresAt time.Time
}

// ttlSeconds rounds a lock's lifetime up to whole seconds (the column holds Unix seconds).
func ttlSeconds(ttl time.Duration) int64 {
	return max(1, int64((ttl+time.Second-1)/time.Second))
}

// TryLockMigration takes the migration lock of the tenant database dbName for holder, for ttl,
// if nobody holds it or its holder let it expire. It never waits. When the lock is taken by
// someone else it returns false and that lock, so that the caller can say who holds it (or
// take it over from a holder known to be dead, see TakeOverMigrationLock).
//
// The lock is one row in the catalog, so it holds across processes and machines that share the
// catalog: the migrate command and every server's lazy migration take it.
func (s *Store) TryLockMigration(ctx context.Context, dbName, holder string, ttl time.Duration) (bool, MigrationLock, error) {
	now := time.Now().Unix()
	res, err := s.db.ExecContext(ctx, `INSERT INTO migration_locks (db_name, holder, expires_at)
		VALUES (?, ?, ?)
		ON CONFLICT (db_name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE migration_locks.expires_at <= ?`, dbName, holder, now+ttlSeconds(ttl), now)
	if err != nil {
		return false, MigrationLock{}, fmt.Errorf("catalog.TryLockMigration: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, MigrationLock{}, fmt.Errorf("catalog.TryLockMigration: %w", err)
	} else if n == 1 {
		return true, MigrationLock{DBName: dbName, Holder: holder, ExpiresAt: unix(now + ttlSeconds(ttl))}, nil
	}
	var l MigrationLock
	var expires int64
	err = s.db.QueryRowContext(ctx, `SELECT CAST(db_name AS BLOB), CAST(holder AS BLOB), expires_at
		FROM migration_locks WHERE db_name = ?`, dbName).Scan(&l.DBName, &l.Holder, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		// Released between the two statements: the caller simply tries again.
		return false, MigrationLock{DBName: dbName}, nil
	}
	if err != nil {
		return false, MigrationLock{}, fmt.Errorf("catalog.TryLockMigration: %w", err)
	}
	l.ExpiresAt = unix(expires)
	return false, l, nil
}

// TakeOverMigrationLock hands dbName's lock from oldHolder (known to be dead) to holder, for
// ttl. It reports false when the lock no longer belongs to oldHolder.
func (s *Store) TakeOverMigrationLock(ctx context.Context, dbName, oldHolder, holder string, ttl time.Duration) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE migration_locks SET holder = ?, expires_at = ?
		WHERE db_name = ? AND holder = ?`, holder, time.Now().Unix()+ttlSeconds(ttl), dbName, oldHolder)
	if err != nil {
		return false, fmt.Errorf("catalog.TakeOverMigrationLock: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("catalog.TakeOverMigrationLock: %w", err)
	}
	return n == 1, nil
}

// RefreshMigrationLock extends holder's lock on dbName by ttl from now. It reports false when
// holder no longer holds it (it expired and someone else took it).
func (s *Store) RefreshMigrationLock(ctx context.Context, dbName, holder string, ttl time.Duration) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE migration_locks SET expires_at = ?
		WHERE db_name = ? AND holder = ?`, time.Now().Unix()+ttlSeconds(ttl), dbName, holder)
	if err != nil {
		return false, fmt.Errorf("catalog.RefreshMigrationLock: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("catalog.RefreshMigrationLock: %w", err)
	}
	return n == 1, nil
}

// UnlockMigration releases holder's lock on dbName; a lock held by someone else is left alone.
func (s *Store) UnlockMigration(ctx context.Context, dbName, holder string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM migration_locks WHERE db_name = ? AND holder = ?",
		dbName, holder); err != nil {
		return fmt.Errorf("catalog.UnlockMigration: %w", err)
	}
	return nil
}

// MigrationLocks lists the locks held now (expired ones included), for `tenants list`.
func (s *Store) MigrationLocks(ctx context.Context) ([]MigrationLock, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT CAST(db_name AS BLOB), CAST(holder AS BLOB), expires_at
		FROM migration_locks ORDER BY db_name`)
	if err != nil {
		return nil, fmt.Errorf("catalog.MigrationLocks: %w", err)
	}
	defer rows.Close()
	var out []MigrationLock
	for rows.Next() {
		var l MigrationLock
		var expires int64
		if err := rows.Scan(&l.DBName, &l.Holder, &expires); err != nil {
			return nil, fmt.Errorf("catalog.MigrationLocks: %w", err)
		}
		l.ExpiresAt = unix(expires)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog.MigrationLocks: %w", err)
	}
	return out, nil
}
