package report

// Fuzz targets. `go test` runs each on its seeds (f.Add and testdata/fuzz/<Target>/);
// `go test -tags libsqlite3 -fuzz=FuzzX -fuzztime=30s ./sql/report` explores further.

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// FuzzParseDate, accepted ⇒ valid: what ParseDate accepts is a real date that FormatDate
// writes back as the same text.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-03-29", "2024-02-29", "2023-02-29", "0000-01-01", "9999-12-31", "2026-1-01",
		"+026-01-01", "2026-03-29T00:00", "２０２６-03-29", "2026-00-10", "2026-04-31", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseDate(s)
		if !ok {
			return
		}
		if FormatDate(d) != s {
			t.Fatalf("ParseDate(%q) = %v, written back as %q", s, d, FormatDate(d))
		}
		if back := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC); back.Day() != d.Day || back.Month() != d.Month {
			t.Fatalf("ParseDate(%q) accepted a day that does not exist", s)
		}
	})
}

// FuzzDateValid, valid ⇒ accepted: every real date of years 0–9999 written as YYYY-MM-DD
// parses to itself.
func FuzzDateValid(f *testing.F) {
	f.Add(uint16(2026), uint8(3), uint8(29))
	f.Add(uint16(2000), uint8(2), uint8(29))
	f.Add(uint16(0), uint8(12), uint8(31))
	f.Fuzz(func(t *testing.T, y uint16, m, d uint8) {
		tm := time.Date(int(y%10000), time.Month(m%12+1), int(d%31+1), 0, 0, 0, 0, time.UTC)
		if tm.Year() > 9999 {
			return
		}
		s := fmt.Sprintf("%04d-%02d-%02d", tm.Year(), int(tm.Month()), tm.Day())
		got, ok := ParseDate(s)
		if !ok || got != dateOf(tm) {
			t.Fatalf("ParseDate(%q) = %v, %v", s, got, ok)
		}
	})
}

// FuzzParsePeriod: any form input either is refused with an Invalid error naming one of the
// period's fields, or gives a period of 1 to MaxDays days, within the calendars' years, that
// its own Input selects again.
func FuzzParsePeriod(f *testing.F) {
	f.Add("", "", "", int64(0))
	f.Add("custom", "2026-03-22", "2026-04-04", int64(1774800000))
	f.Add("7d", "x", "y", int64(-1))
	f.Add("custom", "2000-01-01", "2000-12-31", int64(1e12))
	f.Add("", "", "2026-01-01", int64(1774800000))
	f.Fuzz(func(t *testing.T, preset, from, to string, now int64) {
		now %= 4e9 // within the calendars' years, as the clock is
		p, err := ParsePeriod(Input{Preset: Preset(preset), From: from, To: to}, time.Unix(now, 0), berlin)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Invalid || (e.Field != FieldPreset && e.Field != FieldFrom && e.Field != FieldTo) || e.Code == "" {
				t.Fatalf("error %#v", err)
			}
			return
		}
		if n := p.Days(); n < 1 || n > MaxDays || !p.Start().Before(p.End()) {
			t.Fatalf("%+v: %d days, %v to %v", p, n, p.Start(), p.End())
		}
		if p.Preset == Custom && (p.First.Year < 2000 || p.Last.Year > 2199) {
			t.Fatalf("%+v outside the calendars' years", p)
		}
		again, err := ParsePeriod(p.Input(), time.Unix(now, 0), berlin)
		if err != nil || again != p {
			t.Fatalf("%+v → %+v → %+v, %v", p, p.Input(), again, err)
		}
	})
}

// FuzzPeriodValid, valid ⇒ accepted: any range of 1 to MaxDays days within the calendars'
// years, written as the form sends it, parses to exactly that period.
func FuzzPeriodValid(f *testing.F) {
	f.Add(uint32(0), uint16(0))
	f.Add(uint32(9587), uint16(13))   // 2026-03-22 to 2026-04-04
	f.Add(uint32(73000), uint16(365)) // late in 2199: clipped below
	f.Fuzz(func(t *testing.T, start uint32, length uint16) {
		first := time.Date(2000, 1, 1+int(start%73000), 0, 0, 0, 0, time.UTC)
		last := first.AddDate(0, 0, int(length)%MaxDays)
		if last.Year() > 2199 {
			return
		}
		in := Input{Preset: Custom, From: first.Format("2006-01-02"), To: last.Format("2006-01-02")}
		p, err := ParsePeriod(in, time.Now(), berlin)
		if err != nil || p.First != dateOf(first) || p.Last != dateOf(last) || p.Days() != int(length)%MaxDays+1 || p.Input() != in {
			t.Fatalf("%+v: %+v, %v", in, p, err)
		}
	})
}

// FuzzCSVText: a cell never starts as a formula, is valid UTF-8, and is the text given
// (invalid bytes replaced) with at most one apostrophe in front.
func FuzzCSVText(f *testing.F) {
	for _, s := range []string{"=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "Ann", "", "'=1", "\xff=", "=\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := CSVText(s)
		if !utf8.ValidString(got) || got != "" && strings.ContainsRune("=+-@\t\r", rune(got[0])) {
			t.Fatalf("CSVText(%q) = %q", s, got)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if got != want && got != "'"+want {
			t.Fatalf("CSVText(%q) = %q, want %q with at most an apostrophe in front", s, got, want)
		}
	})
}
