package sla

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestOpen: the open stretches of a window, summed over any sub-range, give Between's answer
// — across weekends, holidays and both daylight-saving changes, in zones with half-hour
// changes too — and they are in order, within the window, and never empty.
func TestOpen(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, cal := range []*Calendar{
		mustCal(t, "Europe/Berlin", office(t), "2026-04-03, 2026-04-06", "2026-12-24..2027-01-06"),
		mustCal(t, "America/New_York", office(t)),
		mustCal(t, "Australia/Lord_Howe", week(t, map[time.Weekday]string{time.Sunday: "01:00-04:00", time.Monday: "00:00-24:00"})),
		mustCal(t, "Europe/Berlin", nil, "2026-12-25"),
	} {
		from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		to := time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
		spans, err := cal.Open(from, to)
		if err != nil || len(spans) < 40 {
			t.Fatalf("%s: %d spans, %v", cal.Location(), len(spans), err)
		}
		for i, s := range spans {
			if !s.Start.Before(s.End) || s.Start.Before(from) || s.End.After(to) || i > 0 && s.Start.Before(spans[i-1].End) {
				t.Fatalf("%s: span %d %v–%v out of order or out of the window", cal.Location(), i, s.Start, s.End)
			}
		}
		openIn := func(a, b time.Time) time.Duration {
			var d time.Duration
			for _, s := range spans {
				lo, hi := max(s.Start.UnixNano(), a.UnixNano()), min(s.End.UnixNano(), b.UnixNano())
				if hi > lo {
					d += time.Duration(hi - lo)
				}
			}
			return d
		}
		span := to.Sub(from)
		for range 300 {
			a := from.Add(time.Duration(rng.Int64N(int64(span))))
			b := a.Add(time.Duration(rng.Int64N(int64(to.Sub(a)))))
			want, err := cal.Between(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if got := openIn(a, b); got != want {
				t.Fatalf("%s: open time in %v–%v from Open = %v, Between = %v", cal.Location(), a, b, got, want)
			}
		}
	}
	c := mustCal(t, "UTC", office(t))
	if _, err := c.Open(time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("a window before 2000 was accepted")
	}
	if s, err := c.Open(time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)); err != nil || len(s) != 0 {
		t.Errorf("a weekend: %v, %v", s, err)
	}
}
