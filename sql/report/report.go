// Package report computes an organization's support figures for a range of days from its
// tenant database: tickets opened and closed per day, first response and resolution times
// (median and 90th percentile, in business time when a calendar is given), CSAT, and tables
// per agent and per tag. It returns plain figures; the HTTP layer words and draws them, and
// WriteCSV writes them for download.
//
// What each figure counts:
//   - Opened: tickets created in the period. Their first response is the ticket's
//     first_reply_at, the first agent message at or after the ticket's creation (notes and
//     activity lines are not responses), which the desk records; a ticket without one is
//     Unanswered.
//   - Closed: tickets whose status is closed and whose closed_at lies in the period. Their
//     resolution time runs from creation to closed_at and counts only the time the ticket was
//     open: pending, snoozed (and closed, for a ticket reopened before its last close) spans
//     are left out, as the desk records them on the ticket (pauses, paused_since). CSAT is
//     the rating of these tickets.
//   - Per agent, by the ticket's assignee (ID 0 for unassigned tickets): Closed and CSAT of
//     the closed tickets, the first response of the opened ones. Agents without a ticket in
//     either set are left out.
//   - Per tag: Tickets opened with the tag, Closed with the tag, and the resolution of those.
//
// Median and 90th percentile are nearest-rank: the smallest value with at least half (90%)
// of the values at or below it, always a value that occurred.
//
// The queries need the indexes of the tenant migration 0004.
package report

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/sla"
)

// Priorities are 0 (low) to 3 (urgent).
const Priorities = 4

// Target is the most time a ticket of one priority may take; zero means no target.
type Target struct {
	FirstResponse time.Duration
	Resolution    time.Duration
}

// Options tune a report.
type Options struct {
	// Calendar measures durations in business time; nil measures wall time.
	Calendar *sla.Calendar
	// Targets, indexed by priority, count breaches (measured as the durations are).
	Targets [Priorities]Target
	// Now is when the report is made: an unanswered ticket whose first-response target has
	// passed by Now is breached. Zero means time.Now().
	Now time.Time
}

// Report is the figures of one period.
type Report struct {
	Period Period
	// Business is true when durations are business time.
	Business bool
	// Days has one entry per day of the period, in order.
	Days []Day
	// Opened and Closed are the period's totals.
	Opened, Closed int
	// FirstResponse is over the opened tickets that were answered; Unanswered counts the
	// others. FirstResponse.Breached counts both answered late and unanswered past the target.
	FirstResponse Times
	Unanswered    int
	// Resolution is over the closed tickets.
	Resolution Times
	CSAT       CSAT
	// Agents is ordered by name (unassigned last), Tags by tag.
	Agents []Agent
	Tags   []Tag
	// Comments are the latest comments customers gave with their ratings in the period,
	// newest first, at most MaxComments.
	Comments []Comment
}

// MaxComments bounds the rating comments a report lists.
const MaxComments = 20

// Comment is a customer's rating of a ticket with what it wrote.
type Comment struct {
	TicketID, ConversationID int64
	Rating                   int
	Text                     string
	RatedAt                  time.Time
}

// Day is one day's counts.
type Day struct {
	Date   sla.Date
	Opened int
	Closed int
}

// Times summarises durations. Median and P90 are zero when Count is.
type Times struct {
	Count    int
	Median   time.Duration
	P90      time.Duration
	Breached int
}

// Rating summarises CSAT ratings (1–5); Average is zero when Count is.
type Rating struct {
	Count   int
	Average float64
}

// CSAT is the ratings of the closed tickets: their average and how many got each score
// (Counts[0] is the number of 1s).
type CSAT struct {
	Rating
	Counts [5]int
}

// Agent is one row of the per-agent table. ID 0 (with an empty Name) is the unassigned
// tickets.
type Agent struct {
	ID            int64
	Name          string
	Closed        int
	FirstResponse Times
	CSAT          Rating
}

// Tag is one row of the per-tag table.
type Tag struct {
	Tag        string
	Tickets    int
	Closed     int
	Resolution Times
}

// How the figures are read. go-libsql costs about 0.3 µs per cell it hands over (a cgo call
// for the type and one for the value; a TEXT value is also tried against date layouts), and
// SQLite about 1 µs per index seek: more than it takes to step through an index. So:
//   - the queries that read one row per ticket return all their rows as one BLOB of decimal
//     integers separated by spaces (packed; ints decodes it), and text is read as BLOB;
//   - everything a figure needs of a ticket is a column of the ticket (its first reply, its
//     pauses), so no message is read;
//   - only the two ticket queries select by time (through the covering indexes
//     tickets_created and tickets_report_closed); tags are then read by ranges of ticket ids
//     around the tickets found, each range one pass along an index instead of a seek per
//     ticket, and Go keeps the rows of those tickets. Ids grow with time, so the ranges hold
//     few other tickets; a ticket far from the rest (opened long ago, closed in the period)
//     gets a range of its own (see ranges).
//
// EXPLAIN QUERY PLAN of each is checked in the tests.
const (
	// Per ticket opened: id, created_at, assignee (0: none), priority, first reply (-1: none).
	qOpened = `SELECT CAST(group_concat(t.id || ' ' || t.created_at || ' ' || coalesce(t.assignee_id, 0) || ' ' || t.priority || ' ' ||
	coalesce(t.first_reply_at, -1), ' ') AS BLOB)
FROM tickets t
WHERE t.created_at >= ?1 AND t.created_at < ?2`
	openedCols = 5

	// Per ticket closed, a record: id, created_at, closed_at, assignee (0: none), priority,
	// rating (0: none), when its last pause began (closed_at when not recorded), then its
	// earlier pauses as start and end pairs. Records are separated by ';'.
	qClosed = `SELECT CAST(group_concat(t.id || ' ' || t.created_at || ' ' || t.closed_at || ' ' || coalesce(t.assignee_id, 0) || ' ' ||
	t.priority || ' ' || coalesce(t.rating, 0) || ' ' || coalesce(t.paused_since, t.closed_at) ||
	CASE WHEN t.pauses <> '' THEN ' ' || t.pauses ELSE '' END, ';') AS BLOB)
FROM tickets t
WHERE t.status = 'closed' AND t.closed_at >= ?1 AND t.closed_at < ?2`
	closedCols = 7

	// Per tag of a ticket ?1 to ?2: the ticket id and the tag in hexadecimal (a tag may hold
	// any character but no hex digit is a space), in the primary key's order: grouping by
	// tag in SQL would sort every row by its text first.
	qTags = `SELECT CAST(group_concat(ticket_id || ' ' || hex(tag), ' ') AS BLOB)
FROM ticket_tags
WHERE ticket_id BETWEEN ?1 AND ?2`

	qAgents = `SELECT id, CAST(full_name AS BLOB) FROM agents`

	// The latest rating comments given in the period (their text is read from the rows).
	qComments = `SELECT t.id, v.id, t.rating, t.rated_at, CAST(t.rating_comment AS BLOB)
FROM tickets t JOIN conversations v ON v.ticket_id = t.id
WHERE t.rating_comment IS NOT NULL AND t.rated_at >= ?1 AND t.rated_at < ?2
ORDER BY t.rated_at DESC LIMIT ?3`
)

// opened is a ticket created in the period.
type opened struct {
	id, created, reply int64 // reply -1: unanswered
	assignee           int64
	priority           int
}

// closed is a ticket closed in the period.
type closed struct {
	id               int64
	created, closed  int64
	assignee         int64
	priority, rating int
	// since is when its last pause began; earlier are its earlier pauses as start, end pairs.
	since      int64
	earlier    []int64
	resolution time.Duration
	// pauses are those resolution left out; late is set when it breached its target.
	pauses         []span
	measured, late bool
}

// where is a ticket's place among the opened (open-1) and the closed (done-1); 0: not there.
type where struct{ open, done int32 }

// places finds a ticket's where by its id: in a slice indexed by id when the ids are dense
// (they grow with time, so the tickets of a period mostly are), else in a map.
type places struct {
	base  int64
	dense []where
	m     map[int64]where
}

func newPlaces(open []opened, done []closed) *places {
	n := len(open) + len(done)
	p := &places{}
	if n == 0 {
		return p
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, o := range open {
		lo, hi = min(lo, o.id), max(hi, o.id)
	}
	for _, c := range done {
		lo, hi = min(lo, c.id), max(hi, c.id)
	}
	set := func(id int64, f func(*where)) {
		if p.dense != nil {
			f(&p.dense[id-p.base])
			return
		}
		w := p.m[id]
		f(&w)
		p.m[id] = w
	}
	if hi-lo < int64(4*n+1024) {
		p.base, p.dense = lo, make([]where, hi-lo+1)
	} else {
		p.m = make(map[int64]where, n)
	}
	for i, o := range open {
		set(o.id, func(w *where) { w.open = int32(i + 1) })
	}
	for i, c := range done {
		set(c.id, func(w *where) { w.done = int32(i + 1) })
	}
	return p
}

// get returns where ticket id is (zero: in neither set).
func (p *places) get(id int64) where {
	if p.dense != nil {
		if id < p.base || id-p.base >= int64(len(p.dense)) {
			return where{}
		}
		return p.dense[id-p.base]
	}
	return p.m[id]
}

// ids lists the tickets' ids, in order when dense.
func (p *places) ids() []int64 {
	var out []int64
	if p.dense != nil {
		out = make([]int64, 0, len(p.dense))
		for i, w := range p.dense {
			if w != (where{}) {
				out = append(out, p.base+int64(i))
			}
		}
		return out
	}
	out = make([]int64, 0, len(p.m))
	for id := range p.m {
		out = append(out, id)
	}
	return out
}

// Compute computes the report of period p from a tenant database migrated with the reports'
// indexes. Errors are unexpected (the database failed, or p did not come from ParsePeriod)
// and wrap the cause.
//
// The queries run outside a transaction (on an embedded replica a transaction, reads too,
// goes to the primary): a ticket that changes between them counts as each query saw it.
func Compute(ctx context.Context, db *sql.DB, p Period, opt Options) (*Report, error) {
	if p.Loc == nil || p.Days() < 1 || p.Days() > MaxDays {
		return nil, apperr.New(apperr.Internal, "invalid_period")
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	bounds := p.bounds()
	from, to := bounds[0], bounds[len(bounds)-1]
	r := &Report{Period: p, Business: opt.Calendar != nil, Days: make([]Day, p.Days())}
	for i := range r.Days {
		r.Days[i].Date = p.Day(i)
	}
	// The tickets opened and closed in the period; at says where each ticket is in them (one
	// lookup per tag read).
	vals, err := packed(ctx, db, qOpened, openedCols, from, to)
	if err != nil {
		return nil, err
	}
	open := make([]opened, 0, len(vals)/openedCols)
	for v := vals; len(v) > 0; v = v[openedCols:] {
		open = append(open, opened{id: v[0], created: v[1], assignee: v[2], priority: int(v[3]), reply: v[4]})
	}
	vals, ends, err := packedRecords(ctx, db, qClosed, from, to)
	if err != nil {
		return nil, err
	}
	done := make([]closed, 0, len(ends))
	start := 0
	for _, end := range ends {
		v := vals[start:end]
		start = int(end)
		if len(v) < closedCols || (len(v)-closedCols)%2 != 0 {
			return nil, errPacked
		}
		c := closed{id: v[0], created: v[1], closed: v[2], assignee: v[3], priority: int(v[4]), rating: int(v[5]), since: v[6]}
		if len(v) > closedCols {
			c.earlier = v[closedCols:]
		}
		done = append(done, c)
	}
	at := newPlaces(open, done)
	tickets := ranges(at.ids())
	m := newMeasurer(opt.Calendar, open, done, now.Unix())

	// Per day, first response, per agent.
	agents := map[int64]*agentAcc{}
	agent := func(id int64) *agentAcc {
		a := agents[id]
		if a == nil {
			a = &agentAcc{}
			agents[id] = a
		}
		return a
	}
	var firsts []time.Duration
	breached := 0
	for _, o := range open {
		r.Days[day(bounds, o.created)].Opened++
		a := agent(o.assignee)
		target := opt.Targets[clampPriority(o.priority)].FirstResponse
		if o.reply < 0 {
			r.Unanswered++
			if target > 0 {
				if d, ok := m.between(o.created, now.Unix(), nil); ok && m.late(d, target, o.created, now.Unix(), nil) {
					breached++
					a.firstBreached++
				}
			}
			continue
		}
		d, ok := m.between(o.created, o.reply, nil)
		if !ok {
			continue
		}
		firsts = append(firsts, d)
		a.firsts = append(a.firsts, d)
		if target > 0 && m.late(d, target, o.created, o.reply, nil) {
			breached++
			a.firstBreached++
		}
	}
	r.Opened = len(open)
	r.FirstResponse = summarise(firsts, breached)

	// Per day, resolution, CSAT, per agent.
	var resolutions []time.Duration
	breached = 0
	for i := range done {
		c := &done[i]
		r.Days[day(bounds, c.closed)].Closed++
		a := agent(c.assignee)
		a.closed++
		if c.rating >= 1 && c.rating <= 5 {
			r.CSAT.Counts[c.rating-1]++
			a.ratings++
			a.ratingSum += c.rating
		}
		c.pauses = pausesOf(c.created, c.closed, c.since, c.earlier)
		c.resolution, c.measured = m.between(c.created, c.closed, c.pauses)
		if !c.measured {
			continue
		}
		resolutions = append(resolutions, c.resolution)
		if t := opt.Targets[clampPriority(c.priority)].Resolution; t > 0 && m.late(c.resolution, t, c.created, c.closed, c.pauses) {
			c.late = true
			breached++
		}
	}
	r.Closed = len(done)
	r.Resolution = summarise(resolutions, breached)
	sum := 0
	for i, n := range r.CSAT.Counts {
		r.CSAT.Count += n
		sum += (i + 1) * n
	}
	r.CSAT.Average = average(sum, r.CSAT.Count)

	// Per agent.
	names := map[int64]string{}
	err = query(ctx, db, qAgents, nil, func(rows *sql.Rows) error {
		var id int64
		var name []byte
		if err := rows.Scan(&id, &name); err != nil {
			return err
		}
		if agents[id] != nil {
			names[id] = string(name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for id, a := range agents {
		t := summarise(a.firsts, a.firstBreached)
		r.Agents = append(r.Agents, Agent{ID: id, Name: names[id], Closed: a.closed, FirstResponse: t,
			CSAT: Rating{Count: a.ratings, Average: average(a.ratingSum, a.ratings)}})
	}
	slices.SortFunc(r.Agents, func(x, y Agent) int {
		if (x.ID == 0) != (y.ID == 0) {
			if x.ID == 0 {
				return 1
			}
			return -1
		}
		if c := strings.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		return cmpInt(x.ID, y.ID)
	})

	// Per tag.
	tags := map[string]*tagAcc{} // by the tag in hexadecimal
	for _, rg := range tickets {
		err = query(ctx, db, qTags, []any{rg[0], rg[1]}, func(rows *sql.Rows) error {
			var list sql.RawBytes
			if err := rows.Scan(&list); err != nil {
				return err
			}
			for len(list) > 0 {
				var id int64
				var hexTag []byte
				var err error
				if id, hexTag, list, err = pair(list); err != nil {
					return err
				}
				w := at.get(id)
				if w == (where{}) {
					continue
				}
				t := tags[string(hexTag)] // the lookup does not allocate
				if t == nil {
					t = &tagAcc{}
					tags[string(hexTag)] = t
				}
				if w.open > 0 {
					t.tickets++
				}
				if w.done == 0 {
					continue
				}
				t.closed++
				if c := &done[w.done-1]; c.measured {
					t.resolutions = append(t.resolutions, c.resolution)
					if c.late {
						t.breached++
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for hexTag, t := range tags {
		name, err := hex.DecodeString(hexTag)
		if err != nil {
			return nil, fmt.Errorf("report: tag %q: %w", hexTag, err)
		}
		r.Tags = append(r.Tags, Tag{Tag: string(name), Tickets: t.tickets, Closed: t.closed, Resolution: summarise(t.resolutions, t.breached)})
	}
	slices.SortFunc(r.Tags, func(x, y Tag) int { return strings.Compare(x.Tag, y.Tag) })

	err = query(ctx, db, qComments, []any{from, to, MaxComments}, func(rows *sql.Rows) error {
		var c Comment
		var ratedAt int64
		var text []byte
		if err := rows.Scan(&c.TicketID, &c.ConversationID, &c.Rating, &ratedAt, &text); err != nil {
			return err
		}
		c.Text, c.RatedAt = string(text), time.Unix(ratedAt, 0)
		r.Comments = append(r.Comments, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Ranges of ids: a gap of more than maxGap ids starts a new range (reading a few hundred ids
// along an index costs less than another query), and at most maxRanges ranges are made (the
// largest gaps split).
const (
	maxGap    = 512
	maxRanges = 32
)

// ranges returns the ranges [lo, hi] of ids to read for the given ids (in any order).
func ranges(ids []int64) [][2]int64 {
	if len(ids) == 0 {
		return nil
	}
	if !slices.IsSorted(ids) {
		ids = slices.Clone(ids)
		slices.Sort(ids)
	}
	type gap struct {
		at   int // ids[at] starts a range
		size int64
	}
	var gaps []gap
	for i := 1; i < len(ids); i++ {
		if d := ids[i] - ids[i-1]; d > maxGap {
			gaps = append(gaps, gap{i, d})
		}
	}
	if len(gaps) > maxRanges-1 {
		slices.SortFunc(gaps, func(a, b gap) int { return cmpInt(b.size, a.size) })
		gaps = gaps[:maxRanges-1]
		slices.SortFunc(gaps, func(a, b gap) int { return a.at - b.at })
	}
	out := make([][2]int64, 0, len(gaps)+1)
	lo := ids[0]
	for _, g := range gaps {
		out = append(out, [2]int64{lo, ids[g.at-1]})
		lo = ids[g.at]
	}
	return append(out, [2]int64{lo, ids[len(ids)-1]})
}

type agentAcc struct {
	closed             int
	firsts             []time.Duration
	firstBreached      int
	ratings, ratingSum int
}

type tagAcc struct {
	tickets, closed int
	resolutions     []time.Duration
	breached        int
}

// packed runs a query that returns its rows as one BLOB of integers (or NULL for no rows), and
// returns them, cols per row.
func packed(ctx context.Context, db *sql.DB, q string, cols int, args ...any) ([]int64, error) {
	var vals []int64
	err := query(ctx, db, q, args, func(rows *sql.Rows) error {
		var b sql.RawBytes // decoded before the next row: no copy
		if err := rows.Scan(&b); err != nil {
			return err
		}
		var err error
		vals, err = ints(b, cols)
		return err
	})
	return vals, err
}

// ints decodes decimal integers separated by single spaces, which must come in a multiple
// of cols.
func ints(b []byte, cols int) ([]int64, error) {
	if len(b) == 0 {
		return nil, nil
	}
	out, err := appendInts(make([]int64, 0, bytes.Count(b, []byte{' '})+1), b)
	if err != nil || len(out)%cols != 0 {
		return nil, errPacked
	}
	return out, nil
}

// appendInts appends the decimal integers of b, separated by single spaces, to out.
func appendInts(out []int64, b []byte) ([]int64, error) {
	for i := 0; i <= len(b); {
		neg := i < len(b) && b[i] == '-'
		if neg {
			i++
		}
		start := i
		var n int64
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if n > (math.MaxInt64-9)/10 {
				return nil, errPacked
			}
			n = n*10 + int64(b[i]-'0')
		}
		if i == start || i < len(b) && b[i] != ' ' {
			return nil, errPacked
		}
		if neg {
			n = -n
		}
		out = append(out, n)
		i++
	}
	return out, nil
}

// packedRecords runs a query that returns its rows as one BLOB of records separated by ';',
// each of integers separated by spaces, and returns the integers with the end of each record
// in them.
func packedRecords(ctx context.Context, db *sql.DB, q string, args ...any) ([]int64, []int32, error) {
	var vals []int64
	var ends []int32
	err := query(ctx, db, q, args, func(rows *sql.Rows) error {
		var b sql.RawBytes
		if err := rows.Scan(&b); err != nil {
			return err
		}
		var err error
		vals, ends, err = records(b)
		return err
	})
	return vals, ends, err
}

// records decodes records separated by ';' of decimal integers separated by single spaces.
func records(b []byte) ([]int64, []int32, error) {
	if len(b) == 0 {
		return nil, nil, nil
	}
	out := make([]int64, 0, bytes.Count(b, []byte{' '})+bytes.Count(b, []byte{';'})+1)
	ends := make([]int32, 0, bytes.Count(b, []byte{';'})+1)
	for rec := range bytes.SplitSeq(b, []byte{';'}) {
		var err error
		if out, err = appendInts(out, rec); err != nil {
			return nil, nil, errPacked
		}
		ends = append(ends, int32(len(out)))
	}
	return out, ends, nil
}

// pair reads "<id> <hex>" and the space after it from the start of b.
func pair(b []byte) (id int64, hexText, rest []byte, err error) {
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 {
		return 0, nil, nil, errPacked
	}
	v, err := ints(b[:sp], 1)
	if err != nil || len(v) != 1 {
		return 0, nil, nil, errPacked
	}
	hexText, rest, _ = bytes.Cut(b[sp+1:], []byte{' '})
	return v[0], hexText, rest, nil
}

var errPacked = errors.New("report: malformed packed values")

// query runs q and calls scan for each row.
func query(ctx context.Context, db *sql.DB, q string, args []any, scan func(*sql.Rows) error) error {
	if err := ctx.Err(); err != nil {
		return err // the driver ignores the context: check it between queries
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// day is the index of the day of bounds holding Unix second t (which lies in the period).
func day(bounds []int64, t int64) int {
	i := sort.Search(len(bounds), func(i int) bool { return bounds[i] > t }) - 1
	return min(max(i, 0), len(bounds)-2)
}

func clampPriority(p int) int { return min(max(p, 0), Priorities-1) }

func average(sum, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// summarise sorts ds and returns their count, median and 90th percentile.
func summarise(ds []time.Duration, breached int) Times {
	t := Times{Count: len(ds), Breached: breached}
	if len(ds) == 0 {
		return t
	}
	slices.Sort(ds)
	t.Median = Percentile(ds, 50)
	t.P90 = Percentile(ds, 90)
	return t
}

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted: the smallest value
// with at least p% of the values at or below it; zero for no values.
func Percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ⌈p·n/100⌉
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// measurer measures durations in business time with a calendar, or else in wall time. With a
// calendar it adds up the open time of the window the report's tickets lie in once
// (timeline), so that each duration is two lookups; instants outside it ask the calendar.
type measurer struct {
	cal *sla.Calendar
	tl  *timeline
}

// timelineSpan bounds the window a timeline covers (a ticket opened years before the period
// it closed in is measured by the calendar).
const timelineSpan = 3 * 366 * 24 * 3600

func newMeasurer(cal *sla.Calendar, open []opened, done []closed, now int64) measurer {
	m := measurer{cal: cal}
	if cal == nil || len(open)+len(done) == 0 {
		return m
	}
	lo, hi := now, now
	for _, o := range open {
		lo, hi = min(lo, o.created), max(hi, o.created, o.reply)
	}
	for _, c := range done {
		lo, hi = min(lo, c.created), max(hi, c.closed)
	}
	lo = max(lo, hi-timelineSpan)
	spans, err := cal.Open(time.Unix(lo, 0), time.Unix(hi+1, 0))
	if err != nil {
		return m // the calendar measures (or refuses) each duration itself
	}
	tl := &timeline{lo: lo, hi: hi + 1, starts: make([]int64, len(spans)), ends: make([]int64, len(spans)),
		before: make([]int64, len(spans)+1)}
	for i, s := range spans {
		// Open stretches start and end on whole seconds (schedules are in minutes, zone
		// offsets in seconds), as the instants measured do.
		tl.starts[i], tl.ends[i] = s.Start.Unix(), s.End.Unix()
		tl.before[i+1] = tl.before[i] + tl.ends[i] - tl.starts[i]
	}
	m.tl = tl
	return m
}

// timeline is the open time of a calendar within [lo, hi): its open stretches in order and
// the open time before each.
type timeline struct {
	lo, hi       int64
	starts, ends []int64
	before       []int64 // before[i]: open seconds before starts[i]; before[len] is the total
}

// covers reports whether [a, b] lies in the window.
func (tl *timeline) covers(a, b int64) bool { return tl != nil && a >= tl.lo && b < tl.hi }

// open is the open time in [lo, t), in seconds.
func (tl *timeline) open(t int64) int64 {
	i := sort.Search(len(tl.ends), func(i int) bool { return tl.ends[i] > t })
	if i == len(tl.ends) || t <= tl.starts[i] {
		return tl.before[i]
	}
	return tl.before[i] + t - tl.starts[i]
}

// between is the time from a to b (Unix seconds), without the paused spans (in order, not
// overlapping, within [a, b]); ok is false when the calendar cannot measure it (an instant
// outside its years or a span longer than its horizon), and the ticket is then left out of
// the figures.
func (m measurer) between(a, b int64, paused []span) (time.Duration, bool) {
	if b < a {
		b = a
	}
	if m.cal == nil {
		d := b - a
		for _, p := range paused {
			d -= p.e - p.s
		}
		return time.Duration(d) * time.Second, true
	}
	if m.tl.covers(a, b) {
		d := m.tl.open(b) - m.tl.open(a)
		for _, p := range paused {
			d -= m.tl.open(p.e) - m.tl.open(p.s)
		}
		return time.Duration(d) * time.Second, true
	}
	var spans []sla.Span
	for _, p := range paused {
		spans = append(spans, sla.Span{Start: time.Unix(p.s, 0), End: time.Unix(p.e, 0)})
	}
	d, err := m.cal.BetweenExcluding(time.Unix(a, 0), time.Unix(b, 0), spans)
	return d, err == nil
}

// late reports whether something done at at, d after start (as between measured it, paused
// spans left out), missed a target: when at is after the target's due time. That is d beyond
// the target, or d exactly the target when at lies after the due time (closed hours or a
// pause came between) — the due times the desk keeps follow the same rule.
func (m measurer) late(d, target time.Duration, start, at int64, paused []span) bool {
	if d != target {
		return d > target
	}
	if m.cal == nil {
		left, t := int64(target/time.Second), start
		for _, p := range paused {
			if p.s >= t+left {
				break
			}
			left -= max(p.s, t) - t
			t = max(t, p.e)
		}
		return at > t+left
	}
	var spans []sla.Span
	for _, p := range paused {
		spans = append(spans, sla.Span{Start: time.Unix(p.s, 0), End: time.Unix(p.e, 0)})
	}
	due, err := m.cal.DueExcluding(time.Unix(start, 0), target, spans)
	return err == nil && time.Unix(at, 0).After(due)
}

// pausesOf are the pauses of a ticket created at created and closed at closedAt: its earlier
// pauses (start, end pairs) and its last, from since on, each cut to [created, closedAt], in
// order and merged.
func pausesOf(created, closedAt, since int64, earlier []int64) []span {
	if closedAt < created {
		return nil
	}
	paused := make([]span, 0, len(earlier)/2+1)
	add := func(s, e int64) {
		s, e = min(max(s, created), closedAt), min(max(e, created), closedAt)
		if e > s {
			paused = append(paused, span{s, e})
		}
	}
	for i := 0; i+1 < len(earlier); i += 2 {
		add(earlier[i], earlier[i+1])
	}
	add(since, closedAt)
	return merged(paused)
}

// span is [s, e) in Unix seconds.
type span struct{ s, e int64 }

// merged sorts spans and joins those that overlap, so that no time is taken out twice.
func merged(spans []span) []span {
	if len(spans) < 2 {
		return spans
	}
	slices.SortFunc(spans, func(a, b span) int { return cmpInt(a.s, b.s) })
	out := spans[:1]
	for _, p := range spans[1:] {
		if last := &out[len(out)-1]; p.s <= last.e {
			last.e = max(last.e, p.e)
			continue
		}
		out = append(out, p)
	}
	return out
}
