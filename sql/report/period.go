package report

import (
	"strconv"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/sla"
)

// Preset names a period as the report form offers it.
type Preset string

// The presets: the last 7, 30 or 90 days up to and including today, or a custom range.
const (
	Last7  Preset = "7d"
	Last30 Preset = "30d"
	Last90 Preset = "90d"
	Custom Preset = "custom"
)

// DefaultPreset is the period a report shows when the form names none.
const DefaultPreset = Last30

// MaxDays bounds a custom range, and so the work one report does.
const MaxDays = 366

// Input fields, as named in errors.
const (
	FieldPreset = "preset"
	FieldFrom   = "from"
	FieldTo     = "to"
)

// Codes of the errors ParsePeriod returns, beside apperr.CodeRequired, apperr.CodeInvalid and
// apperr.CodeTooLong (a custom range longer than MaxDays).
const (
	// CodeOutOfRange: a date outside the years calendars compute with (sla.MinYear–sla.MaxYear).
	CodeOutOfRange apperr.Code = "out_of_range"
	// CodeReversed: the range ends before it starts.
	CodeReversed apperr.Code = "reversed"
)

// Input is the period as the report form submits it: a preset, and for Custom the first and
// last day as "YYYY-MM-DD".
type Input struct {
	Preset Preset
	From   string
	To     string
}

// Period is a validated range of whole days in the organization's time zone, First to Last
// inclusive.
type Period struct {
	Preset Preset
	First  sla.Date
	Last   sla.Date
	Loc    *time.Location
}

// ParsePeriod validates the report form's input. now fixes "today" (its date in loc) for the
// presets. An empty preset means DefaultPreset unless a date is given, which means Custom;
// a preset other than Custom ignores the dates. Errors are *apperr.Error of kind Invalid with
// the Field at fault: FieldPreset (CodeInvalid), FieldFrom or FieldTo (CodeRequired,
// CodeInvalid, CodeOutOfRange), FieldTo with CodeReversed or apperr.CodeTooLong.
func ParsePeriod(in Input, now time.Time, loc *time.Location) (Period, error) {
	if loc == nil {
		return Period{}, apperr.New(apperr.Internal, "no_location")
	}
	preset := in.Preset
	if preset == "" {
		preset = DefaultPreset
		if in.From != "" || in.To != "" {
			preset = Custom
		}
	}
	today := dateOf(now.In(loc))
	switch preset {
	case Last7, Last30, Last90:
		n := map[Preset]int{Last7: 7, Last30: 30, Last90: 90}[preset]
		return Period{Preset: preset, First: addDays(today, 1-n), Last: today, Loc: loc}, nil
	case Custom:
	default:
		return Period{}, apperr.Field(apperr.Invalid, FieldPreset, apperr.CodeInvalid)
	}
	first, err := parseField(FieldFrom, in.From)
	if err != nil {
		return Period{}, err
	}
	last, err := parseField(FieldTo, in.To)
	if err != nil {
		return Period{}, err
	}
	switch n := dayNumber(last) - dayNumber(first); {
	case n < 0:
		return Period{}, apperr.Field(apperr.Invalid, FieldTo, CodeReversed)
	case n >= MaxDays:
		return Period{}, apperr.Field(apperr.Invalid, FieldTo, apperr.CodeTooLong)
	}
	return Period{Preset: Custom, First: first, Last: last, Loc: loc}, nil
}

func parseField(field, s string) (sla.Date, error) {
	if s == "" {
		return sla.Date{}, apperr.Field(apperr.Invalid, field, apperr.CodeRequired)
	}
	d, ok := ParseDate(s)
	if !ok {
		return sla.Date{}, apperr.Field(apperr.Invalid, field, apperr.CodeInvalid)
	}
	if d.Year < sla.MinYear || d.Year > sla.MaxYear {
		return sla.Date{}, apperr.Field(apperr.Invalid, field, CodeOutOfRange)
	}
	return d, nil
}

// ParseDate parses a real date written "YYYY-MM-DD" (four-digit year, as an HTML date input
// sends it); FormatDate writes it back unchanged.
func ParseDate(s string) (sla.Date, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return sla.Date{}, false
	}
	y, ok1 := digits(s[:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 ||
		d > time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return sla.Date{}, false
	}
	return sla.Date{Year: y, Month: time.Month(m), Day: d}, true
}

// digits parses ASCII digits only (strconv.Atoi also takes a sign).
func digits(s string) (int, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// FormatDate writes d as "YYYY-MM-DD".
func FormatDate(d sla.Date) string { return d.String() }

// Input is the form input that selects p again: its preset, and its dates for Custom.
func (p Period) Input() Input {
	if p.Preset != Custom {
		return Input{Preset: p.Preset}
	}
	return Input{Preset: Custom, From: FormatDate(p.First), To: FormatDate(p.Last)}
}

// Days is the number of days in the period.
func (p Period) Days() int { return int(dayNumber(p.Last)-dayNumber(p.First)) + 1 }

// Day is the date of day i of the period (0 is First).
func (p Period) Day(i int) sla.Date { return addDays(p.First, i) }

// Start is the first instant of the period: when the clock in Loc first reads First 00:00 or
// later.
func (p Period) Start() time.Time { return DayStart(p.First, p.Loc) }

// End is the first instant after the period: the start of the day after Last.
func (p Period) End() time.Time { return DayStart(addDays(p.Last, 1), p.Loc) }

// bounds are the Unix seconds at which each day of the period starts, and the period's end:
// Days()+1 values, ascending.
func (p Period) bounds() []int64 {
	n := p.Days()
	b := make([]int64, n+1)
	for i := range b {
		b[i] = DayStart(p.Day(i), p.Loc).Unix()
	}
	return b
}

// DayStart is the first instant at which the clock in loc reads date d 00:00 or later. On a
// day whose midnight the clocks skip that is the jump (São Paulo 2018-11-04 starts at 01:00);
// when the clock reads midnight twice, the first reading. Consecutive days so own adjoining
// stretches of time, whatever the zone does.
func DayStart(d sla.Date, loc *time.Location) time.Time {
	// x is the wanted clock reading, as seconds on the clock since 1970-01-01 00:00. Walk the
	// zone's periods of constant offset from a point early enough that the clock there reads
	// less than x (no offset reaches 26 hours); in the first period whose readings pass x the
	// answer is where the reading equals x, or the period's start when x falls in a jump.
	x := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix()
	t := x - 26*3600
	for range 64 {
		tt := time.Unix(t, 0).In(loc)
		_, off := tt.Zone()
		_, end := tt.ZoneBounds()
		if end.IsZero() || end.Unix()+int64(off) > x {
			return time.Unix(max(t, x-int64(off)), 0).In(loc)
		}
		t = end.Unix()
	}
	return time.Unix(x, 0).In(loc) // no zone changes offset 64 times in 52 hours
}

func dateOf(t time.Time) sla.Date {
	y, m, d := t.Date()
	return sla.Date{Year: y, Month: m, Day: d}
}

func dayNumber(d sla.Date) int64 {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / (24 * 3600)
}

func addDays(d sla.Date, n int) sla.Date {
	return dateOf(time.Date(d.Year, d.Month, d.Day+n, 0, 0, 0, 0, time.UTC))
}
