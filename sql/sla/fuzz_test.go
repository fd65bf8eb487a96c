package sla

// Fuzz targets. `go test` runs each on its seeds (f.Add and the committed corpus under
// testdata/fuzz/<Target>/); `go test -fuzz=FuzzX -fuzztime=30s -tags libsqlite3 ./sql/sla`
// explores further, and a failing input it finds is written to testdata/fuzz and then replays
// as a normal test.

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseHours, accepted ⇒ valid: whatever ParseHours accepts is a valid day (ordered,
// non-overlapping intervals within 00:00–24:00), and formatting it reads back the same.
func FuzzParseHours(f *testing.F) {
	for _, s := range []string{"", "09:00-17:00", " 9:00 - 17:00 ", "09:00–17:00", "00:00-24:00", "09:00-12:00, 13:00-17:00",
		"22:00-06:00", "09:00-09:00", "24:00-24:00", "25:00-26:00", "09:00-13:00,12:00-17:00", "9-17", ",", "09:00-17:00,",
		"٠٩:٠٠-١٧:٠٠", "09:00\x00-17:00", "0x9:00-17:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ivs, err := ParseHours(time.Wednesday, s)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Field != "hours.wednesday" || e.Kind == "" || len(e.Value) > 64 || !utf8.ValidString(e.Value) {
				t.Fatalf("ParseHours(%q) error %#v", s, err)
			}
			return
		}
		if len(ivs) > MaxIntervals {
			t.Fatalf("accepted %d intervals from %q", len(ivs), s)
		}
		for i, iv := range ivs {
			if iv.Start < 0 || iv.Start >= iv.End || iv.End > EndOfDay || i > 0 && iv.Start < ivs[i-1].End {
				t.Fatalf("accepted %q as %v", s, ivs)
			}
		}
		again, err := ParseHours(time.Wednesday, FormatHours(ivs))
		if err != nil || !slices.Equal(again, ivs) {
			t.Fatalf("%q → %v → %q → %v, %v", s, ivs, FormatHours(ivs), again, err)
		}
	})
}

// FuzzHoursValid, valid ⇒ accepted: a valid day built from the fuzzer's bytes, written in any
// of the accepted spellings, parses to exactly that day.
func FuzzHoursValid(f *testing.F) {
	f.Add([]byte{9, 0, 8, 0}, uint8(0))
	f.Add([]byte{0, 0, 255, 255, 1, 1, 7, 7, 3, 3}, uint8(7))
	f.Add([]byte{}, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, style uint8) {
		// Each pair of bytes is a gap and a length in minutes, scaled so the day can fill.
		var ivs []Interval
		at := Clock(0)
		for i := 0; i+1 < len(data) && len(ivs) < MaxIntervals; i += 2 {
			start := at + Clock(data[i])*3
			if len(ivs) == 0 {
				start = Clock(data[i]) * 5
			}
			end := start + 1 + Clock(data[i+1])*3
			if start >= EndOfDay || end > EndOfDay {
				break
			}
			ivs = append(ivs, Interval{start, end})
			at = end
		}
		parts := make([]string, len(ivs))
		for i, iv := range ivs {
			a, b := iv.Start.String(), iv.End.String()
			if style&1 != 0 && a[0] == '0' {
				a = a[1:]
			}
			dash := "-"
			if style&2 != 0 {
				dash = " – "
			}
			parts[i] = a + dash + b
		}
		sep := ","
		if style&4 != 0 {
			sep = " ,  "
		}
		text := strings.Join(parts, sep)
		if style&8 != 0 {
			text = "\t" + text + " \n"
		}
		got, err := ParseHours(time.Friday, text)
		if err != nil || !slices.Equal(got, ivs) {
			t.Fatalf("ParseHours(%q) = %v, %v; want %v", text, got, err, ivs)
		}
	})
}

// FuzzParseHolidays, accepted ⇒ valid: accepted dates are real, in range, distinct, at most
// MaxHolidays, and their formatted form reads back as the same set.
func FuzzParseHolidays(f *testing.F) {
	for _, s := range []string{"", "2026-12-25", "2026-12-24..2026-12-26, 2027-01-01", "2026-02-29", "2028-02-29",
		"2026-12-26..2026-12-25", "2026-12-25 2026-12-25", "1999-12-31", "2199-12-31..2200-01-01", "2026-1-1",
		"2026-12-25....2026-12-26", "２０２６-12-25", "2026-12-25\u00a02026-12-26"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseHolidays(s)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Field != FieldHolidays || e.Kind == "" || len(e.Value) > 64 || !utf8.ValidString(e.Value) {
				t.Fatalf("ParseHolidays(%q) error %#v", s, err)
			}
			return
		}
		if len(ds) > MaxHolidays {
			t.Fatalf("accepted %d dates", len(ds))
		}
		seen := map[Date]bool{}
		for _, d := range ds {
			if !d.valid() || seen[d] {
				t.Fatalf("accepted %v from %q", d, s)
			}
			seen[d] = true
			if back, err := ParseDate(d.String()); err != nil || back != d {
				t.Fatalf("date %v does not read back: %v, %v", d, back, err)
			}
		}
		again, err := ParseHolidays(FormatHolidays(ds))
		if err != nil || !sameSet(again, ds) {
			t.Fatalf("%q → %v → %q → %v, %v", s, ds, FormatHolidays(ds), again, err)
		}
	})
}

func sameSet(a, b []Date) bool {
	key := func(d Date) int64 { return d.number() }
	x, y := make([]int64, len(a)), make([]int64, len(b))
	for i := range a {
		x[i] = key(a[i])
	}
	for i := range b {
		y[i] = key(b[i])
	}
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// FuzzHolidaysValid, valid ⇒ accepted: distinct real dates and ranges built from the fuzzer's
// bytes, written with any of the separators, parse to exactly those dates in that order.
func FuzzHolidaysValid(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6}, uint8(0))
	f.Add([]byte{200, 0, 7, 9, 9, 250}, uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, style uint8) {
		// Triples of bytes: a gap of days, a range length (0 for a single date), unused.
		n := Date{MinYear, time.January, 1}.number()
		var want []Date
		var items []string
		for i := 0; i+2 < len(data) && len(want) < MaxHolidays; i += 3 {
			n += int64(binary.BigEndian.Uint16(data[i:i+2])%2000) + 1
			length := int64(data[i+2] % 5)
			if len(want)+int(length)+1 > MaxHolidays || dateOf(n+length).Year > MaxYear {
				break
			}
			if length == 0 {
				items = append(items, dateOf(n).String())
			} else {
				items = append(items, dateOf(n).String()+".."+dateOf(n+length).String())
			}
			for k := int64(0); k <= length; k++ {
				want = append(want, dateOf(n+k))
			}
			n += length
		}
		if style&1 != 0 {
			slices.Reverse(items)
			// Reversing the items reverses the order of the groups, not the days in a range.
			want = nil
			for _, it := range items {
				a, b, _ := strings.Cut(it, "..")
				da, _ := ParseDate(a)
				db := da
				if b != "" {
					db, _ = ParseDate(b)
				}
				for k := da.number(); k <= db.number(); k++ {
					want = append(want, dateOf(k))
				}
			}
		}
		seps := []string{",", ", ", "\n", "\r\n", " \t "}
		text := strings.Join(items, seps[int(style>>1)%len(seps)])
		got, err := ParseHolidays(text)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("ParseHolidays(%q) = %v, %v; want %v", text, got, err, want)
		}
	})
}

// fuzzZones have every kind of rule: none, whole-hour DST, half-hour offsets and shifts,
// 45-minute offsets, DST changes at midnight (São Paulo, Beirut, Havana), a two-hour shift
// (Troll), DST suspended for Ramadan (Casablanca) and a skipped date (Apia).
var fuzzZones = []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
	"Australia/Adelaide", "Pacific/Apia", "America/Sao_Paulo", "Asia/Beirut", "America/Havana", "Antarctica/Troll",
	"Africa/Casablanca", "Pacific/Chatham", "Asia/Kathmandu"}

// fuzzCalendar builds a calendar from the fuzzer's numbers: a zone, a schedule (or none) and a
// few holidays near start.
func fuzzCalendar(t *testing.T, zone uint8, sched uint64, hol uint32, start time.Time) *Calendar {
	cfg := Config{Zone: fuzzZones[int(zone)%len(fuzzZones)]}
	if sched%5 != 0 {
		var w Week
		for d := range w {
			bits := sched >> (d * 9)
			switch bits & 3 {
			case 1: // one interval on whole quarter hours
				a := Clock(bits>>2&63) * 15
				w[d] = []Interval{{a, min(EndOfDay, a+Clock(1+(bits>>8)&1)*9*60)}}
			case 2: // two intervals around midnight and noon
				w[d] = []Interval{{0, 2*60 + 30}, {11 * 60, 24 * 60}}
			case 3: // an odd short one
				a := Clock(bits>>2&127) * 11
				w[d] = []Interval{{a, a + 7}}
			}
		}
		empty := true
		for _, ivs := range w {
			empty = empty && len(ivs) == 0
		}
		if empty {
			w[time.Monday] = []Interval{{9 * 60, 17 * 60}}
		}
		cfg.Hours = &w
	}
	day := dateOfTime(start.UTC())
	for i := 0; i < 4; i++ {
		if hol>>(i*8)&1 != 0 {
			d := dateOf(day.number() + int64(hol>>(i*8+1)&63))
			if d.valid() && !slices.Contains(cfg.Holidays, d) {
				cfg.Holidays = append(cfg.Holidays, d)
			}
		}
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return c
}

func dateOfTime(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// FuzzCalendar checks the calendar's properties on arbitrary zones, schedules, holidays and
// instants: a due time lies at least the target after its start and exactly the target of
// business time after it; due times grow with the start and with the target; Between adds
// up over adjacent spans; the moment before a due time is open; and on stretches without a
// clock change, Between agrees with a minute-by-minute count from wall-clock readings.
func FuzzCalendar(f *testing.F) {
	// 2026-03-06T15:55:00Z is Friday 16:55 in Berlin.
	f.Add(uint8(1), uint64(1), uint32(0), int64(1772812500), uint32(60), uint32(0), uint32(120))
	f.Add(uint8(1), uint64(0x1d5ab3), uint32(0x0103), int64(1774742400), uint32(200), uint32(7), uint32(3000))
	f.Add(uint8(3), uint64(77), uint32(0), int64(1775318400), uint32(1), uint32(1), uint32(90))
	f.Add(uint8(6), uint64(3), uint32(0), int64(1325152800), uint32(4000), uint32(0), uint32(1))
	f.Add(uint8(7), uint64(0x7fffffffffff), uint32(0xffffffff), int64(1540000000), uint32(9999), uint32(60*24), uint32(17))
	f.Fuzz(func(t *testing.T, zone uint8, sched uint64, hol uint32, startSec int64, target, delta, extra uint32) {
		lo, hi := time.Date(MinYear, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(MaxYear-11, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		startSec = lo + (startSec%(hi-lo)+(hi-lo))%(hi-lo)
		start := time.Unix(startSec, int64(extra%1000)*1e6)
		c := fuzzCalendar(t, zone, sched, hol, start)
		d := time.Duration(target%(60*24*30)) * time.Minute

		due, err := c.Due(start, d)
		if err != nil {
			if !isKind(err, KindHorizon) {
				t.Fatalf("Due: %v", err)
			}
			return
		}
		if due.Sub(start) < d {
			t.Fatalf("Due(%v, %v) = %v: less real time than the target", start, d, due)
		}
		if b, err := c.Between(start, due); err != nil || b != d {
			t.Fatalf("Between(%v, Due = %v) = %v, %v; want %v", start, due, b, err, d)
		}
		if d > 0 && !c.IsOpen(due.Add(-time.Nanosecond)) {
			t.Fatalf("closed just before due %v", due)
		}
		if c.always && len(c.holidays) == 0 && !due.Equal(start.Add(d)) {
			t.Fatalf("round the clock: Due = %v, want %v", due, start.Add(d))
		}

		// Monotone in the target and in the start.
		d2 := d + time.Duration(delta%(60*24*7))*time.Minute
		if due2, err := c.Due(start, d2); err == nil && due2.Before(due) {
			t.Fatalf("Due(start, %v) = %v before Due(start, %v) = %v", d2, due2, d, due)
		}
		later := start.Add(time.Duration(delta%(60*24*3600)) * time.Second)
		if due3, err := c.Due(later, d); err == nil && due3.Before(due) {
			t.Fatalf("Due(%v, d) = %v before Due(%v, d) = %v", later, due3, start, due)
		}

		// Additive over a split point, and never more than the real time.
		mid := start.Add(time.Duration(extra%(30*24*3600)) * time.Second)
		ab, err1 := c.Between(start, mid)
		bc, err2 := c.Between(mid, due)
		ac, err3 := c.Between(start, due)
		if err1 == nil && err2 == nil && err3 == nil && ab+bc != ac {
			t.Fatalf("Between does not add up at %v: %v + %v != %v", mid, ab, bc, ac)
		}
		if err1 == nil && (ab > mid.Sub(start) || ab < 0) {
			t.Fatalf("Between(%v, %v) = %v", start, mid, ab)
		}

		// An independent count over three days: where the zone's offset does not change, the
		// calendar is open exactly at the minutes whose wall-clock reading lies in an interval
		// of a working date.
		from := start.Truncate(time.Minute)
		to := from.Add(72 * time.Hour)
		if offsetChanges(c.loc, from.Add(-48*time.Hour), to.Add(48*time.Hour)) {
			return
		}
		var want time.Duration
		for m := from; m.Before(to); m = m.Add(time.Minute) {
			w := m.In(c.loc)
			if c.holidays[dateOfTime(w).number()] {
				continue
			}
			clock := Clock(w.Hour()*60 + w.Minute())
			ivs := allDay
			if !c.always {
				ivs = c.week[w.Weekday()]
			}
			for _, iv := range ivs {
				if iv.Start <= clock && clock < iv.End {
					want += time.Minute
				}
			}
		}
		if got, err := c.Between(from, to); err != nil || got != want {
			t.Fatalf("Between(%v, %v) in %v = %v, %v; counted %v", from, to, c.loc, got, err, want)
		}
	})
}

func offsetChanges(loc *time.Location, from, to time.Time) bool {
	_, off := from.In(loc).Zone()
	for t := from; t.Before(to); t = t.Add(15 * time.Minute) {
		if _, o := t.In(loc).Zone(); o != off {
			return true
		}
	}
	return false
}
