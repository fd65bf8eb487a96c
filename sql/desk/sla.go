package desk

// Service levels: per priority, how long the first response and the resolution of a ticket
// may take, measured in the organization's business hours (a weekly schedule and holidays in
// its time zone) or round the clock. Every ticket keeps its due times in its row, recomputed
// in the transaction of every write that moves them (its opening, its first answer, a status
// or priority change, a snooze waking up, new settings), so that a queue reads them, sorts by
// them and finds what is due soon with one indexed query. The time a ticket waits on the
// customer (pending), sleeps (snoozed) or lies closed does not count against its resolution:
// it has no resolution due time while paused, and when it runs again the due time moves on by
// the time it was paused.
//
// A breach is noticed without walking the tenants: each ticket's sla_due_at is the earliest
// of its due times whose breach is not recorded yet, and the catalog's wake-up table (which
// snoozes use too) learns of a tenant's earliest one. At that time Wake records the breaches
// that came due: once per ticket and kind, as an activity line, on the feed and, with email
// on, as notices in the outbox (KindBreachNotice) to the assignee, the admins and the owner.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/report"
	"github.com/tenantdesk/tenantdesk/sql/sla"
)

// SLA is an organization's service levels.
type SLA struct {
	// Hours is the weekly schedule targets are measured in, in the organization's time zone;
	// nil measures them round the clock.
	Hours *sla.Week
	// Holidays are dates closed all day (with Hours only).
	Holidays []sla.Date
	// Targets, indexed by Priority, are the longest first response and resolution each
	// priority may take; zero is no target.
	Targets [report.Priorities]report.Target
}

// MaxTarget bounds a service-level target.
const MaxTarget = 365 * 24 * time.Hour

// Breaches a ticket records, each once (sla_breached).
const (
	BreachFirstResponse = 1
	BreachResolution    = 2
)

// Activity kinds of a recorded breach: To is what was breached.
const (
	ActivityBreach        = "breach"
	BreachedFirstResponse = "first_response"
	BreachedResolution    = "resolution"
)

// Codes of SetSLA's refusals, beside the sla package's kinds (which come as codes of the same
// name on the sla field at fault: "hours.monday", "holidays").
const (
	CodeTargetTooLong apperr.Code = "target_too_long"
	CodeTargetInvalid apperr.Code = "target_invalid"
)

// TargetField is the form field of a target: "first_response.urgent", "resolution.low".
func TargetField(kind string, p Priority) string { return kind + "." + p.String() }

const (
	settingSLAHours    = "sla_hours"
	settingSLAHolidays = "sla_holidays"
	settingSLATargets  = "sla_targets"
)

// encodeSLA writes the settings rows of cfg.
func encodeSLA(cfg SLA) map[string]string {
	out := map[string]string{settingSLAHours: "", settingSLAHolidays: ""}
	if cfg.Hours != nil {
		days := sla.FormatWeek(*cfg.Hours)
		out[settingSLAHours] = strings.Join(days[:], "\n")
		out[settingSLAHolidays] = sla.FormatHolidays(cfg.Holidays)
	}
	var ts []string
	for _, t := range cfg.Targets {
		ts = append(ts, strconv.FormatInt(int64(t.FirstResponse/time.Second), 10), strconv.FormatInt(int64(t.Resolution/time.Second), 10))
	}
	out[settingSLATargets] = strings.Join(ts, " ")
	return out
}

// decodeSLA reads the settings rows back; anything it cannot read counts as not set.
func decodeSLA(rows map[string]string) (SLA, error) {
	var cfg SLA
	if h := rows[settingSLAHours]; h != "" {
		days := strings.Split(h, "\n")
		if len(days) != 7 {
			return SLA{}, fmt.Errorf("desk: %s has %d days", settingSLAHours, len(days))
		}
		w, err := sla.ParseWeek([7]string(days))
		if err != nil {
			return SLA{}, fmt.Errorf("desk: %s: %w", settingSLAHours, err)
		}
		cfg.Hours = &w
		if cfg.Holidays, err = sla.ParseHolidays(rows[settingSLAHolidays]); err != nil {
			return SLA{}, fmt.Errorf("desk: %s: %w", settingSLAHolidays, err)
		}
	}
	if t := rows[settingSLATargets]; t != "" {
		f := strings.Fields(t)
		if len(f) != 2*report.Priorities {
			return SLA{}, fmt.Errorf("desk: %s has %d values", settingSLATargets, len(f))
		}
		for i, v := range f {
			n, err := strconv.ParseInt(v, 10, 64)
			d := time.Duration(n) * time.Second
			if err != nil || d < 0 || d > MaxTarget {
				return SLA{}, fmt.Errorf("desk: %s value %q", settingSLATargets, v)
			}
			if i%2 == 0 {
				cfg.Targets[i/2].FirstResponse = d
			} else {
				cfg.Targets[i/2].Resolution = d
			}
		}
	}
	return cfg, nil
}

// checkSLA validates cfg in zone and returns its calendar (nil round the clock). Errors are
// Invalid with the field at fault.
func checkSLA(cfg SLA, zone string) (*sla.Calendar, error) {
	for i, t := range cfg.Targets {
		for _, f := range [...]struct {
			kind string
			d    time.Duration
		}{{"first_response", t.FirstResponse}, {"resolution", t.Resolution}} {
			switch {
			case f.d < 0 || f.d%time.Minute != 0:
				return nil, apperr.Field(apperr.Invalid, TargetField(f.kind, Priority(i)), CodeTargetInvalid)
			case f.d > MaxTarget:
				return nil, apperr.Field(apperr.Invalid, TargetField(f.kind, Priority(i)), CodeTargetTooLong)
			}
		}
	}
	if cfg.Hours == nil {
		if len(cfg.Holidays) > 0 {
			return nil, apperr.Field(apperr.Invalid, sla.FieldHolidays, apperr.Code(sla.KindRequired))
		}
		return nil, nil
	}
	cal, err := sla.New(sla.Config{Zone: zone, Hours: cfg.Hours, Holidays: cfg.Holidays})
	var se *sla.Error
	if errors.As(err, &se) {
		return nil, apperr.Field(apperr.Invalid, se.Field, apperr.Code(se.Kind))
	}
	return cal, err
}

// levels is what due times are computed with: a calendar (nil: round the clock) and the
// targets.
type levels struct {
	cal     *sla.Calendar
	targets [report.Priorities]report.Target
}

func (st Settings) levels() levels { return levels{cal: st.Calendar, targets: st.SLA.Targets} }

// any reports whether some target is set: without one no ticket has due times.
func (l levels) any() bool {
	for _, t := range l.targets {
		if t.FirstResponse > 0 || t.Resolution > 0 {
			return true
		}
	}
	return false
}

// The SET clauses of a status change that keep a ticket's pauses: pauseSQL when the new
// status pauses it (pending, snoozed, closed), resumeSQL when it runs again (open); ?1 is
// now, in Unix seconds. A ticket already paused stays paused since then; one that runs again
// adds its pause to pauses.
const (
	pauseSQL  = `paused_since = COALESCE(paused_since, ?1)`
	resumeSQL = `pauses = CASE WHEN paused_since IS NOT NULL AND ?1 > paused_since THEN ltrim(pauses || ' ' || paused_since || ' ' || ?1)
		ELSE pauses END, paused_since = NULL`
)

// pauses reports whether status stops the resolution clock.
func pauses(status string) bool { return status != StatusOpen }

// due is when target has passed since start, leaving out the pauses (start, end pairs of
// Unix seconds, in order, not overlapping): Unix seconds, 0 when it cannot be computed.
func (l levels) due(start int64, target time.Duration, pauses []int64) int64 {
	if l.cal == nil {
		left, at := int64(target/time.Second), start
		for i := 0; i+1 < len(pauses); i += 2 {
			s, e := max(pauses[i], at), pauses[i+1]
			if e <= s {
				continue
			}
			if s >= at+left {
				break
			}
			left -= s - at
			at = e
		}
		return at + left
	}
	var spans []sla.Span
	for i := 0; i+1 < len(pauses); i += 2 {
		spans = append(spans, sla.Span{Start: time.Unix(pauses[i], 0), End: time.Unix(pauses[i+1], 0)})
	}
	d, err := l.cal.DueExcluding(time.Unix(start, 0), target, spans)
	if err != nil {
		return 0
	}
	// Due times fall on whole seconds (schedules are in minutes); rounding up keeps a due time
	// never before the exact one.
	return (d.UnixNano() + 1e9 - 1) / 1e9
}

// dueRow is what a ticket's due times are computed from, and what they are.
type dueRow struct {
	id, created, firstReply int64 // 0: not answered
	status                  string
	priority                int
	pauses                  []int64
	breached                int
	frDue, resDue, slaDue   int64 // 0: none
}

const dueColumns = `id, created_at, COALESCE(first_reply_at, 0), CAST(status AS BLOB), priority, CAST(pauses AS BLOB),
	sla_breached, COALESCE(first_response_due_at, 0), COALESCE(resolution_due_at, 0), COALESCE(sla_due_at, 0)`

func scanDue(row interface{ Scan(...any) error }) (dueRow, error) {
	var r dueRow
	var pauses []byte
	if err := row.Scan(&r.id, &r.created, &r.firstReply, &r.status, &r.priority, &pauses, &r.breached,
		&r.frDue, &r.resDue, &r.slaDue); err != nil {
		return r, err
	}
	for f := range strings.FieldsSeq(string(pauses)) {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return r, fmt.Errorf("desk: ticket %d: pauses %q", r.id, pauses)
		}
		r.pauses = append(r.pauses, n)
	}
	return r, nil
}

// compute returns r with its due times for l: the first response's (kept once answered, for
// the record), the resolution's while the ticket runs (open), and the earliest whose breach
// is not recorded yet.
func (l levels) compute(r dueRow) dueRow {
	t := l.targets[min(max(r.priority, 0), report.Priorities-1)]
	r.frDue, r.resDue, r.slaDue = 0, 0, 0
	if t.FirstResponse > 0 {
		r.frDue = l.due(r.created, t.FirstResponse, nil)
	}
	if t.Resolution > 0 && r.status == StatusOpen {
		r.resDue = l.due(r.created, t.Resolution, r.pauses)
	}
	if r.status != StatusClosed && r.firstReply == 0 && r.frDue != 0 && r.breached&BreachFirstResponse == 0 {
		r.slaDue = r.frDue
	}
	if r.resDue != 0 && r.breached&BreachResolution == 0 && (r.slaDue == 0 || r.resDue < r.slaDue) {
		r.slaDue = r.resDue
	}
	return r
}

// refreshDue recomputes ticket id's due times in tx and returns its sla_due_at when it must
// be recorded in the catalog (it is earlier than the one it had, which was), else zero.
func refreshDue(ctx context.Context, tx querier, l levels, id int64) (int64, error) {
	old, err := scanDue(tx.QueryRowContext(ctx, "SELECT "+dueColumns+" FROM tickets WHERE id = ?", id))
	if err != nil {
		return 0, err
	}
	return storeDue(ctx, tx, old, l.compute(old))
}

// storeDue writes r's due times when they differ from old's, and returns r's sla_due_at when
// the catalog must learn of it.
func storeDue(ctx context.Context, tx querier, old, r dueRow) (int64, error) {
	if old.frDue == r.frDue && old.resDue == r.resDue && old.slaDue == r.slaDue && old.breached == r.breached {
		return 0, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tickets SET first_response_due_at = ?, resolution_due_at = ?, sla_due_at = ?,
		sla_breached = ? WHERE id = ?`, zeroNil(r.frDue), zeroNil(r.resDue), zeroNil(r.slaDue), r.breached, r.id); err != nil {
		return 0, err
	}
	if r.slaDue != 0 && (old.slaDue == 0 || r.slaDue < old.slaDue) {
		return r.slaDue, nil
	}
	return 0, nil
}

func zeroNil(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// breachWake is when the catalog is asked to wake a tenant for a due time: just after it,
// since a target met exactly at its due time is not breached.
func breachWake(due int64) time.Time { return time.Unix(due+1, 0) }

// SetSLA stores org's service levels — the owner and admins — and recomputes the due times of
// every ticket not closed. Invalid settings are Invalid with the field at fault: a target
// (TargetField; CodeTargetInvalid, CodeTargetTooLong), or the sla package's field and kind
// as the code.
func (s *Service) SetSLA(ctx context.Context, org *catalog.Organization, a Actor, cfg SLA) error {
	if err := mayManage(a); err != nil {
		return err
	}
	st, err := s.Settings(ctx, org)
	if err != nil {
		return err
	}
	cal, err := checkSLA(cfg, st.TimeZone)
	if err != nil {
		return err
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return err
	}
	defer release()
	var earliest int64
	err = db.inTx(ctx, "SetSLA", func(tx *sql.Tx) error {
		for k, v := range encodeSLA(cfg) {
			if err := setSetting(ctx, tx, k, v, s.now()); err != nil {
				return err
			}
		}
		var err error
		earliest, err = recomputeDue(ctx, tx, levels{cal: cal, targets: cfg.Targets})
		if err == nil && earliest != 0 {
			s.wakeAt(ctx, org, breachWake(earliest))
		}
		return err
	})
	if err != nil {
		return err
	}
	ts.appends.Add(1)
	s.changed(ts, Event{Kind: SettingsChanged, By: a})
	return nil
}

// recomputeDue recomputes the due times of every ticket not closed with l, and returns the
// earliest sla_due_at that moved earlier (0: none).
func recomputeDue(ctx context.Context, tx querier, l levels) (int64, error) {
	rows, err := tx.QueryContext(ctx, "SELECT "+dueColumns+" FROM tickets WHERE status <> 'closed'")
	if err != nil {
		return 0, err
	}
	var all []dueRow
	for rows.Next() {
		r, err := scanDue(rows)
		if err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, r)
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	var earliest int64
	for _, old := range all {
		at, err := storeDue(ctx, tx, old, l.compute(old))
		if err != nil {
			return 0, err
		}
		if at != 0 && (earliest == 0 || at < earliest) {
			earliest = at
		}
	}
	return earliest, nil
}

// KindBreachNotice is the outbox kind of breach notices: one item per breach and recipient
// (the ticket's assignee, the admin agents and the owner), enqueued only while a Sender of
// the kind is registered — while email is on.
const KindBreachNotice = "sla_breach"

// BreachNotice is the payload of a KindBreachNotice item, as JSON: one recipient told of one
// breach of one ticket.
type BreachNotice struct {
	TicketID       int64  `json:"ticket_id"`
	ConversationID int64  `json:"conversation_id"`
	CustomerName   string `json:"customer_name"`
	Priority       string `json:"priority"`
	// Breached is BreachedFirstResponse or BreachedResolution; DueAt when it was due (Unix
	// seconds).
	Breached string `json:"breached"`
	DueAt    int64  `json:"due_at"`
	// The recipient: Role is "assignee", "admin" or "owner"; AgentID is 0 for the owner.
	Name    string `json:"name"`
	Email   string `json:"email"`
	Role    string `json:"role"`
	AgentID int64  `json:"agent_id,omitempty"`
}

// recordBreaches records, in tx, the breaches of the tickets whose sla_due_at has passed at
// now: for each target not met by its due time and not recorded yet, a bit of sla_breached,
// an activity line, the change for the outbox's producers and, with email on, a notice per
// recipient. It returns the tickets it recorded breaches on, the earliest sla_due_at still
// ahead (0: none), and whether it enqueued anything.
func (s *Service) recordBreaches(ctx context.Context, tx querier, org *catalog.Organization, ts *tenantState, l levels,
	now time.Time) ([]ticketState, int64, bool, error) {
	rows, err := tx.QueryContext(ctx, "SELECT "+dueColumns+" FROM tickets WHERE sla_due_at < ?", now.Unix())
	if err != nil {
		return nil, 0, false, err
	}
	var due []dueRow
	for rows.Next() {
		r, err := scanDue(rows)
		if err != nil {
			rows.Close()
			return nil, 0, false, err
		}
		due = append(due, r)
	}
	if err := rows.Close(); err != nil {
		return nil, 0, false, err
	}
	_, notices := s.outbox.sender(KindBreachNotice)
	var breached []ticketState
	kick := false
	for _, old := range due {
		r := old
		type breach struct {
			what string
			at   int64
		}
		var what []breach
		if r.status != StatusClosed && r.firstReply == 0 && r.frDue != 0 && r.frDue < now.Unix() && r.breached&BreachFirstResponse == 0 {
			r.breached |= BreachFirstResponse
			what = append(what, breach{BreachedFirstResponse, r.frDue})
		}
		if r.resDue != 0 && r.resDue < now.Unix() && r.breached&BreachResolution == 0 {
			r.breached |= BreachResolution
			what = append(what, breach{BreachedResolution, r.resDue})
		}
		r = l.compute(r)
		if _, err := storeDue(ctx, tx, old, r); err != nil {
			return nil, 0, false, err
		}
		if len(what) == 0 {
			continue
		}
		st := ticketState{TicketID: r.id}
		if err := tx.QueryRowContext(ctx, "SELECT id FROM conversations WHERE ticket_id = ?", r.id).Scan(&st.ConversationID); err != nil {
			return nil, 0, false, err
		}
		for _, w := range what {
			act := Activity{Kind: ActivityBreach, To: w.what}
			if _, err := insertMessage(ctx, tx, activity(st, now, act)); err != nil {
				return nil, 0, false, err
			}
			k, err := s.produce(ctx, tx, org, ts, change{Event: Event{Kind: TicketChanged, TicketID: st.TicketID,
				ConversationID: st.ConversationID, Changed: ChangedBreach, By: AsSystem()}, Now: now, Activity: &act})
			if err != nil {
				return nil, 0, false, err
			}
			kick = kick || k
			if !notices {
				continue
			}
			items, err := breachNotices(ctx, tx, org, st, w.what, w.at)
			if err != nil {
				return nil, 0, false, err
			}
			first, err := enqueue(ctx, tx, now, items)
			if err != nil {
				return nil, 0, false, err
			}
			if !first.IsZero() {
				s.outboxWake(ctx, org, ts, first)
				kick = true
			}
		}
		breached = append(breached, st)
	}
	var next sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT min(sla_due_at) FROM tickets WHERE sla_due_at IS NOT NULL").Scan(&next); err != nil {
		return nil, 0, false, err
	}
	return breached, next.Int64, kick, nil
}

// breachNotices are the outbox items telling of one breach of ticket st: to its assignee,
// every admin agent and the owner, each address once (agents removed are left out).
func breachNotices(ctx context.Context, tx querier, org *catalog.Organization, st ticketState, what string, dueAt int64) ([]OutboxItem, error) {
	n := BreachNotice{TicketID: st.TicketID, ConversationID: st.ConversationID, Breached: what, DueAt: dueAt}
	var assignee int64
	var priority Priority
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(assignee_id, 0), CAST(customer_name AS BLOB), priority FROM tickets WHERE id = ?",
		st.TicketID).Scan(&assignee, &n.CustomerName, &priority); err != nil {
		return nil, err
	}
	n.Priority = priority.String()
	rows, err := tx.QueryContext(ctx, "SELECT "+agentColumns+" FROM agents WHERE role = 'admin' OR id = ? ORDER BY id", assignee)
	if err != nil {
		return nil, err
	}
	var people []BreachNotice
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		if a.Removed() {
			continue
		}
		p := n
		p.Name, p.Email, p.AgentID, p.Role = a.FullName, a.Email, a.ID, "admin"
		if a.ID == assignee {
			p.Role = "assignee"
		}
		people = append(people, p)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	owner := n
	owner.Name, owner.Email, owner.Role = org.Name, org.Email, "owner"
	people = append(people, owner)
	var items []OutboxItem
	seen := map[string]bool{}
	for _, p := range people {
		addr := strings.ToLower(p.Email)
		if addr == "" || seen[addr] {
			continue
		}
		seen[addr] = true
		payload, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		items = append(items, OutboxItem{Kind: KindBreachNotice, Key: fmt.Sprintf("%d:%s:%s", st.TicketID, what, addr),
			Target: p.Email, TicketID: st.TicketID, Payload: payload})
	}
	return items, nil
}
