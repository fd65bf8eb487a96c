package sla

import (
	"errors"
	"testing"
	"time"
)

// Instants in these tests are written with their UTC offset, worked out by hand from each
// zone's rules, so that the expectations do not depend on how Go resolves a wall-clock time.

// week builds a schedule from settings-form text per day; days not given are closed.
func week(t testing.TB, days map[time.Weekday]string) *Week {
	t.Helper()
	var w Week
	for d, s := range days {
		ivs, err := ParseHours(d, s)
		if err != nil {
			t.Fatalf("ParseHours(%v, %q): %v", d, s, err)
		}
		w[d] = ivs
	}
	return &w
}

// office is Monday to Friday, 09:00–17:00.
func office(t testing.TB) *Week {
	return week(t, map[time.Weekday]string{
		time.Monday: "09:00-17:00", time.Tuesday: "09:00-17:00", time.Wednesday: "09:00-17:00",
		time.Thursday: "09:00-17:00", time.Friday: "09:00-17:00",
	})
}

func mustCal(t testing.TB, zone string, hours *Week, holidays ...string) *Calendar {
	t.Helper()
	var ds []Date
	for _, h := range holidays {
		got, err := ParseHolidays(h)
		if err != nil {
			t.Fatalf("ParseHolidays(%q): %v", h, err)
		}
		ds = append(ds, got...)
	}
	c, err := New(Config{Zone: zone, Hours: hours, Holidays: ds})
	if err != nil {
		t.Fatalf("New(%s): %v", zone, err)
	}
	return c
}

func ts(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDueWorkedExamples(t *testing.T) {
	sunday := func(hours string) *Week {
		return week(t, map[time.Weekday]string{time.Sunday: hours})
	}
	tests := []struct {
		name     string
		zone     string
		hours    *Week // nil: round the clock
		holidays []string
		start    string
		target   time.Duration
		want     string
	}{
		// The example the feature is specified with, in zones of every kind of offset.
		{"Friday 16:55 + 1h, Berlin", "Europe/Berlin", office(t), nil, "2026-03-06T16:55:00+01:00", time.Hour, "2026-03-09T09:55:00+01:00"},
		{"Friday 16:55 + 1h, New York", "America/New_York", office(t), nil, "2026-03-06T16:55:00-05:00", time.Hour, "2026-03-09T09:55:00-04:00"},
		{"Friday 16:55 + 1h, Kolkata (+05:30)", "Asia/Kolkata", office(t), nil, "2026-03-06T16:55:00+05:30", time.Hour, "2026-03-09T09:55:00+05:30"},
		{"Friday 16:55 + 1h, Lord Howe", "Australia/Lord_Howe", office(t), nil, "2026-03-06T16:55:00+11:00", time.Hour, "2026-03-09T09:55:00+11:00"},
		{"Friday 16:55 + 1h, UTC", "UTC", office(t), nil, "2026-03-06T16:55:00Z", time.Hour, "2026-03-09T09:55:00Z"},

		// Ordinary days.
		{"inside the day", "Europe/Berlin", office(t), nil, "2026-03-09T10:00:00+01:00", 2 * time.Hour, "2026-03-09T12:00:00+01:00"},
		{"before opening", "Europe/Berlin", office(t), nil, "2026-03-09T07:00:00+01:00", 30 * time.Minute, "2026-03-09T09:30:00+01:00"},
		{"after closing", "Europe/Berlin", office(t), nil, "2026-03-09T18:00:00+01:00", time.Hour, "2026-03-10T10:00:00+01:00"},
		{"ends exactly at closing", "Europe/Berlin", office(t), nil, "2026-03-07T12:00:00+01:00", 8 * time.Hour, "2026-03-09T17:00:00+01:00"},
		{"over three days", "Europe/Berlin", office(t), nil, "2026-03-11T15:00:00+01:00", 12 * time.Hour, "2026-03-13T11:00:00+01:00"},
		{"seconds are kept", "Europe/Berlin", office(t), nil, "2026-03-09T16:59:30+01:00", time.Minute, "2026-03-10T09:00:30+01:00"},
		{"zero target is the start, even when closed", "Europe/Berlin", office(t), nil, "2026-03-07T12:00:00+01:00", 0, "2026-03-07T12:00:00+01:00"},
		{"lunch break", "Europe/Berlin", week(t, map[time.Weekday]string{time.Monday: "09:00-12:00, 13:00-17:00"}), nil,
			"2026-03-09T11:30:00+01:00", time.Hour, "2026-03-09T13:30:00+01:00"},
		{"night shift split at midnight", "Europe/Berlin", week(t, map[time.Weekday]string{time.Monday: "22:00-24:00", time.Tuesday: "0:00-6:00"}), nil,
			"2026-03-09T23:00:00+01:00", 2 * time.Hour, "2026-03-10T01:00:00+01:00"},

		// Holidays: Good Friday and Easter Monday 2026; a closure from Christmas Eve to Epiphany.
		{"Easter weekend", "Europe/Berlin", office(t), []string{"2026-04-03, 2026-04-06"}, "2026-04-02T16:00:00+02:00", 2 * time.Hour, "2026-04-07T10:00:00+02:00"},
		{"long holiday over the new year", "Europe/Berlin", office(t), []string{"2026-12-24..2027-01-06"}, "2026-12-23T16:30:00+01:00", time.Hour, "2027-01-07T09:30:00+01:00"},
		{"holiday on round-the-clock", "Europe/Berlin", nil, []string{"2026-12-25"}, "2026-12-24T23:00:00+01:00", 2 * time.Hour, "2026-12-26T01:00:00+01:00"},
		{"Republic Day, Kolkata", "Asia/Kolkata", office(t), []string{"2026-01-26"}, "2026-01-23T16:55:00+05:30", time.Hour, "2026-01-27T09:55:00+05:30"},

		// Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST.
		{"round the clock over the spring change", "Europe/Berlin", nil, nil, "2026-03-28T12:00:00+01:00", 24 * time.Hour, "2026-03-29T13:00:00+02:00"},
		{"office hours over the spring weekend", "Europe/Berlin", office(t), nil, "2026-03-27T16:00:00+01:00", 2 * time.Hour, "2026-03-30T10:00:00+02:00"},
		{"open across the gap: 01:00-05:00 is 3 h", "Europe/Berlin", sunday("01:00-05:00"), nil, "2026-03-29T00:30:00+01:00", 3 * time.Hour, "2026-03-29T05:00:00+02:00"},
		{"opening inside the gap begins when the jump lands", "Europe/Berlin", sunday("02:30-06:00"), nil, "2026-03-29T00:00:00+01:00", time.Hour, "2026-03-29T04:00:00+02:00"},
		{"closing inside the gap is the jump", "Europe/Berlin", sunday("00:00-02:30"), nil, "2026-03-29T00:00:00+01:00", 2 * time.Hour, "2026-03-29T03:00:00+02:00"},
		{"an interval the jump skips is closed", "Europe/Berlin", sunday("02:00-03:00"), nil, "2026-03-28T12:00:00+01:00", 30 * time.Minute, "2026-04-05T02:30:00+02:00"},

		// Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET, 02:00-03:00 is read twice.
		{"open across the repeat: 01:00-05:00 is 5 h", "Europe/Berlin", sunday("01:00-05:00"), nil, "2026-10-25T00:00:00+02:00", 5 * time.Hour, "2026-10-25T05:00:00+01:00"},
		{"closing inside the repeat takes the first reading", "Europe/Berlin", sunday("00:00-02:30"), nil, "2026-10-25T02:00:00+02:00", 31 * time.Minute, "2026-11-01T00:01:00+01:00"},
		{"opening inside the repeat takes the first reading", "Europe/Berlin", sunday("02:30-04:00"), nil, "2026-10-25T00:00:00+02:00", 2*time.Hour + 30*time.Minute, "2026-10-25T04:00:00+01:00"},

		// New York, 2026-03-08 (02:00 EST becomes 03:00 EDT) and 2026-11-01 (02:00 EDT becomes 01:00 EST).
		{"round the clock over the fall change", "America/New_York", nil, nil, "2026-11-01T00:00:00-04:00", 3 * time.Hour, "2026-11-01T02:00:00-05:00"},
		{"office hours over the fall weekend", "America/New_York", office(t), nil, "2026-10-30T16:30:00-04:00", time.Hour, "2026-11-02T09:30:00-05:00"},
		{"round the clock over the spring change, New York", "America/New_York", nil, nil, "2026-03-08T01:30:00-05:00", time.Hour, "2026-03-08T03:30:00-04:00"},

		// Lord Howe: 2026-10-04 02:00 (+10:30) becomes 02:30 (+11); 2026-04-05 02:00 (+11) becomes 01:30 (+10:30).
		{"half-hour jump: 01:00-04:00 is 2.5 h", "Australia/Lord_Howe", sunday("01:00-04:00"), nil, "2026-10-04T00:00:00+10:30", 2 * time.Hour, "2026-10-04T03:30:00+11:00"},
		{"opening inside the half-hour gap", "Australia/Lord_Howe", sunday("02:10-03:00"), nil, "2026-10-04T00:00:00+10:30", 20 * time.Minute, "2026-10-04T02:50:00+11:00"},
		{"half-hour repeat: 01:00-04:00 is 3.5 h", "Australia/Lord_Howe", sunday("01:00-04:00"), nil, "2026-04-05T00:00:00+11:00", 3*time.Hour + 30*time.Minute, "2026-04-05T04:00:00+10:30"},
		{"closing inside the half-hour repeat", "Australia/Lord_Howe", sunday("00:00-01:45"), nil, "2026-04-05T00:00:00+11:00", 105 * time.Minute, "2026-04-05T01:45:00+11:00"},

		// Adelaide (+09:30 / +10:30): 2026-04-05 03:00 ACDT becomes 02:00 ACST.
		{"Adelaide office hours over the fall weekend", "Australia/Adelaide", office(t), nil, "2026-04-03T16:55:00+10:30", time.Hour, "2026-04-06T09:55:00+09:30"},
		{"Adelaide round the clock over the fall change", "Australia/Adelaide", nil, nil, "2026-04-04T12:00:00+10:30", 25 * time.Hour, "2026-04-05T12:00:00+09:30"},

		// Samoa skipped Friday 2011-12-30 when it moved across the date line (-10 to +14).
		{"a skipped date is not open", "Pacific/Apia", office(t), nil, "2011-12-29T16:00:00-10:00", 2 * time.Hour, "2012-01-02T10:00:00+14:00"},
		{"round the clock over a skipped date", "Pacific/Apia", nil, nil, "2011-12-29T12:00:00-10:00", 24 * time.Hour, "2011-12-31T12:00:00+14:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCal(t, tt.zone, tt.hours, tt.holidays...)
			start, want := ts(t, tt.start), ts(t, tt.want)
			got, err := c.Due(start, tt.target)
			if err != nil {
				t.Fatalf("Due: %v", err)
			}
			if !got.Equal(want) {
				t.Fatalf("Due(%s, %v) = %s, want %s", tt.start, tt.target, got.Format(time.RFC3339), tt.want)
			}
			if got.Location() != c.Location() {
				t.Errorf("Due answers in %v, want the calendar's zone %v", got.Location(), c.Location())
			}
			b, err := c.Between(start, want)
			if err != nil || b != tt.target {
				t.Errorf("Between(%s, %s) = %v, %v; want %v", tt.start, tt.want, b, err, tt.target)
			}
		})
	}
}

func TestBetweenWorkedExamples(t *testing.T) {
	tests := []struct {
		name  string
		zone  string
		hours *Week
		a, b  string
		want  time.Duration
	}{
		{"Friday evening to Monday morning", "Europe/Berlin", office(t), "2026-03-06T16:55:00+01:00", "2026-03-09T09:55:00+01:00", time.Hour},
		{"backwards is negative", "Europe/Berlin", office(t), "2026-03-09T09:55:00+01:00", "2026-03-06T16:55:00+01:00", -time.Hour},
		{"a closed stretch", "Europe/Berlin", office(t), "2026-03-07T00:00:00+01:00", "2026-03-09T09:00:00+01:00", 0},
		{"one office week", "Europe/Berlin", office(t), "2026-03-09T00:00:00+01:00", "2026-03-16T00:00:00+01:00", 40 * time.Hour},
		{"the spring day is 23 h", "Europe/Berlin", nil, "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23 * time.Hour},
		{"the fall day is 25 h", "Europe/Berlin", nil, "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 25 * time.Hour},
		{"Lord Howe spring day is 23.5 h", "Australia/Lord_Howe", nil, "2026-10-04T00:00:00+10:30", "2026-10-05T00:00:00+11:00", 23*time.Hour + 30*time.Minute},
		{"New York fall Saturday noon to Sunday noon", "America/New_York", nil, "2026-10-31T12:00:00-04:00", "2026-11-01T12:00:00-05:00", 25 * time.Hour},
		{"empty span", "Europe/Berlin", office(t), "2026-03-09T10:00:00+01:00", "2026-03-09T10:00:00+01:00", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCal(t, tt.zone, tt.hours)
			got, err := c.Between(ts(t, tt.a), ts(t, tt.b))
			if err != nil || got != tt.want {
				t.Fatalf("Between(%s, %s) = %v, %v; want %v", tt.a, tt.b, got, err, tt.want)
			}
		})
	}
}

func TestIsOpenAroundDST(t *testing.T) {
	c := mustCal(t, "Europe/Berlin", week(t, map[time.Weekday]string{time.Sunday: "00:00-02:30, 03:30-04:00"}))
	for _, tt := range []struct {
		at   string
		want bool
	}{
		{"2026-10-25T02:15:00+02:00", true},  // first 02:15, before the first 02:30
		{"2026-10-25T02:29:59+02:00", true},  // last second before the closing
		{"2026-10-25T02:30:00+02:00", false}, // the closing: the first 02:30
		{"2026-10-25T02:15:00+01:00", false}, // the clock reads 02:15 again, but it has closed
		{"2026-10-25T03:30:00+01:00", true},  // opens again at 03:30
		{"2026-10-25T04:00:00+01:00", false},
		{"2026-03-29T01:59:59+01:00", true},
		{"2026-03-29T03:00:00+02:00", false}, // 02:30 closing was skipped: closed when the jump lands
		{"2026-10-24T12:00:00+02:00", false}, // Saturday
	} {
		if got := c.IsOpen(ts(t, tt.at)); got != tt.want {
			t.Errorf("IsOpen(%s) = %v, want %v", tt.at, got, tt.want)
		}
	}
	if c.IsOpen(time.Time{}) {
		t.Error("IsOpen(zero time) = true")
	}
}

// TestPauses: pending and snoozed time does not count against resolution.
func TestPauses(t *testing.T) {
	c := mustCal(t, "Europe/Berlin", office(t))
	created := ts(t, "2026-03-09T09:00:00+01:00") // Monday
	span := func(a, b string) Span {
		s := Span{Start: ts(t, a)}
		if b != "" {
			s.End = ts(t, b)
		}
		return s
	}
	tests := []struct {
		name   string
		paused []Span
		want   string // due for an 8 h target; "" when paused without end
		kind   Kind
	}{
		{"no pause", nil, "2026-03-09T17:00:00+01:00", ""},
		{"pending from Monday noon to Tuesday 10:00", []Span{span("2026-03-09T12:00:00+01:00", "2026-03-10T10:00:00+01:00")}, "2026-03-10T15:00:00+01:00", ""},
		{"overlapping and unordered pauses merge", []Span{
			span("2026-03-10T09:30:00+01:00", "2026-03-10T10:00:00+01:00"),
			span("2026-03-09T12:00:00+01:00", "2026-03-10T09:45:00+01:00"),
		}, "2026-03-10T15:00:00+01:00", ""},
		// Paused from Friday to Monday 10:00: 7 h on Monday, 1 h on Tuesday.
		{"a pause begun before creation counts from creation", []Span{span("2026-03-06T12:00:00+01:00", "2026-03-09T10:00:00+01:00")}, "2026-03-10T10:00:00+01:00", ""},
		{"a pause outside business hours changes nothing", []Span{span("2026-03-09T17:30:00+01:00", "2026-03-10T08:00:00+01:00")}, "2026-03-09T17:00:00+01:00", ""},
		{"pending since Monday noon, still", []Span{span("2026-03-09T12:00:00+01:00", "")}, "", KindPaused},
		{"paused without end after the target was reached", []Span{span("2026-03-10T12:00:00+01:00", "")}, "2026-03-09T17:00:00+01:00", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.DueExcluding(created, 8*time.Hour, tt.paused)
			if tt.want == "" {
				if e, ok := errors.AsType[*Error](err); !ok || e.Kind != tt.kind {
					t.Fatalf("DueExcluding = %v, %v; want kind %s", got, err, tt.kind)
				}
				return
			}
			if err != nil || !got.Equal(ts(t, tt.want)) {
				t.Fatalf("DueExcluding = %v, %v; want %s", got, err, tt.want)
			}
			b, err := c.BetweenExcluding(created, got, tt.paused)
			if err != nil || b != 8*time.Hour {
				t.Fatalf("BetweenExcluding(created, due) = %v, %v; want 8h", b, err)
			}
		})
	}

	// A ticket pending since Monday noon has had 3 h of business time by Wednesday.
	b, err := c.BetweenExcluding(created, ts(t, "2026-03-11T12:00:00+01:00"), []Span{span("2026-03-09T12:00:00+01:00", "")})
	if err != nil || b != 3*time.Hour {
		t.Fatalf("BetweenExcluding with an open pause = %v, %v; want 3h", b, err)
	}
	if _, err := c.BetweenExcluding(created, created.Add(time.Hour), []Span{span("2026-03-09T12:00:00+01:00", "2026-03-09T11:00:00+01:00")}); !isKind(err, KindReversed) {
		t.Fatalf("a pause ending before it starts: %v, want kind %s", err, KindReversed)
	}
}

func isKind(err error, k Kind) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Kind == k
}

func TestStanding(t *testing.T) {
	c := mustCal(t, "Europe/Berlin", office(t))
	due := ts(t, "2026-03-09T09:55:00+01:00")
	for _, tt := range []struct {
		now  string
		want Standing
	}{
		{"2026-03-06T17:30:00+01:00", Standing{Breached: false, Wall: 64*time.Hour + 25*time.Minute, Business: 55 * time.Minute}},
		{"2026-03-09T09:55:00+01:00", Standing{Breached: false}},
		{"2026-03-09T11:55:00+01:00", Standing{Breached: true, Wall: 2 * time.Hour, Business: 2 * time.Hour}},
		{"2026-03-09T19:55:00+01:00", Standing{Breached: true, Wall: 10 * time.Hour, Business: 7*time.Hour + 5*time.Minute}},
	} {
		got, err := c.Standing(due, ts(t, tt.now))
		if err != nil || got != tt.want {
			t.Errorf("Standing(due, %s) = %+v, %v; want %+v", tt.now, got, err, tt.want)
		}
	}
	now := ts(t, "2026-03-09T09:00:00+01:00")
	if DueIn(due, now) != 55*time.Minute || BreachedBy(due, now) != 0 {
		t.Errorf("before due: DueIn %v, BreachedBy %v", DueIn(due, now), BreachedBy(due, now))
	}
	if DueIn(now, due) != 0 || BreachedBy(now, due) != 55*time.Minute {
		t.Errorf("after due: DueIn %v, BreachedBy %v", DueIn(now, due), BreachedBy(now, due))
	}
}

// TestLongHolidays: a thousand holidays on every weekday push a due time years ahead, and the
// answer comes quickly.
func TestLongHolidays(t *testing.T) {
	var hs []Date
	n := Date{2026, time.January, 5}.number() // a Monday
	for len(hs) < MaxHolidays {
		if wd := weekday(n); wd != time.Saturday && wd != time.Sunday {
			hs = append(hs, dateOf(n))
		}
		n++
	}
	// The first weekday after the last holiday, found by stepping through dates.
	next := hs[len(hs)-1].number() + 1
	for wd := weekday(next); wd == time.Saturday || wd == time.Sunday; wd = weekday(next) {
		next++
	}
	c, err := New(Config{Zone: "Europe/Berlin", Hours: office(t), Holidays: hs})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	got, err := c.Due(ts(t, "2026-01-02T16:30:00+01:00"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	d := dateOf(next)
	want := time.Date(d.Year, d.Month, d.Day, 9, 30, 0, 0, c.Location())
	if !got.Equal(want) {
		t.Fatalf("Due = %s, want %s", got, want)
	}
	took := time.Since(begin)
	if took > time.Second {
		t.Errorf("Due over %d holidays took %v", MaxHolidays, took)
	}
	t.Logf("Due over %d holidays (%d days): %v", MaxHolidays, next-Date{2026, time.January, 2}.number(), took)
}

// TestHorizon: no input makes a computation run away; what lies too far is refused.
func TestHorizon(t *testing.T) {
	c := mustCal(t, "Europe/Berlin", week(t, map[time.Weekday]string{time.Monday: "09:00-09:01"}))
	start := ts(t, "2026-03-09T00:00:00+01:00")
	begin := time.Now()
	if _, err := c.Due(start, 1000*time.Hour); !isKind(err, KindHorizon) {
		t.Fatalf("Due of 60,000 one-minute weeks: %v, want kind %s", err, KindHorizon)
	}
	took := time.Since(begin)
	if took > 2*time.Second {
		t.Errorf("refusing took %v", took)
	}
	t.Logf("Due refused at the horizon after %v", took)
	// 521 Mondays fit into the horizon.
	if got, err := c.Due(start, 521*time.Minute); err != nil || got.Sub(start) < 520*7*24*time.Hour {
		t.Fatalf("Due of 521 minutes = %v, %v", got, err)
	}
	if _, err := c.Between(start, start.Add(Horizon+time.Nanosecond)); !isKind(err, KindHorizon) {
		t.Fatalf("Between over more than the horizon: %v", err)
	}
	if b, err := c.Between(start, start.Add(Horizon)); err != nil || b < 520*time.Minute {
		t.Fatalf("Between over the horizon = %v, %v", b, err)
	}
	for _, bad := range []time.Time{{}, ts(t, "1999-12-31T12:00:00Z"), ts(t, "2200-01-01T00:00:00Z")} {
		if _, err := c.Due(bad, time.Hour); !isKind(err, KindHorizon) {
			t.Errorf("Due(%v): %v, want kind %s", bad, err, KindHorizon)
		}
		if _, err := c.Between(start, bad); !isKind(err, KindHorizon) {
			t.Errorf("Between(start, %v): %v, want kind %s", bad, err, KindHorizon)
		}
	}
	if _, err := c.Due(start, -time.Minute); !isKind(err, KindNegative) {
		t.Errorf("negative target: %v", err)
	}
}
