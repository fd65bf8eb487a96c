package catalog

import (
	"context"
	"fmt"
	"time"
)

// Wakeup is a tenant with something due at DueAt, as the catalog recorded it at Version.
// TouchedAt is when a WakeAt last wrote it.
type Wakeup struct {
	OrgID     int64
	DueAt     time.Time
	Version   int64
	TouchedAt time.Time
}

// WakeGrace is how long after a WakeAt the tenant's row outlives a scheduler that found
// nothing due: the write that called WakeAt may not have committed yet when the scheduler
// looked. The row is then looked at again WakeGrace after the WakeAt, when that write has
// long committed (tenant writes time out after seconds) or failed.
const WakeGrace = time.Minute

// WakeAt records that organization orgID has something due at at: the earlier of at and what
// was recorded. Call it before the tenant's write commits, so the record is never late.
func (s *Store) WakeAt(ctx context.Context, orgID int64, at time.Time) error {
	return s.WakeAtNow(ctx, orgID, at, time.Now())
}

// WakeAtNow is WakeAt on a caller's clock: now is when the record is written (its TouchedAt).
func (s *Store) WakeAtNow(ctx context.Context, orgID int64, at, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO wakeups (org_id, due_at, touched_at) VALUES (?, ?, ?)
		ON CONFLICT (org_id) DO UPDATE SET due_at = min(due_at, excluded.due_at), version = version + 1,
		touched_at = excluded.touched_at`,
		orgID, at.Unix(), now.Unix())
	if err != nil {
		return fmt.Errorf("catalog.WakeAt: %w", err)
	}
	return nil
}

// Due lists up to limit tenants with something due at or before now, the most overdue first.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]Wakeup, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT org_id, due_at, version, touched_at FROM wakeups WHERE due_at <= ?
		ORDER BY due_at LIMIT ?`, now.Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("catalog.Due: %w", err)
	}
	defer rows.Close()
	var out []Wakeup
	for rows.Next() {
		var w Wakeup
		var due, touched int64
		if err := rows.Scan(&w.OrgID, &due, &w.Version, &touched); err != nil {
			return nil, fmt.Errorf("catalog.Due: %w", err)
		}
		w.DueAt, w.TouchedAt = unix(due), unix(touched)
		out = append(out, w)
	}
	return out, rows.Err()
}

// Reschedule moves w's tenant to its next due time (zero: nothing more is due), unless the
// record changed since w was read (a newer WakeAt, which stands).
func (s *Store) Reschedule(ctx context.Context, w Wakeup, next time.Time) error {
	return s.RescheduleNow(ctx, w, next, time.Now())
}

// RescheduleNow is Reschedule on a caller's clock. A record touched less than WakeGrace
// before now is kept until WakeGrace after its touch at the latest (see WakeGrace), whatever
// next says.
func (s *Store) RescheduleNow(ctx context.Context, w Wakeup, next, now time.Time) error {
	if floor := w.TouchedAt.Add(WakeGrace); now.Before(floor) && (next.IsZero() || next.After(floor)) {
		next = floor
	}
	var err error
	if next.IsZero() {
		_, err = s.db.ExecContext(ctx, "DELETE FROM wakeups WHERE org_id = ? AND version = ?", w.OrgID, w.Version)
	} else {
		_, err = s.db.ExecContext(ctx, "UPDATE wakeups SET due_at = ?, version = version + 1 WHERE org_id = ? AND version = ?",
			next.Unix(), w.OrgID, w.Version)
	}
	if err != nil {
		return fmt.Errorf("catalog.Reschedule: %w", err)
	}
	return nil
}
