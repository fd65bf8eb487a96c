package desk

// Snoozed tickets wake up by themselves at their time, and service-level breaches are
// recorded when they happen (sla.go), across restarts and on every backend: when a ticket is
// snoozed or gets an earlier due time, the catalog's wakeups table learns that its tenant has
// something due then (before the tenant's write commits, so the record is never late). The scheduler
// asks that one table once a second, wakes what is due in each tenant it lists and moves the
// tenant's record to its next due time. It never walks the tenants. Several instances on one
// catalog may wake the same tenant at once: a ticket is woken by one UPDATE, which only one of
// them finds to do.

import (
	"context"
	"database/sql"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// wakeBatch bounds the tenants one scheduler pass wakes.
const wakeBatch = 100

// wakeAt records that org has something due at at.
func (s *Service) wakeAt(ctx context.Context, org *catalog.Organization, at time.Time) {
	if s.cat == nil {
		return
	}
	if err := s.cat.WakeAt(context.WithoutCancel(ctx), org.ID, at); err != nil {
		s.log.Error("record a wake-up", "tenant", org.Username, "err", err)
	}
}

func (s *Service) schedule() {
	defer close(s.scheduled)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.wakeDue()
		}
	}
}

// wakeDue wakes what is due in every tenant the catalog lists as due now.
func (s *Service) wakeDue() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	due, err := s.cat.Due(ctx, s.now(), wakeBatch)
	if err != nil {
		s.log.Warn("wake-ups", "err", err)
		return
	}
	for _, w := range due {
		org, err := s.cat.ByID(ctx, w.OrgID)
		if err != nil {
			s.log.Warn("wake-up of an unknown organization", "org_id", w.OrgID, "err", err)
			continue
		}
		next, err := s.Wake(ctx, &org)
		if err != nil {
			s.log.Warn("wake tenant", "tenant", org.Username, "err", err)
			continue // its record stays due: tried again on the next pass
		}
		if err := s.cat.Reschedule(ctx, w, next); err != nil {
			s.log.Warn("reschedule wake-up", "tenant", org.Username, "err", err)
		}
	}
}

// Wake opens every snoozed ticket of org whose time has come, each with an activity line,
// records the service-level breaches that came due (each once, with an activity line), and
// returns when something is due next (zero: nothing is).
func (s *Service) Wake(ctx context.Context, org *catalog.Organization) (time.Time, error) {
	settings, err := s.Settings(ctx, org)
	if err != nil {
		return time.Time{}, err
	}
	l := settings.levels()
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return time.Time{}, err
	}
	defer release()
	now := stamp(s.now)
	var woke, breached []ticketState
	var next, nextDue int64
	err = db.inTx(ctx, "Wake", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE tickets SET status = 'open', snooze_until = NULL,
			waiting_since = COALESCE(waiting_since, ?1), updated_at = ?1, `+resumeSQL+`
			WHERE status = 'snoozed' AND snooze_until <= ?1 RETURNING id`, now.Unix())
		if err != nil {
			return err
		}
		for rows.Next() {
			var st ticketState
			if err := rows.Scan(&st.TicketID); err != nil {
				rows.Close()
				return err
			}
			woke = append(woke, st)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for i := range woke {
			if err := tx.QueryRowContext(ctx, "SELECT id FROM conversations WHERE ticket_id = ?", woke[i].TicketID).
				Scan(&woke[i].ConversationID); err != nil {
				return err
			}
			if _, err := insertMessage(ctx, tx, activity(woke[i], now, Activity{Kind: "status", To: StatusOpen, From: StatusSnoozed})); err != nil {
				return err
			}
			if l.any() {
				if _, err := refreshDue(ctx, tx, l, woke[i].TicketID); err != nil {
					return err
				}
			}
		}
		if l.any() {
			if breached, nextDue, err = recordBreaches(ctx, tx, l, now.Unix()); err != nil {
				return err
			}
		}
		var n sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT min(snooze_until) FROM tickets WHERE status = 'snoozed'").Scan(&n); err != nil {
			return err
		}
		next = n.Int64
		return nil
	})
	if err != nil {
		return time.Time{}, err
	}
	if len(woke) > 0 || len(breached) > 0 {
		ts.appends.Add(1)
		for _, st := range woke {
			s.changed(ts, Event{Kind: TicketChanged, TicketID: st.TicketID, ConversationID: st.ConversationID,
				Changed: ChangedStatus, By: AsSystem()})
		}
		for _, st := range breached {
			s.changed(ts, Event{Kind: TicketChanged, TicketID: st.TicketID, ConversationID: st.ConversationID,
				Changed: ChangedBreach, By: AsSystem()})
		}
	}
	if nextDue != 0 && (next == 0 || nextDue+1 < next) {
		return breachWake(nextDue), nil
	}
	return unix(next), nil
}
