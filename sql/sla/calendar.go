// Package sla is an organization's business-hours calendar: when a target of N minutes of
// business time falls due, how much business time lies between two instants, and how much of
// it remains once paused intervals are taken out.
//
// A calendar has a time zone (an IANA name), a weekly schedule of wall-clock intervals and
// holidays (whole dates closed). Business time is real elapsed time while the calendar is open,
// so a day whose clocks jump forward has less of it and a day whose clocks fall back more.
//
// Daylight-saving changes follow one rule: each boundary of an interval, and each midnight,
// is the first instant at which the zone's clock reads that time or later. An opening at a
// time the clock skips (02:30 on a day that jumps from 02:00 to 03:00) begins when the jump
// lands (03:00); an opening or closing at a time the clock reads twice takes the first reading;
// after a closing the calendar stays closed even while the repeated hour reads an open time
// again, and after an opening it stays open through the repeated hour. Each date therefore
// owns one stretch of real time, from its first midnight to the next date's first midnight,
// and the stretches of consecutive dates join without gap or overlap.
//
// Errors are *Error values carrying a Kind and, for settings, the Field at fault; the package
// holds no text meant for people.
package sla

import (
	"slices"
	"strings"
	"time"
)

const secondsPerDay = 24 * 60 * 60

// Horizon bounds every computation: a due time further than this after its start, or a span
// longer than this, is refused with KindHorizon rather than searched for. It also bounds the
// work one call can do, whatever the input.
const Horizon = 3660 * 24 * time.Hour

const horizonDays = int64(Horizon / (24 * time.Hour))

// Config is an organization's calendar settings.
type Config struct {
	// Zone is the IANA time zone name, such as "Europe/Berlin". Required.
	Zone string
	// Hours is the weekly schedule; nil means open round the clock (holidays still close).
	// A schedule must have at least one interval in the week.
	Hours *Week
	// Holidays are dates closed all day, in any order, each at most once.
	Holidays []Date
}

// Calendar answers business-time questions for one Config. It is immutable and safe for
// concurrent use.
type Calendar struct {
	loc      *time.Location
	always   bool // no schedule: every day is [00:00, 24:00)
	week     Week
	holidays map[int64]bool // day numbers (days from 1970-01-01)
}

// New validates cfg and returns its Calendar. Errors are *Error: FieldZone with KindRequired,
// KindTooLong, KindSyntax or KindUnknownZone; a DayField with the kinds of ParseHours;
// FieldHours with KindEmptyWeek; FieldHolidays with KindRange, KindDuplicate or KindTooMany.
func New(cfg Config) (*Calendar, error) {
	loc, err := loadZone(cfg.Zone)
	if err != nil {
		return nil, err
	}
	c := &Calendar{loc: loc, always: cfg.Hours == nil, holidays: map[int64]bool{}}
	if cfg.Hours != nil {
		open := false
		for d, ivs := range cfg.Hours {
			if err := checkDay(DayField(time.Weekday(d)), ivs); err != nil {
				return nil, err
			}
			c.week[d] = slices.Clone(ivs)
			open = open || len(ivs) > 0
		}
		if !open {
			return nil, fieldErr(FieldHours, KindEmptyWeek, "")
		}
	}
	if len(cfg.Holidays) > MaxHolidays {
		return nil, fieldErr(FieldHolidays, KindTooMany, "")
	}
	for _, d := range cfg.Holidays {
		if !d.valid() {
			return nil, fieldErr(FieldHolidays, KindRange, d.String())
		}
		n := d.number()
		if c.holidays[n] {
			return nil, fieldErr(FieldHolidays, KindDuplicate, d.String())
		}
		c.holidays[n] = true
	}
	return c, nil
}

// ValidateZone checks a time zone name from outside input: an IANA name this system knows.
// Errors are *Error with FieldZone.
func ValidateZone(name string) error {
	_, err := loadZone(name)
	return err
}

func loadZone(name string) (*time.Location, error) {
	switch {
	case name == "":
		return nil, fieldErr(FieldZone, KindRequired, "")
	case len(name) > maxZoneName:
		return nil, fieldErr(FieldZone, KindTooLong, "")
	case name == "Local" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") ||
		strings.Contains(name, "//") || strings.Contains(name, ".."):
		// "Local" is the server's zone, not the organization's; the rest are not names.
		return nil, fieldErr(FieldZone, KindSyntax, name)
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || strings.IndexByte("/_+-", b) >= 0) {
			return nil, fieldErr(FieldZone, KindSyntax, name)
		}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fieldErr(FieldZone, KindUnknownZone, name)
	}
	return loc, nil
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// first returns the first instant (Unix seconds) at which the zone's clock reads local time x
// or later, x being seconds on the clock from 1970-01-01 00:00. It walks the zone's periods of
// constant offset from a point early enough that the clock there reads less than x (no offset
// reaches 26 hours): in the first period whose clock readings pass x, the answer is where
// the reading equals x, or the period's start if x falls in a jump forward.
func (c *Calendar) first(x int64) int64 {
	t := x - 26*3600
	for range 64 {
		tt := time.Unix(t, 0).In(c.loc)
		_, off := tt.Zone()
		_, end := tt.ZoneBounds()
		if end.IsZero() || end.Unix()+int64(off) > x {
			return max(t, x-int64(off))
		}
		t = end.Unix()
	}
	// Unreachable with real zone data (no 64 transitions within 52 hours); this keeps the loop
	// bounded whatever the data says.
	return x
}

// dayStart is the first instant (Unix seconds) of day number n.
func (c *Calendar) dayStart(n int64) int64 { return c.first(n * secondsPerDay) }

// owner is the day number whose stretch [dayStart(n), dayStart(n+1)) holds the instant t
// (Unix nanoseconds). It starts from the clock's date and corrects it for the rare instants
// a fall-back across midnight gives to the previous date's reading.
func (c *Calendar) owner(t int64) int64 {
	sec := floorDiv(t, 1e9)
	_, off := time.Unix(sec, 0).In(c.loc).Zone()
	n := floorDiv(sec+int64(off), secondsPerDay)
	for range 4 {
		switch {
		case c.dayStart(n+1)*1e9 <= t:
			n++
		case c.dayStart(n)*1e9 > t:
			n--
		default:
			return n
		}
	}
	return n
}

// weekday of day number n (1970-01-01 was a Thursday).
func weekday(n int64) time.Weekday { return time.Weekday(((n+4)%7 + 7) % 7) }

// intervals are the day's open intervals: none on a holiday, all day without a schedule.
func (c *Calendar) intervals(n int64) []Interval {
	if c.holidays[n] {
		return nil
	}
	if c.always {
		return allDay
	}
	return c.week[weekday(n)]
}

var allDay = []Interval{{0, EndOfDay}}

// openDay calls yield with each open stretch [s, e) of day n, in Unix nanoseconds, in order;
// it reports false as soon as yield does. A stretch the clocks skip entirely is left out.
func (c *Calendar) openDay(n int64, yield func(s, e int64) bool) bool {
	ivs := c.intervals(n)
	if len(ivs) == 0 {
		return true
	}
	base := n * secondsPerDay
	// Most days have one offset from midnight to midnight: then every boundary is the clock
	// reading minus that offset, without a walk through the zone's periods.
	start := c.first(base)
	tt := time.Unix(start, 0).In(c.loc)
	_, off := tt.Zone()
	_, end := tt.ZoneBounds()
	simple := start == base-int64(off) && (end.IsZero() || end.Unix() > base+secondsPerDay-int64(off))
	at := func(m Clock) int64 {
		x := base + int64(m)*60
		if simple {
			return (x - int64(off)) * 1e9
		}
		return c.first(x) * 1e9
	}
	for _, iv := range ivs {
		s, e := at(iv.Start), at(iv.End)
		if e > s && !yield(s, e) {
			return false
		}
	}
	return true
}

// IsOpen reports whether the calendar is open at t. Instants outside MinYear–MaxYear are
// reported closed.
func (c *Calendar) IsOpen(t time.Time) bool {
	tn, ok := nanos(t)
	if !ok {
		return false
	}
	open := false
	c.openDay(c.owner(tn), func(s, e int64) bool {
		open = s <= tn && tn < e
		return !open
	})
	return open
}

// nanos converts t to Unix nanoseconds, refusing instants outside MinYear–MaxYear (UTC) so
// that every sum stays far from int64's limits.
func nanos(t time.Time) (int64, bool) {
	if y := t.UTC().Year(); y < MinYear || y > MaxYear {
		return 0, false
	}
	return t.UnixNano(), true
}
