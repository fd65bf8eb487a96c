package desk

// Snoozed tickets wake up by themselves at their time, service-level breaches are recorded
// when they happen (sla.go), and outbox items are delivered and retried (outbox.go), across
// restarts and on every backend: when a ticket is snoozed, gets an earlier due time or an
// item is enqueued, the catalog's wakeups table learns that its tenant has something due then
// (before the tenant's write commits, so the record is never late). The scheduler asks that
// one table once a second, does what is due in each tenant it lists and moves the tenant's
// record to its next due time. It never walks the tenants. Several instances on one
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
	if err := s.cat.WakeAtNow(context.WithoutCancel(ctx), org.ID, at, s.now()); err != nil {
		s.log.Error("record a wake-up", "tenant", org.Username, "err", err)
	}
}

// schedule runs the scheduler: once a WatchInterval it asks the catalog which tenants have
// something due and serves them (dueTenant); in between it delivers the outbox items of a
// tenant as soon as a commit enqueued them (kickOutbox). Without a catalog only the kicks run:
// nothing is woken or retried.
func (s *Service) schedule() {
	defer close(s.scheduled)
	// The scheduler is the only sender on the work channel: closing it lets the workers end
	// once they have released what is queued.
	defer close(s.outbox.work)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case org := <-s.outbox.kick:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := s.dispatch(ctx, org); err != nil {
				s.log.Warn("outbox: dispatch", "tenant", org.Username, "err", err)
			}
			cancel()
		case <-t.C:
			if s.cat != nil {
				s.wakeDue()
			}
		}
	}
}

// wakeDue serves every tenant the catalog lists as due now.
func (s *Service) wakeDue() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	due, err := s.cat.Due(ctx, s.now(), wakeBatch)
	if err != nil {
		s.log.Warn("wake-ups", "err", err)
		return
	}
	for _, w := range due {
		select {
		case <-s.stop:
			return
		default:
		}
		org, err := s.cat.ByID(ctx, w.OrgID)
		if err != nil {
			s.log.Warn("wake-up of an unknown organization", "org_id", w.OrgID, "err", err)
			continue
		}
		next, err := s.dueTenant(ctx, &org)
		if err != nil {
			s.log.Warn("wake tenant", "tenant", org.Username, "err", err)
			continue // its record stays due: tried again on the next pass
		}
		if err := s.cat.RescheduleNow(ctx, w, next, s.now()); err != nil {
			s.log.Warn("reschedule wake-up", "tenant", org.Username, "err", err)
		}
		s.tenant(&org).forgetWake()
	}
}

// dueTenant does what is due in org — wakes snoozed tickets, records breaches, hands due
// outbox items to the workers, starts a poll of its IMAP mailbox — and returns when something
// is next due there (zero: nothing is).
func (s *Service) dueTenant(ctx context.Context, org *catalog.Organization) (time.Time, error) {
	woke, err := s.Wake(ctx, org)
	if err != nil {
		return time.Time{}, err
	}
	out, err := s.dispatch(ctx, org)
	if err != nil {
		return time.Time{}, err
	}
	polled, err := s.pollDue(ctx, org)
	if err != nil {
		return time.Time{}, err
	}
	return earliest(earliest(woke, out), polled), nil
}

// earliest is the earlier of two times, zero meaning none.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// Wake opens every snoozed ticket of org whose time has come, each with an activity line,
// records the service-level breaches that came due (each once, with an activity line and its
// notices in the outbox), and returns when something of that is due next (zero: nothing is).
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
	kick := false
	err = db.inTx(ctx, "Wake", func(tx *sql.Tx) error {
		kick = false
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
			act := Activity{Kind: "status", To: StatusOpen, From: StatusSnoozed}
			if _, err := insertMessage(ctx, tx, activity(woke[i], now, act)); err != nil {
				return err
			}
			k, err := s.produce(ctx, tx, org, ts, change{Event: Event{Kind: TicketChanged, TicketID: woke[i].TicketID,
				ConversationID: woke[i].ConversationID, Changed: ChangedStatus, By: AsSystem()}, Now: now, Activity: &act})
			if err != nil {
				return err
			}
			kick = kick || k
			if l.any() {
				if _, err := refreshDue(ctx, tx, l, woke[i].TicketID); err != nil {
					return err
				}
			}
		}
		if l.any() {
			var k bool
			if breached, nextDue, k, err = s.recordBreaches(ctx, tx, org, ts, l, now); err != nil {
				return err
			}
			kick = kick || k
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
	if kick {
		s.kickOutbox(org)
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
	if nextDue != 0 {
		return earliest(unix(next), breachWake(nextDue)), nil
	}
	return unix(next), nil
}
