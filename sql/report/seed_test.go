package report

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"time"
)

var seedTags = []string{"billing", "bug", "-urgent", "vip", "=cmd|' /C calc'!A0", "zoë 2\n", ""}

// generate makes a tenant of n tickets created at random whole minutes in [from, to), with
// lives of every shape: replies (and notes and other activity lines before them that are not
// replies), pending and snoozed spells, closes, reopenings, ratings, tags. Ids start at
// firstID.
func generate(rng *rand.Rand, n int, from, to time.Time, firstID int64) []seedTicket {
	minutes := int64(to.Sub(from) / time.Minute)
	out := make([]seedTicket, 0, n)
	for range n {
		t := seedTicket{priority: rng.IntN(4), status: "open"}
		t.created = from.Unix() + rng.Int64N(minutes)*60
		if rng.IntN(5) > 0 {
			t.assignee = 1 + rng.Int64N(3)
		}
		for _, g := range seedTags {
			if rng.IntN(4) == 0 {
				t.tags = append(t.tags, g)
			}
		}
		at := t.created
		later := func(max int64) int64 { at += (1 + rng.Int64N(max)) * 60; return at }
		msg := func(sender string, agent int64, data string) {
			t.msgs = append(t.msgs, seedMsg{sender: sender, agent: agent, at: at, data: data})
		}
		status := func(to string) {
			msg("activity", t.assignee, statusData(to))
			t.status = to
		}
		msg("customer", 0, "")
		if rng.IntN(3) == 0 {
			later(120)
			msg("note", 2, "")
		}
		if rng.IntN(4) == 0 {
			later(60)
			msg("activity", 1, `{"kind":"assign","to":"pending"}`)
		}
		if rng.IntN(8) == 0 {
			msg("activity", 1, "")
			msg("activity", 1, "not json {")
		}
		if rng.IntN(7) == 0 {
			// A pause before any reply: it does not stop the first-response clock.
			later(300)
			status("pending")
			later(300)
			status("open")
		}
		if rng.IntN(8) == 7 {
			out = append(out, t) // never answered
			continue
		}
		if rng.IntN(3) > 0 {
			later(45)
		} else {
			later(3000)
		}
		msg("agent", max(t.assignee, 1), "")
		for range rng.IntN(4) {
			switch rng.IntN(5) {
			case 0, 1:
				later(600)
				status("pending")
				later(2000)
				msg("customer", 0, "")
				status("open")
			case 2:
				later(600)
				status("snoozed")
				later(1500)
				status(map[bool]string{true: "open", false: "pending"}[rng.IntN(2) == 0])
				if t.status == "pending" {
					later(100)
					status("open")
				}
			case 3:
				later(200)
				msg("agent", max(t.assignee, 1), "")
			case 4:
				later(100)
				status("waiting") // a status this version does not know: the clock runs
				later(100)
				status("open")
			}
		}
		if rng.IntN(10) < 7 {
			later(2000)
			status("closed")
			t.closedAt = at
			if rng.IntN(10) < 6 {
				t.rating = 1 + rng.IntN(5)
			}
			if rng.IntN(8) == 0 {
				later(1000)
				status("open") // reopened; closed_at keeps the earlier close
				if rng.IntN(2) == 0 {
					later(500)
					status("closed")
					t.closedAt = at
				}
			}
		}
		out = append(out, t)
	}
	// Ids grow with time, as the database gives them.
	slices.SortStableFunc(out, func(a, b seedTicket) int { return int(a.created - b.created) })
	for i := range out {
		out[i].id = firstID + int64(i)
	}
	return out
}

// minutes is the 0/1 state of something at each whole minute of a window.
type minutes struct {
	base int64 // Unix seconds of the first minute
	open []bool
}

func newMinutes(from, to time.Time, open func(time.Time) bool) minutes {
	m := minutes{base: from.Unix()}
	for t := from; t.Before(to); t = t.Add(time.Minute) {
		m.open = append(m.open, open(t))
	}
	return m
}

// count is the number of open minutes in [a, b) for which also running(minute) holds.
func (m minutes) count(a, b int64, running func(int64) bool) time.Duration {
	var n time.Duration
	for s := a; s < b; s += 60 {
		if m.open[(s-m.base)/60] && running(s) {
			n++
		}
	}
	return n * time.Minute
}

// runningAt replays a ticket's status lines: at minute s it is open unless the last status
// line at or before s said pending, snoozed or closed. It starts open.
func runningAt(t seedTicket) func(int64) bool {
	type line struct {
		at int64
		to string
	}
	var lines []line
	for _, m := range t.msgs {
		var d struct{ Kind, To string }
		if m.sender == "activity" && json.Unmarshal([]byte(m.data), &d) == nil && d.Kind == "status" {
			lines = append(lines, line{m.at, d.To})
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int { return int(a.at - b.at) })
	return func(s int64) bool {
		running := true
		for _, l := range lines {
			if l.at > s {
				break
			}
			running = l.to != "pending" && l.to != "snoozed" && l.to != "closed"
		}
		return running
	}
}

// nearestRank is the smallest value v of ds with at least p% of ds at or below it.
func nearestRank(ds []time.Duration, p int) time.Duration {
	best := time.Duration(-1)
	for _, v := range ds {
		below := 0
		for _, w := range ds {
			if w <= v {
				below++
			}
		}
		if below*100 >= p*len(ds) && (best < 0 || v < best) {
			best = v
		}
	}
	return best
}
