package sla

import (
	"math"
	"slices"
	"time"
)

// Span is an interval of real time [Start, End) during which the clock is stopped, such as
// the time a ticket spent pending or snoozed. A zero End means the pause has not ended.
type Span struct {
	Start, End time.Time
}

type span struct{ s, e int64 } // Unix nanoseconds; e == math.MaxInt64 for a pause without end

// pauses turns spans into sorted, merged stretches that end after from. Errors: KindHorizon
// for an instant outside MinYear–MaxYear, KindReversed for a span that ends before it starts.
func pauses(paused []Span, from int64) ([]span, error) {
	out := make([]span, 0, len(paused))
	for _, p := range paused {
		s, ok := nanos(p.Start)
		if !ok {
			return nil, &Error{Kind: KindHorizon}
		}
		e := int64(math.MaxInt64)
		if !p.End.IsZero() {
			if e, ok = nanos(p.End); !ok {
				return nil, &Error{Kind: KindHorizon}
			}
			if e < s {
				return nil, &Error{Kind: KindReversed}
			}
		}
		if e > from && e > s {
			out = append(out, span{max(s, from), e})
		}
	}
	slices.SortFunc(out, func(a, b span) int {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, p := range out {
		if n := len(merged); n > 0 && p.s <= merged[n-1].e {
			merged[n-1].e = max(merged[n-1].e, p.e)
			continue
		}
		merged = append(merged, p)
	}
	return merged, nil
}

// walk calls yield with each open stretch of days first to last, in order, with the paused
// stretches taken out, until yield returns false. It reports whether yield stopped it.
func (c *Calendar) walk(first, last int64, paused []span, yield func(s, e int64) bool) bool {
	i := 0
	cut := func(s, e int64) bool {
		for s < e {
			for i < len(paused) && paused[i].e <= s {
				i++
			}
			if i == len(paused) || paused[i].s >= e {
				return yield(s, e)
			}
			if paused[i].s > s && !yield(s, paused[i].s) {
				return false
			}
			s = paused[i].e
		}
		return true
	}
	for n := first; n <= last; n++ {
		if !c.openDay(n, cut) {
			return true
		}
	}
	return false
}

// Due is the instant at which target of business time has passed since start: start itself
// for a zero target, otherwise inside or at the end of an open stretch. The result is in the
// calendar's zone. Errors are *Error: KindNegative for a negative target, KindHorizon for a
// start outside MinYear–MaxYear or a due time more than Horizon away.
func (c *Calendar) Due(start time.Time, target time.Duration) (time.Time, error) {
	return c.DueExcluding(start, target, nil)
}

// DueExcluding is Due with the paused spans not counting towards target: the resolution due
// time of a ticket that spent some of its life pending. Pauses may overlap, come in any order
// and reach before start. Errors are those of Due, and KindPaused when a pause without end
// begins before target is reached (the ticket has no due time while it stays paused), and
// KindReversed for a span that ends before it starts.
func (c *Calendar) DueExcluding(start time.Time, target time.Duration, paused []Span) (time.Time, error) {
	if target < 0 {
		return time.Time{}, &Error{Kind: KindNegative}
	}
	from, ok := nanos(start)
	if !ok {
		return time.Time{}, &Error{Kind: KindHorizon}
	}
	if target == 0 {
		return time.Unix(0, from).In(c.loc), nil
	}
	ps, err := pauses(paused, from)
	if err != nil {
		return time.Time{}, err
	}
	first := c.owner(from)
	last := first + horizonDays
	stopped := false
	if n := len(ps); n > 0 && ps[n-1].e == math.MaxInt64 {
		// Nothing counts after a pause without end begins: search no further than its day.
		last = min(last, c.owner(ps[n-1].s))
		stopped = true
	}
	left := int64(target)
	var due int64
	found := c.walk(first, last, ps, func(s, e int64) bool {
		if e <= from {
			return true
		}
		s = max(s, from)
		if e-s >= left {
			due = s + left
			return false
		}
		left -= e - s
		return true
	})
	switch {
	case found:
		return time.Unix(0, due).In(c.loc), nil
	case stopped:
		return time.Time{}, &Error{Kind: KindPaused}
	}
	return time.Time{}, &Error{Kind: KindHorizon}
}

// Between is the business time from a to b: the open time in [a, b), or minus the open time
// in [b, a) when b is before a, so that Between(a, b) + Between(b, c) == Between(a, c).
// Errors are *Error with KindHorizon for an instant outside MinYear–MaxYear or a span longer
// than Horizon.
func (c *Calendar) Between(a, b time.Time) (time.Duration, error) {
	return c.BetweenExcluding(a, b, nil)
}

// BetweenExcluding is Between without the paused spans: the business time a ticket was
// waiting on the team, leaving out the time it was pending or snoozed. A pause without end
// lasts to the end of the span. Errors are those of Between, and KindReversed for a span that
// ends before it starts.
func (c *Calendar) BetweenExcluding(a, b time.Time, paused []Span) (time.Duration, error) {
	an, ok1 := nanos(a)
	bn, ok2 := nanos(b)
	if !ok1 || !ok2 {
		return 0, &Error{Kind: KindHorizon}
	}
	sign := time.Duration(1)
	if bn < an {
		an, bn, sign = bn, an, -1
	}
	if time.Duration(bn-an) > Horizon {
		return 0, &Error{Kind: KindHorizon}
	}
	ps, err := pauses(paused, an)
	if err != nil {
		return 0, err
	}
	var sum int64
	c.walk(c.owner(an), c.owner(bn), ps, func(s, e int64) bool {
		s, e = max(s, an), min(e, bn)
		if e > s {
			sum += e - s
		}
		return true
	})
	return sign * time.Duration(sum), nil
}

// Open returns the open stretches of the calendar within [from, to), in order, each cut to
// [from, to); stretches that touch are returned as they are (one per interval of each day). A
// caller measuring many durations in one window adds up the open time before each instant
// once, and then measures any duration in it with two lookups; the results equal Between's.
// Errors are those of Between.
func (c *Calendar) Open(from, to time.Time) ([]Span, error) {
	a, ok1 := nanos(from)
	b, ok2 := nanos(to)
	if !ok1 || !ok2 || time.Duration(b-a) > Horizon {
		return nil, &Error{Kind: KindHorizon}
	}
	var out []Span
	if b <= a {
		return out, nil
	}
	c.walk(c.owner(a), c.owner(b), nil, func(s, e int64) bool {
		s, e = max(s, a), min(e, b)
		if e > s {
			out = append(out, Span{Start: time.Unix(0, s), End: time.Unix(0, e)})
		}
		return true
	})
	return out, nil
}

// Standing is where a target stands at one instant.
type Standing struct {
	// Breached is true once the instant is after the due time. A target met exactly at its
	// due time is not breached.
	Breached bool
	// Wall is the real time left until the due time or, once breached, since it.
	Wall time.Duration
	// Business is the same distance counted in business time.
	Business time.Duration
}

// Standing tells where a target due at due stands at now: "due in" or "breached by", in real
// and in business time. Errors are those of Between.
func (c *Calendar) Standing(due, now time.Time) (Standing, error) {
	b, err := c.Between(now, due)
	if err != nil {
		return Standing{}, err
	}
	st := Standing{Breached: now.After(due), Wall: DueIn(due, now), Business: b}
	if st.Breached {
		st.Wall, st.Business = BreachedBy(due, now), -b
	}
	return st, nil
}

// DueIn is the real time from now until due, or zero once due has passed.
func DueIn(due, now time.Time) time.Duration { return max(0, due.Sub(now)) }

// BreachedBy is the real time since due at now, or zero while due has not passed.
func BreachedBy(due, now time.Time) time.Duration { return max(0, now.Sub(due)) }
