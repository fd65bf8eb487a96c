package report

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/sla"
)

// reportOf writes tickets to a fresh tenant and computes the report of the custom period
// from–to in Berlin.
func reportOf(t *testing.T, tickets []seedTicket, from, to string, opt Options) *Report {
	t.Helper()
	db := openDB(t)
	(&seedTenant{agents: seedAgents, tickets: tickets}).write(t, db)
	p, err := ParsePeriod(Input{Preset: Custom, From: from, To: to}, time.Now(), berlin)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Now.IsZero() {
		opt.Now = time.Date(2026, 4, 30, 0, 0, 0, 0, berlin)
	}
	r, err := Compute(context.Background(), db, p, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func berlinAt(month time.Month, d, h, m int) int64 {
	return time.Date(2026, month, d, h, m, 0, 0, berlin).Unix()
}

// TestWorkedSLAExample: a ticket opened on Friday 16:55 and answered on Monday 09:55, with
// business hours Monday to Friday 09:00–17:00, was answered after 60 business minutes —
// exactly the 1 h target, which is due then and so not breached; a minute later is. In wall
// time the same answer took 64 h: the weekend between holds the switch to summer time.
func TestWorkedSLAExample(t *testing.T) {
	cal := mustCalendar(t, sla.Config{Zone: "Europe/Berlin", Hours: officeHours})
	created := berlinAt(time.March, 27, 16, 55) // a Friday
	due, err := cal.Due(time.Unix(created, 0), time.Hour)
	if err != nil || !due.Equal(time.Unix(berlinAt(time.March, 30, 9, 55), 0)) {
		t.Fatalf("Due(Friday 16:55, 1h) = %v, %v; want Monday 09:55", due, err)
	}
	answered := func(id int64, at int64) seedTicket {
		return seedTicket{id: id, created: created, status: "open", priority: 1, assignee: 1,
			msgs: []seedMsg{{sender: "customer", at: created}, {sender: "agent", agent: 1, at: at}}}
	}
	targets := [Priorities]Target{1: {FirstResponse: time.Hour}}

	r := reportOf(t, []seedTicket{answered(1, due.Unix())}, "2026-03-27", "2026-03-27", Options{Calendar: cal, Targets: targets})
	if want := (Times{Count: 1, Median: time.Hour, P90: time.Hour}); r.FirstResponse != want || !r.Business {
		t.Errorf("business first response %+v (business %v), want %+v", r.FirstResponse, r.Business, want)
	}
	if a := r.Agents; len(a) != 1 || a[0].ID != 1 || a[0].FirstResponse.Median != time.Hour {
		t.Errorf("agents %+v, want Ann Lee with a median first response of 1h", a)
	}

	r = reportOf(t, []seedTicket{answered(1, due.Unix()+60)}, "2026-03-27", "2026-03-27", Options{Calendar: cal, Targets: targets})
	if want := (Times{Count: 1, Median: 61 * time.Minute, P90: 61 * time.Minute, Breached: 1}); r.FirstResponse != want {
		t.Errorf("answered a minute late: %+v, want %+v", r.FirstResponse, want)
	}

	r = reportOf(t, []seedTicket{answered(1, due.Unix())}, "2026-03-27", "2026-03-27", Options{Targets: targets})
	if want := (Times{Count: 1, Median: 64 * time.Hour, P90: 64 * time.Hour, Breached: 1}); r.FirstResponse != want || r.Business {
		t.Errorf("wall first response %+v, want %+v", r.FirstResponse, want)
	}
}

// TestPendingExcluded: the time a ticket waits on the customer does not count against its
// resolution, in wall time or business time.
func TestPendingExcluded(t *testing.T) {
	at := func(d, h, m int) int64 { return berlinAt(time.March, d, h, m) }
	tk := seedTicket{id: 1, created: at(23, 10, 0), status: "closed", closedAt: at(24, 12, 0), assignee: 2,
		msgs: []seedMsg{
			{sender: "customer", at: at(23, 10, 0)},
			{sender: "agent", agent: 2, at: at(23, 10, 30)},
			{sender: "activity", agent: 2, at: at(23, 11, 0), data: statusData("pending")},
			{sender: "customer", at: at(24, 10, 0)},
			{sender: "activity", at: at(24, 10, 0), data: statusData("open")},
			{sender: "activity", agent: 2, at: at(24, 12, 0), data: statusData("closed")},
		}}
	// Open 10:00–11:00 on Monday and 10:00–12:00 on Tuesday: 3 h, not the 26 h between.
	want := Times{Count: 1, Median: 3 * time.Hour, P90: 3 * time.Hour}
	r := reportOf(t, []seedTicket{tk}, "2026-03-23", "2026-03-24", Options{})
	if r.Resolution != want {
		t.Errorf("wall resolution %+v, want %+v", r.Resolution, want)
	}
	cal := mustCalendar(t, sla.Config{Zone: "Europe/Berlin", Hours: officeHours})
	r = reportOf(t, []seedTicket{tk}, "2026-03-23", "2026-03-24", Options{Calendar: cal})
	if r.Resolution != want {
		t.Errorf("business resolution %+v, want %+v", r.Resolution, want)
	}
	if len(r.Tags) != 0 || len(r.Agents) != 1 || r.Agents[0].Closed != 1 || r.Days[1].Closed != 1 {
		t.Errorf("agents %+v, days %+v", r.Agents, r.Days)
	}

	// Snoozed, then pending, then open again: one pause from the snooze to the reopening.
	// Activity lines of other kinds, or whose data is not JSON, change nothing.
	tk.msgs[2].data = statusData("snoozed")
	tk.msgs = append(tk.msgs,
		seedMsg{sender: "activity", at: at(23, 15, 0), data: statusData("pending")},
		seedMsg{sender: "activity", at: at(23, 10, 15), data: `{"kind":"assign","to":"pending"}`},
		seedMsg{sender: "activity", at: at(23, 10, 20), data: `not json`},
		seedMsg{sender: "activity", at: at(23, 10, 25), data: ``})
	inTimeOrder(tk.msgs)
	r = reportOf(t, []seedTicket{tk}, "2026-03-23", "2026-03-24", Options{})
	if r.Resolution != want {
		t.Errorf("snoozed then pending: %+v, want %+v", r.Resolution, want)
	}

	// A status line that names no status (or one this version does not know) restarts the
	// clock: from Tuesday 09:00 it runs, 1 h + 3 h.
	tk.msgs = append(tk.msgs, seedMsg{sender: "activity", at: at(24, 9, 0), data: `{"kind":"status"}`})
	inTimeOrder(tk.msgs)
	r = reportOf(t, []seedTicket{tk}, "2026-03-23", "2026-03-24", Options{})
	if want := (Times{Count: 1, Median: 4 * time.Hour, P90: 4 * time.Hour}); r.Resolution != want {
		t.Errorf("a status line without a status: %+v, want %+v", r.Resolution, want)
	}
	for i := range tk.msgs {
		if tk.msgs[i].data == `{"kind":"status"}` {
			tk.msgs[i].data = statusData("escalated")
		}
	}
	r = reportOf(t, []seedTicket{tk}, "2026-03-23", "2026-03-24", Options{})
	if want := (Times{Count: 1, Median: 4 * time.Hour, P90: 4 * time.Hour}); r.Resolution != want {
		t.Errorf("an unknown status: %+v, want %+v", r.Resolution, want)
	}
}

// TestReplyRules: an agent message older than the ticket is not its reply, nor is a note;
// a reopened ticket is not counted as closed even though closed_at is set.
func TestReplyRules(t *testing.T) {
	tickets := special()[2:4]
	r := reportOf(t, tickets, "2026-03-24", "2026-03-25", Options{})
	if want := (Times{Count: 2, Median: 30 * time.Minute, P90: time.Hour}); r.FirstResponse != want {
		t.Errorf("first response %+v, want %+v", r.FirstResponse, want)
	}
	if r.Closed != 0 || r.Resolution.Count != 0 || r.Opened != 2 || r.Unanswered != 0 {
		t.Errorf("opened %d, closed %d, resolution %+v, unanswered %d; want 2 opened, none closed",
			r.Opened, r.Closed, r.Resolution, r.Unanswered)
	}
}

// TestComputeRefuses a period it was not given by ParsePeriod, and a cancelled context.
func TestComputeRefuses(t *testing.T) {
	db := openDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	good := Period{Preset: Custom, First: date(2026, 3, 1), Last: date(2026, 3, 2), Loc: berlin}
	for name, tc := range map[string]struct {
		ctx context.Context
		p   Period
	}{
		"no zone":   {context.Background(), Period{First: good.First, Last: good.Last}},
		"reversed":  {context.Background(), Period{First: good.Last, Last: good.First, Loc: berlin}},
		"too long":  {context.Background(), Period{First: date(2020, 1, 1), Last: date(2026, 1, 1), Loc: berlin}},
		"cancelled": {ctx, good},
	} {
		if r, err := Compute(tc.ctx, db, tc.p, Options{}); err == nil || r != nil {
			t.Errorf("%s: %v, %v", name, r, err)
		}
	}
	if r, err := Compute(context.Background(), db, good, Options{}); err != nil || len(r.Days) != 2 || r.Opened != 0 {
		t.Errorf("an empty tenant: %+v, %v", r, err)
	}
}

// TestRanges: the ranges cover every id given, in order and without overlap; a gap wider
// than maxGap splits them, and no more than maxRanges are made.
func TestRanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		ids  []int64
		want [][2]int64
	}{
		{"none", nil, nil},
		{"one", []int64{7}, [][2]int64{{7, 7}}},
		{"close together, any order", []int64{9, 1, 5, 300, 2}, [][2]int64{{1, 300}}},
		{"an old ticket closed now", []int64{1000, 1001, 1200, 3}, [][2]int64{{3, 3}, {1000, 1200}}},
		{"just within the gap", []int64{1, 1 + maxGap}, [][2]int64{{1, 1 + maxGap}}},
		{"just beyond it", []int64{1, 2 + maxGap}, [][2]int64{{1, 1}, {2 + maxGap, 2 + maxGap}}},
	} {
		if got := ranges(tc.ids); !slices.Equal(got, tc.want) {
			t.Errorf("%s: ranges(%v) = %v, want %v", tc.name, tc.ids, got, tc.want)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	ids := make([]int64, 500)
	for i := range ids {
		ids[i] = rng.Int64N(1e7)
	}
	got := ranges(ids)
	if len(got) != maxRanges {
		t.Fatalf("%d ranges for 500 scattered ids, want %d", len(got), maxRanges)
	}
	for i, rg := range got {
		if rg[0] > rg[1] || i > 0 && rg[0] <= got[i-1][1] {
			t.Fatalf("ranges %v out of order", got)
		}
	}
	for _, id := range ids {
		if !slices.ContainsFunc(got, func(rg [2]int64) bool { return rg[0] <= id && id <= rg[1] }) {
			t.Fatalf("id %d in no range of %v", id, got)
		}
	}
}

// TestPercentile: nearest rank, always a value that occurred.
func TestPercentile(t *testing.T) {
	ds := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		sorted []time.Duration
		p      int
		want   time.Duration
	}{{ds, 50, 5}, {ds, 90, 9}, {ds, 91, 10}, {ds, 100, 10}, {ds, 1, 1}, {ds[:1], 90, 1}, {ds[:2], 50, 1}, {nil, 50, 0}} {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("Percentile(%v, %d) = %v, want %v", tc.sorted, tc.p, got, tc.want)
		}
	}
}

// inTimeOrder sorts messages by time, as the desk writes them (ties keep their order).
func inTimeOrder(msgs []seedMsg) {
	slices.SortStableFunc(msgs, func(a, b seedMsg) int { return cmpInt(a.at, b.at) })
}
