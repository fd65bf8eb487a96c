package report

import (
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/sla"
)

func date(y int, m time.Month, d int) sla.Date { return sla.Date{Year: y, Month: m, Day: d} }

// TestParsePeriod: presets end today in the organization's zone (not the server's); custom
// ranges are checked field by field, with a kind and a field, never a sentence.
func TestParsePeriod(t *testing.T) {
	// 00:30 on the 29th in Berlin is still the 28th in UTC.
	now := time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		in          Input
		first, last sla.Date
		preset      Preset
	}{
		{"default", Input{}, date(2026, 2, 28), date(2026, 3, 29), Last30},
		{"7 days", Input{Preset: Last7}, date(2026, 3, 23), date(2026, 3, 29), Last7},
		{"90 days", Input{Preset: Last90}, date(2025, 12, 30), date(2026, 3, 29), Last90},
		{"a preset ignores dates", Input{Preset: Last7, From: "bad", To: "2020-01-01"}, date(2026, 3, 23), date(2026, 3, 29), Last7},
		{"dates without a preset", Input{From: "2026-02-27", To: "2026-03-01"}, date(2026, 2, 27), date(2026, 3, 1), Custom},
		{"one day", Input{Preset: Custom, From: "2024-02-29", To: "2024-02-29"}, date(2024, 2, 29), date(2024, 2, 29), Custom},
		{"the longest", Input{Preset: Custom, From: "2025-01-01", To: "2026-01-01"}, date(2025, 1, 1), date(2026, 1, 1), Custom},
	} {
		p, err := ParsePeriod(tc.in, now, berlin)
		if err != nil || p.First != tc.first || p.Last != tc.last || p.Preset != tc.preset || p.Loc != berlin {
			t.Errorf("%s: %+v, %v; want %v–%v %s", tc.name, p, err, tc.first, tc.last, tc.preset)
			continue
		}
		again, err := ParsePeriod(p.Input(), now, berlin)
		if err != nil || again != p {
			t.Errorf("%s: Input() %+v parses to %+v, %v", tc.name, p.Input(), again, err)
		}
	}
	for _, tc := range []struct {
		name  string
		in    Input
		field string
		code  apperr.Code
	}{
		{"unknown preset", Input{Preset: "365d"}, FieldPreset, apperr.CodeInvalid},
		{"custom without from", Input{Preset: Custom, To: "2026-01-01"}, FieldFrom, apperr.CodeRequired},
		{"custom without to", Input{Preset: Custom, From: "2026-01-01"}, FieldTo, apperr.CodeRequired},
		{"not a date", Input{From: "01/02/2026", To: "2026-01-03"}, FieldFrom, apperr.CodeInvalid},
		{"no such day", Input{From: "2026-02-29", To: "2026-03-03"}, FieldFrom, apperr.CodeInvalid},
		{"month 13", Input{From: "2026-01-01", To: "2026-13-01"}, FieldTo, apperr.CodeInvalid},
		{"signed", Input{From: "+026-01-01", To: "2026-01-02"}, FieldFrom, apperr.CodeInvalid},
		{"too early", Input{From: "1999-12-31", To: "2000-01-02"}, FieldFrom, CodeOutOfRange},
		{"too late", Input{From: "2199-12-01", To: "2200-01-01"}, FieldTo, CodeOutOfRange},
		{"reversed", Input{From: "2026-03-02", To: "2026-03-01"}, FieldTo, CodeReversed},
		{"too long", Input{From: "2025-01-01", To: "2026-01-02"}, FieldTo, apperr.CodeTooLong},
	} {
		_, err := ParsePeriod(tc.in, now, berlin)
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Invalid || e.Field != tc.field || e.Code != tc.code {
			t.Errorf("%s: %v; want invalid %s %s", tc.name, err, tc.field, tc.code)
		}
	}
	if _, err := ParsePeriod(Input{}, now, nil); apperr.KindOf(err) != apperr.Internal || err == nil {
		t.Errorf("no location: %v", err)
	}
}

// TestDayStart against a scan of the clock minute by minute: the first instant whose reading
// is the date's midnight or later, in zones whose clocks jump or repeat at midnight.
func TestDayStart(t *testing.T) {
	for _, tc := range []struct {
		zone string
		day  sla.Date
	}{
		{"Europe/Berlin", date(2026, 3, 29)},      // 02:00 → 03:00
		{"Europe/Berlin", date(2026, 3, 30)},      // the day after
		{"Europe/Berlin", date(2026, 10, 25)},     // 03:00 → 02:00
		{"America/Sao_Paulo", date(2018, 11, 4)},  // 00:00 → 01:00: the day starts at 01:00
		{"America/Sao_Paulo", date(2019, 2, 17)},  // 00:00 → 23:00 the day before
		{"America/Sao_Paulo", date(2019, 2, 16)},  // which has 25 hours
		{"Asia/Gaza", date(2010, 3, 27)},          // 00:00 → 01:00 (a minute after midnight, in some data)
		{"Australia/Lord_Howe", date(2026, 4, 5)}, // half an hour back at 02:00
		{"UTC", date(2000, 1, 1)},
	} {
		loc := mustLoc(tc.zone)
		got := DayStart(tc.day, loc)
		// Scan from 30 h before the UTC midnight of the date for the first minute whose clock
		// reads the date or later.
		want := time.Date(tc.day.Year, tc.day.Month, tc.day.Day, 0, 0, 0, 0, time.UTC).Add(-30 * time.Hour)
		for {
			y, m, d := want.In(loc).Date()
			if (y*100+int(m))*100+d >= (tc.day.Year*100+int(tc.day.Month))*100+tc.day.Day {
				break
			}
			want = want.Add(time.Minute)
		}
		if !got.Equal(want) {
			t.Errorf("%s %v: DayStart %v, scan says %v", tc.zone, tc.day, got.In(loc), want.In(loc))
		}
	}
	p := Period{Preset: Custom, First: date(2019, 2, 16), Last: date(2019, 2, 17), Loc: mustLoc("America/Sao_Paulo")}
	if got := p.End().Sub(p.Start()); got != 49*time.Hour {
		t.Errorf("São Paulo 16–17 February 2019 lasts %v, want 49h", got)
	}
}
