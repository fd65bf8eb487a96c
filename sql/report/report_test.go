package report

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/sla"
)

var berlin = mustLoc("Europe/Berlin")

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

var seedAgents = []seedAgent{{1, "Ann Lee"}, {2, "=HYPERLINK(\"http://x\")"}, {3, "Zoë <b>"}}

// officeHours is Monday to Friday 09:00–17:00.
var officeHours = func() *sla.Week {
	var w sla.Week
	for d := time.Monday; d <= time.Friday; d++ {
		w[d] = []sla.Interval{{Start: 9 * 60, End: 17 * 60}}
	}
	return &w
}()

func mustCalendar(tb testing.TB, cfg sla.Config) *sla.Calendar {
	tb.Helper()
	c, err := sla.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// special are hand-made tickets at the edges: the night the clocks jump, a reply before the
// ticket, a reopened ticket whose closed_at lies in the period, a ticket opened before the
// period and closed in it.
func special() []seedTicket {
	at := func(d, h, m int) int64 { return time.Date(2026, 3, d, h, m, 0, 0, berlin).Unix() }
	return []seedTicket{
		// Opened on the last minute of the 28th and the first of the 29th (the 23-hour day),
		// closed just after the jump and on the last minute of the 29th.
		{id: 9001, created: at(28, 23, 59), status: "closed", closedAt: at(29, 3, 0), assignee: 1, rating: 5,
			msgs: []seedMsg{{sender: "customer", at: at(28, 23, 59)}, {sender: "agent", agent: 1, at: at(29, 1, 30)},
				{sender: "activity", at: at(29, 3, 0), data: statusData("closed")}}},
		{id: 9002, created: at(29, 0, 0), status: "closed", closedAt: at(29, 23, 59), tags: []string{"bug"},
			msgs: []seedMsg{{sender: "customer", at: at(29, 0, 0)}, {sender: "agent", agent: 2, at: at(29, 0, 0)},
				{sender: "activity", at: at(29, 23, 59), data: statusData("closed")}}},
		// An agent message older than the ticket (an imported conversation) is not its reply.
		{id: 9003, created: at(24, 10, 0), status: "open", assignee: 3,
			msgs: []seedMsg{{sender: "agent", agent: 3, at: at(24, 9, 55)}, {sender: "customer", at: at(24, 10, 0)},
				{sender: "note", agent: 3, at: at(24, 10, 5)}, {sender: "agent", agent: 3, at: at(24, 11, 0)}}},
		// Reopened: closed_at still says the 25th, but the ticket is open.
		{id: 9004, created: at(25, 9, 0), status: "open", closedAt: at(25, 12, 0), assignee: 2,
			msgs: []seedMsg{{sender: "customer", at: at(25, 9, 0)}, {sender: "agent", agent: 2, at: at(25, 9, 30)},
				{sender: "activity", at: at(25, 12, 0), data: statusData("closed")},
				{sender: "activity", at: at(25, 13, 0), data: statusData("open")}}},
		// Opened before the period, closed in it, pending for a day.
		{id: 9005, created: at(10, 9, 0), status: "closed", closedAt: at(23, 9, 0), assignee: 1, rating: 1,
			msgs: []seedMsg{{sender: "customer", at: at(10, 9, 0)}, {sender: "agent", agent: 1, at: at(10, 9, 10)},
				{sender: "activity", at: at(20, 9, 0), data: statusData("pending")},
				{sender: "activity", at: at(21, 9, 0), data: `{"kind":"status"}`}, // no status named: the clock runs
				{sender: "activity", at: at(23, 9, 0), data: statusData("closed")}}},
	}
}

// TestSeededTenant checks every figure of a seeded tenant against the same figures computed
// here from the seed itself (minute by minute, with a business-hours rule of its own), in
// wall time and in business time, over a period that holds the switch to summer time.
func TestSeededTenant(t *testing.T) {
	db := openDB(t)
	rng := rand.New(rand.NewPCG(16, 2026))
	tickets := generate(rng, 400, time.Date(2026, 3, 15, 0, 0, 0, 0, berlin), time.Date(2026, 4, 9, 0, 0, 0, 0, berlin), 1)
	tickets = append(tickets, special()...)
	tenant := &seedTenant{agents: seedAgents, tickets: tickets}
	tenant.write(t, db)

	// The same tenant with ids that do not follow time (imported tickets, conversations made
	// later) must give the same figures: ids only choose which ranges are read.
	shuffled := &seedTenant{agents: seedAgents, tickets: slices.Clone(tickets)}
	perm := rng.Perm(len(tickets))
	for i := range shuffled.tickets {
		shuffled.tickets[i].id = int64(perm[i])*3 + 1
		shuffled.tickets[i].conv = int64(perm[(i+7)%len(perm)])*1000 + 5
	}
	shuffledDB := openDB(t)
	shuffled.write(t, shuffledDB)

	now := time.Date(2026, 4, 9, 12, 0, 0, 0, berlin)
	p, err := ParsePeriod(Input{Preset: Custom, From: "2026-03-22", To: "2026-04-04"}, now, berlin)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.End().Sub(p.Start()), (14*24-1)*time.Hour; got != want {
		t.Fatalf("the period lasts %v, want %v (one day has 23 hours)", got, want)
	}
	targets := [Priorities]Target{{2 * time.Hour, 16 * time.Hour}, {time.Hour, 8 * time.Hour},
		{30 * time.Minute, 4 * time.Hour}, {15 * time.Minute, 2 * time.Hour}}
	goodFriday := sla.Date{Year: 2026, Month: time.April, Day: 3}
	cal := mustCalendar(t, sla.Config{Zone: "Europe/Berlin", Hours: officeHours, Holidays: []sla.Date{goodFriday}})
	window := [2]time.Time{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 5, 15, 0, 0, 0, 0, time.UTC)}
	always := newMinutes(window[0], window[1], func(time.Time) bool { return true })
	office := newMinutes(window[0], window[1], func(t time.Time) bool {
		l := t.In(berlin)
		m := l.Hour()*60 + l.Minute()
		y, mo, d := l.Date()
		return l.Weekday() >= time.Monday && l.Weekday() <= time.Friday && m >= 9*60 && m < 17*60 &&
			(sla.Date{Year: y, Month: mo, Day: d}) != goodFriday
	})
	for _, tc := range []struct {
		name string
		cal  *sla.Calendar
		open minutes
	}{{"wall", nil, always}, {"business", cal, office}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Compute(context.Background(), db, p, Options{Calendar: tc.cal, Targets: targets, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			want := expect(tenant, p, tc.open, targets, now)
			want.Business = tc.cal != nil
			compareReports(t, got, want)
			other, err := Compute(context.Background(), shuffledDB, p, Options{Calendar: tc.cal, Targets: targets, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			t.Run("ids out of order", func(t *testing.T) { compareReports(t, other, want) })
			if got.Opened < 100 || got.Closed < 100 || got.Resolution.Breached == 0 || got.FirstResponse.Breached == 0 ||
				got.Unanswered == 0 || len(got.Agents) != 4 || len(got.Tags) != len(seedTags) {
				t.Errorf("the seed exercises too little: %d opened, %d closed, %d/%d breached, %d unanswered, %d agents, %d tags",
					got.Opened, got.Closed, got.FirstResponse.Breached, got.Resolution.Breached, got.Unanswered, len(got.Agents), len(got.Tags))
			}
		})
	}
}

// expect computes the report of period p from the seed alone: days by the local date of each
// instant, durations by counting open minutes.
func expect(s *seedTenant, p Period, open minutes, targets [Priorities]Target, now time.Time) *Report {
	r := &Report{Period: p}
	index := map[string]int{}
	for i := range p.Days() {
		d := p.Day(i)
		index[d.String()] = i
		r.Days = append(r.Days, Day{Date: d})
	}
	dayOf := func(t int64) (int, bool) {
		i, ok := index[time.Unix(t, 0).In(p.Loc).Format("2006-01-02")]
		return i, ok
	}
	names := map[int64]string{}
	for _, a := range s.agents {
		names[a.id] = a.name
	}
	type agentFigures struct {
		closed, ratings, sum, breached int
		firsts                         []time.Duration
		seen                           bool
	}
	agents := map[int64]*agentFigures{}
	agent := func(id int64) *agentFigures {
		if agents[id] == nil {
			agents[id] = &agentFigures{}
		}
		return agents[id]
	}
	type tagFigures struct {
		tickets, closed, breached int
		res                       []time.Duration
	}
	tags := map[string]*tagFigures{}
	tag := func(g string) *tagFigures {
		if tags[g] == nil {
			tags[g] = &tagFigures{}
		}
		return tags[g]
	}
	always := func(int64) bool { return true }
	// late: done at at after d of counted time, against target. Beyond the target is late;
	// exactly the target is late when at lies after the due time, the end of the last counted
	// minute — unless that minute ends at at.
	late := func(d, target time.Duration, at int64, running func(int64) bool) bool {
		if d != target {
			return d > target
		}
		return open.count(at-60, at, running) != time.Minute
	}
	var firsts, resolutions []time.Duration
	var firstBreached, resBreached, ratingSum int
	for _, t := range s.tickets {
		if i, ok := dayOf(t.created); ok {
			r.Days[i].Opened++
			r.Opened++
			a := agent(t.assignee)
			a.seen = true
			for _, g := range t.tags {
				tag(g).tickets++
			}
			reply := int64(-1)
			for _, m := range t.msgs {
				if m.sender == "agent" && m.at >= t.created && (reply < 0 || m.at < reply) {
					reply = m.at
				}
			}
			target := targets[t.priority].FirstResponse
			if reply < 0 {
				r.Unanswered++
				if d := open.count(t.created, now.Unix(), always); target > 0 && late(d, target, now.Unix(), always) {
					firstBreached++
					a.breached++
				}
			} else {
				d := open.count(t.created, reply, always)
				firsts = append(firsts, d)
				a.firsts = append(a.firsts, d)
				if target > 0 && late(d, target, reply, always) {
					firstBreached++
					a.breached++
				}
			}
		}
		if i, ok := dayOf(t.closedAt); ok && t.status == "closed" {
			r.Days[i].Closed++
			r.Closed++
			a := agent(t.assignee)
			a.seen = true
			a.closed++
			if t.rating > 0 {
				r.CSAT.Counts[t.rating-1]++
				r.CSAT.Count++
				ratingSum += t.rating
				a.ratings++
				a.sum += t.rating
			}
			d := open.count(t.created, t.closedAt, runningAt(t))
			resolutions = append(resolutions, d)
			late := targets[t.priority].Resolution > 0 && late(d, targets[t.priority].Resolution, t.closedAt, runningAt(t))
			if late {
				resBreached++
			}
			for _, g := range t.tags {
				tg := tag(g)
				tg.closed++
				tg.res = append(tg.res, d)
				if late {
					tg.breached++
				}
			}
		}
	}
	times := func(ds []time.Duration, breached int) Times {
		t := Times{Count: len(ds), Breached: breached}
		if len(ds) > 0 {
			t.Median, t.P90 = nearestRank(ds, 50), nearestRank(ds, 90)
		}
		return t
	}
	r.FirstResponse = times(firsts, firstBreached)
	r.Resolution = times(resolutions, resBreached)
	if r.CSAT.Count > 0 {
		r.CSAT.Average = float64(ratingSum) / float64(r.CSAT.Count)
	}
	for id, a := range agents {
		row := Agent{ID: id, Name: names[id], Closed: a.closed, FirstResponse: times(a.firsts, a.breached)}
		row.CSAT.Count = a.ratings
		if a.ratings > 0 {
			row.CSAT.Average = float64(a.sum) / float64(a.ratings)
		}
		r.Agents = append(r.Agents, row)
	}
	slices.SortFunc(r.Agents, func(x, y Agent) int {
		kx, ky := "1"+x.Name, "1"+y.Name
		if x.ID == 0 {
			kx = "2"
		}
		if y.ID == 0 {
			ky = "2"
		}
		return strings.Compare(kx, ky)
	})
	for g, f := range tags {
		r.Tags = append(r.Tags, Tag{Tag: g, Tickets: f.tickets, Closed: f.closed, Resolution: times(f.res, f.breached)})
	}
	slices.SortFunc(r.Tags, func(x, y Tag) int { return strings.Compare(x.Tag, y.Tag) })
	return r
}

func compareReports(t *testing.T, got, want *Report) {
	t.Helper()
	check := func(what string, g, w any) {
		t.Helper()
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
		}
	}
	check("period", got.Period, want.Period)
	check("business", got.Business, want.Business)
	check("days", got.Days, want.Days)
	check("opened, closed, unanswered", [3]int{got.Opened, got.Closed, got.Unanswered}, [3]int{want.Opened, want.Closed, want.Unanswered})
	check("first response", got.FirstResponse, want.FirstResponse)
	check("resolution", got.Resolution, want.Resolution)
	check("CSAT", got.CSAT, want.CSAT)
	check("agents", got.Agents, want.Agents)
	check("tags", got.Tags, want.Tags)
}
