package sla

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Clock is a wall-clock time of day in minutes after midnight, from 0 (00:00) to EndOfDay
// (24:00, which only ends an interval).
type Clock int

// EndOfDay is 24:00, the end of an interval that runs until midnight.
const EndOfDay Clock = 24 * 60

// String formats c as "HH:MM".
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// Interval is one opening of a day, from Start up to (not including) End, both wall-clock times
// in the calendar's zone: 00:00 ≤ Start < End ≤ 24:00. An interval never crosses midnight; a
// night shift is two intervals, 22:00-24:00 on one day and 00:00-06:00 on the next, which join
// without a gap.
type Interval struct {
	Start, End Clock
}

// String formats iv as "HH:MM-HH:MM".
func (iv Interval) String() string { return iv.Start.String() + "-" + iv.End.String() }

// Week is a weekly schedule: each day's intervals, in order and not overlapping, indexed by
// time.Weekday (Sunday first). A day without intervals is closed.
type Week [7][]Interval

// Limits on settings input.
const (
	MaxIntervals    = 8     // intervals per day
	MaxHolidays     = 1000  // holiday dates in all, ranges expanded
	MaxHolidayRange = 366   // days in one holiday range
	MinYear         = 2000  // first year of a holiday date and of any instant computed with
	MaxYear         = 2199  // last year of a holiday date and of any instant computed with
	maxHoursText    = 200   // bytes of one day's hours field
	maxHolidaysText = 20000 // bytes of the holidays field
	maxZoneName     = 64    // bytes of a time zone name
)

// DayField is the error field name of a weekday's hours: "hours.monday" and so on.
func DayField(day time.Weekday) string {
	if day < time.Sunday || day > time.Saturday {
		return FieldHours
	}
	return FieldHours + "." + strings.ToLower(day.String())
}

// ParseHours parses one day's hours as typed into the settings form: empty (closed), or
// intervals "HH:MM-HH:MM" separated by commas, in order, such as "09:00-12:00, 13:00-17:00".
// Spaces around the parts are allowed, the hour may have one digit, and an en dash may stand
// for the hyphen. Errors are *Error with the field DayField(day).
func ParseHours(day time.Weekday, s string) ([]Interval, error) {
	field := DayField(day)
	if field == FieldHours {
		return nil, fieldErr(FieldHours, KindRange, "")
	}
	if len(s) > maxHoursText {
		return nil, fieldErr(field, KindTooLong, "")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	items := strings.Split(s, ",")
	if len(items) > MaxIntervals {
		return nil, fieldErr(field, KindTooMany, "")
	}
	ivs := make([]Interval, 0, len(items))
	for _, item := range items {
		item = strings.TrimSpace(item)
		from, to, ok := strings.Cut(item, "-")
		if !ok {
			from, to, ok = strings.Cut(item, "–")
		}
		if !ok {
			return nil, fieldErr(field, KindSyntax, item)
		}
		start, err1 := parseClock(strings.TrimSpace(from))
		end, err2 := parseClock(strings.TrimSpace(to))
		if err := cmp.Or(err1, err2); err != nil {
			return nil, fieldErr(field, err.Kind, item)
		}
		ivs = append(ivs, Interval{start, end})
	}
	if err := checkDay(field, ivs); err != nil {
		return nil, err
	}
	return ivs, nil
}

// parseClock parses "H:MM" or "HH:MM", 00:00 to 24:00.
func parseClock(s string) (Clock, *Error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 || !digits(h) || !digits(m) {
		return 0, &Error{Kind: KindSyntax}
	}
	hh, mm := atoi(h), atoi(m)
	if hh > 24 || mm > 59 || hh == 24 && mm != 0 {
		return 0, &Error{Kind: KindRange}
	}
	return Clock(hh*60 + mm), nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoi converts a short string of ASCII digits (checked by the caller).
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// checkDay validates one day's intervals, parsed or built by a program.
func checkDay(field string, ivs []Interval) error {
	if len(ivs) > MaxIntervals {
		return fieldErr(field, KindTooMany, "")
	}
	for i, iv := range ivs {
		switch {
		case iv.Start < 0 || iv.Start >= EndOfDay || iv.End < 0 || iv.End > EndOfDay:
			return fieldErr(field, KindRange, iv.String())
		case iv.End == iv.Start:
			return fieldErr(field, KindEmptyInterval, iv.String())
		case iv.End < iv.Start:
			return fieldErr(field, KindCrossesMidnight, iv.String())
		case i > 0 && iv.Start < ivs[i-1].End:
			return fieldErr(field, KindOverlap, iv.String())
		}
	}
	return nil
}

// FormatHours formats a day's intervals the way ParseHours reads them: "09:00-12:00,
// 13:00-17:00", or "" for a closed day.
func FormatHours(ivs []Interval) string {
	parts := make([]string, len(ivs))
	for i, iv := range ivs {
		parts[i] = iv.String()
	}
	return strings.Join(parts, ", ")
}

// ParseWeek parses the seven hours fields of the settings form, indexed by time.Weekday. A
// week in which every day is closed is refused (KindEmptyWeek on FieldHours): a calendar
// without business hours is open round the clock, which a Config says with a nil Hours.
func ParseWeek(days [7]string) (Week, error) {
	var w Week
	open := false
	for d := range days {
		ivs, err := ParseHours(time.Weekday(d), days[d])
		if err != nil {
			return Week{}, err
		}
		w[d] = ivs
		open = open || len(ivs) > 0
	}
	if !open {
		return Week{}, fieldErr(FieldHours, KindEmptyWeek, "")
	}
	return w, nil
}

// FormatWeek formats each day with FormatHours, indexed by time.Weekday.
func FormatWeek(w Week) [7]string {
	var out [7]string
	for d, ivs := range w {
		out[d] = FormatHours(ivs)
	}
	return out
}

// Date is a calendar date in the organization's zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// String formats d as "YYYY-MM-DD".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// valid reports whether d is a real date between MinYear and MaxYear.
func (d Date) valid() bool {
	if d.Year < MinYear || d.Year > MaxYear || d.Month < time.January || d.Month > time.December || d.Day < 1 {
		return false
	}
	return d.Day <= time.Date(d.Year, d.Month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// number is the count of days from 1970-01-01 to d.
func (d Date) number() int64 {
	return floorDiv(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix(), secondsPerDay)
}

// dateOf is the Date of day number n (days from 1970-01-01).
func dateOf(n int64) Date {
	y, m, d := time.Unix(n*secondsPerDay, 0).UTC().Date()
	return Date{y, m, d}
}

// ParseDate parses "YYYY-MM-DD", a real date from MinYear to MaxYear. Errors are *Error with
// the field FieldHolidays.
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !digits(s[:4]) || !digits(s[5:7]) || !digits(s[8:]) {
		return Date{}, fieldErr(FieldHolidays, KindSyntax, s)
	}
	d := Date{atoi(s[:4]), time.Month(atoi(s[5:7])), atoi(s[8:])}
	if !d.valid() {
		return Date{}, fieldErr(FieldHolidays, KindRange, s)
	}
	return d, nil
}

// ParseHolidays parses the holidays field of the settings form: dates "YYYY-MM-DD" and ranges
// "YYYY-MM-DD..YYYY-MM-DD" (both ends included, at most MaxHolidayRange days), separated by
// commas, spaces or line breaks. The dates come back in the order given, ranges expanded; a
// date given twice is refused, and so are more than MaxHolidays dates. Errors are *Error with
// the field FieldHolidays.
func ParseHolidays(s string) ([]Date, error) {
	if len(s) > maxHolidaysText {
		return nil, fieldErr(FieldHolidays, KindTooLong, "")
	}
	items := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	var dates []Date
	seen := map[Date]bool{}
	add := func(d Date, item string) error {
		if seen[d] {
			return fieldErr(FieldHolidays, KindDuplicate, item)
		}
		if len(dates) == MaxHolidays {
			return fieldErr(FieldHolidays, KindTooMany, "")
		}
		seen[d] = true
		dates = append(dates, d)
		return nil
	}
	for _, item := range items {
		from, to, isRange := strings.Cut(item, "..")
		first, err := ParseDate(from)
		if err != nil {
			return nil, fieldErr(FieldHolidays, err.(*Error).Kind, item)
		}
		if !isRange {
			if err := add(first, item); err != nil {
				return nil, err
			}
			continue
		}
		last, err := ParseDate(to)
		if err != nil {
			return nil, fieldErr(FieldHolidays, err.(*Error).Kind, item)
		}
		a, b := first.number(), last.number()
		if b < a {
			return nil, fieldErr(FieldHolidays, KindReversed, item)
		}
		if b-a+1 > MaxHolidayRange {
			return nil, fieldErr(FieldHolidays, KindTooMany, item)
		}
		for n := a; n <= b; n++ {
			if err := add(dateOf(n), item); err != nil {
				return nil, err
			}
		}
	}
	return dates, nil
}

// FormatHolidays formats dates the way ParseHolidays reads them, sorted, one item per line,
// with a run of three or more consecutive days as one range.
func FormatHolidays(dates []Date) string {
	nums := make([]int64, len(dates))
	for i, d := range dates {
		nums[i] = d.number()
	}
	slices.Sort(nums)
	nums = slices.Compact(nums)
	var lines []string
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		switch {
		case j-i >= 2:
			lines = append(lines, dateOf(nums[i]).String()+".."+dateOf(nums[j]).String())
		default:
			for k := i; k <= j; k++ {
				lines = append(lines, dateOf(nums[k]).String())
			}
		}
		i = j + 1
	}
	return strings.Join(lines, "\n")
}
