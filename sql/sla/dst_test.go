package sla

import (
	"testing"
	"time"
)

// transitions lists the instants at which loc's offset changes between from and to.
func transitions(loc *time.Location, from, to time.Time) []time.Time {
	var out []time.Time
	t := from
	for t.Before(to) {
		_, end := t.In(loc).ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			break
		}
		out = append(out, end)
		t = end
	}
	return out
}

// TestFirstAgainstScan checks the core of the calendar, "the first instant at which the clock
// reads x or later", against a plain scan of the clock's readings minute by minute, around
// every offset change from 2000 to 2030 in zones with every kind of rule.
func TestFirstAgainstScan(t *testing.T) {
	step := int64(5 * 60)
	if testing.Short() {
		step = 15 * 60
	}
	from, to := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, zone := range fuzzZones {
		c := mustCal(t, zone, nil)
		trs := transitions(c.loc, from, to)
		if zone != "UTC" && zone != "Asia/Kolkata" && zone != "Asia/Kathmandu" && len(trs) == 0 {
			t.Fatalf("%s: no offset changes found", zone)
		}
		checked := 0
		for _, tr := range trs {
			// The clock's readings (local seconds) at each minute of 30 h either side.
			base := tr.Unix() - 30*3600
			var inst, wall []int64
			for s := base; s <= tr.Unix()+30*3600; s += 60 {
				_, off := time.Unix(s, 0).In(c.loc).Zone()
				inst, wall = append(inst, s), append(wall, s+int64(off))
			}
			_, offBefore := time.Unix(tr.Unix()-1, 0).In(c.loc).Zone()
			lo := floorDiv(tr.Unix()+int64(offBefore)-12*3600, step) * step
			p := 0
			for x := lo; x <= lo+24*3600; x += step {
				for wall[p] < x {
					p++
				}
				if got := c.first(x); got != inst[p] {
					t.Fatalf("%s near %v: first(%s) = %v, scan says %v", zone, tr,
						time.Unix(x, 0).UTC().Format("2006-01-02 15:04"), time.Unix(got, 0).In(c.loc), time.Unix(inst[p], 0).In(c.loc))
				}
				checked++
			}
			// Every instant belongs to the date whose stretch holds it.
			for _, s := range inst[len(inst)/4 : 3*len(inst)/4] {
				n := c.owner(s * 1e9)
				if !(c.dayStart(n) <= s && s < c.dayStart(n+1)) {
					t.Fatalf("%s: owner(%v) = %v, whose stretch is [%v, %v)", zone, time.Unix(s, 0).In(c.loc), dateOf(n),
						time.Unix(c.dayStart(n), 0).In(c.loc), time.Unix(c.dayStart(n+1), 0).In(c.loc))
				}
			}
		}
		t.Logf("%s: %d offset changes, %d readings checked", zone, len(trs), checked)
	}
}

// TestPropertiesAroundTransitions: starting just before, at and after every offset change
// from 2020 to 2030, with schedules whose boundaries fall on, in and around the changes, the
// due time is exactly the target of business time away and never earlier in real time; round
// the clock, business time is real time.
func TestPropertiesAroundTransitions(t *testing.T) {
	schedules := map[string]*Week{
		"round the clock": nil,
		"office":          office(t),
		"nights":          week(t, everyDay("00:00-02:30, 11:00-24:00")),
		"odd":             week(t, everyDay("01:10-01:40, 02:10-03:20, 03:45-04:00")),
	}
	offsets := []time.Duration{-3 * time.Hour, -31 * time.Minute, -time.Nanosecond, 0, time.Nanosecond, 29 * time.Minute, 2 * time.Hour}
	targets := []time.Duration{time.Minute, 30 * time.Minute, 90 * time.Minute, 5 * time.Hour, 26 * time.Hour}
	from, to := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, zone := range fuzzZones {
		for name, hours := range schedules {
			c := mustCal(t, zone, hours)
			for _, tr := range transitions(c.loc, from, to) {
				prev := make([]time.Time, len(targets))
				for k, o := range offsets {
					start := tr.Add(o)
					for i, d := range targets {
						due, err := c.Due(start, d)
						if err != nil {
							t.Fatalf("%s %s: Due(%v, %v): %v", zone, name, start, d, err)
						}
						b, err := c.Between(start, due)
						if err != nil || b != d || due.Sub(start) < d || !c.IsOpen(due.Add(-time.Nanosecond)) {
							t.Fatalf("%s %s: Due(%v, %v) = %v, Between back %v, %v", zone, name, start, d, due, b, err)
						}
						if hours == nil && !due.Equal(start.Add(d)) {
							t.Fatalf("%s round the clock: Due(%v, %v) = %v", zone, start, d, due)
						}
						if k > 0 && due.Before(prev[i]) {
							t.Fatalf("%s %s: a later start %v gives an earlier due %v", zone, name, start, due)
						}
						prev[i] = due
					}
				}
			}
		}
	}
}

func everyDay(hours string) map[time.Weekday]string {
	m := map[time.Weekday]string{}
	for d := time.Sunday; d <= time.Saturday; d++ {
		m[d] = hours
	}
	return m
}
