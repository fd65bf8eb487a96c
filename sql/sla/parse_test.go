package sla

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseHours(t *testing.T) {
	ok := []struct {
		in   string
		want []Interval
	}{
		{"", nil},
		{"   ", nil},
		{"09:00-17:00", []Interval{{540, 1020}}},
		{" 9:00 - 17:00 ", []Interval{{540, 1020}}},
		{"09:00–17:00", []Interval{{540, 1020}}},
		{"00:00-24:00", []Interval{{0, 1440}}},
		{"09:00-12:00, 13:00-17:00", []Interval{{540, 720}, {780, 1020}}},
		{"09:00-12:00,12:00-17:00", []Interval{{540, 720}, {720, 1020}}},
		{"23:59-24:00", []Interval{{1439, 1440}}},
	}
	for _, tt := range ok {
		got, err := ParseHours(time.Monday, tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseHours(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	bad := []struct {
		in    string
		kind  Kind
		value string
	}{
		{"9-17", KindSyntax, "9-17"},
		{"09:00", KindSyntax, "09:00"},
		{"09:00-17:00,", KindSyntax, ""},
		{"09.00-17.00", KindSyntax, "09.00-17.00"},
		{"009:00-17:00", KindSyntax, "009:00-17:00"},
		{"09:0-17:00", KindSyntax, "09:0-17:00"},
		{"+9:00-17:00", KindSyntax, "+9:00-17:00"},
		{"09:00-17:00-18:00", KindSyntax, "09:00-17:00-18:00"},
		{"25:00-26:00", KindRange, "25:00-26:00"},
		{"09:60-17:00", KindRange, "09:60-17:00"},
		{"09:00-24:01", KindRange, "09:00-24:01"},
		{"24:00-24:00", KindRange, "24:00-24:00"},
		{"09:00-09:00", KindEmptyInterval, "09:00-09:00"},
		{"22:00-06:00", KindCrossesMidnight, "22:00-06:00"},
		{"09:00-13:00, 12:00-17:00", KindOverlap, "12:00-17:00"},
		{"13:00-17:00, 09:00-12:00", KindOverlap, "09:00-12:00"},
		{strings.Repeat("01:00-02:00,", 8) + "03:00-04:00", KindTooMany, ""},
		{strings.Repeat(" ", 201), KindTooLong, ""},
	}
	for _, tt := range bad {
		_, err := ParseHours(time.Tuesday, tt.in)
		var e *Error
		if !errors.As(err, &e) || e.Kind != tt.kind || e.Field != "hours.tuesday" || e.Value != tt.value {
			t.Errorf("ParseHours(%q) error = %#v, want field hours.tuesday, kind %s, value %q", tt.in, e, tt.kind, tt.value)
		}
	}
	if _, err := ParseHours(time.Weekday(7), "09:00-17:00"); !isKind(err, KindRange) {
		t.Errorf("ParseHours of weekday 7: %v", err)
	}
}

func TestParseWeek(t *testing.T) {
	w, err := ParseWeek([7]string{1: "09:00-17:00", 5: "9:00-12:00"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w[time.Monday], []Interval{{540, 1020}}) || !slices.Equal(w[time.Friday], []Interval{{540, 720}}) || w[time.Sunday] != nil {
		t.Fatalf("ParseWeek = %v", w)
	}
	if got := FormatWeek(w); got != [7]string{1: "09:00-17:00", 5: "09:00-12:00"} {
		t.Fatalf("FormatWeek = %q", got)
	}
	_, err = ParseWeek([7]string{})
	if e, ok := errors.AsType[*Error](err); !ok || e.Field != FieldHours || e.Kind != KindEmptyWeek {
		t.Fatalf("ParseWeek of an empty week: %v", err)
	}
	_, err = ParseWeek([7]string{6: "x"})
	if e, ok := errors.AsType[*Error](err); !ok || e.Field != "hours.saturday" || e.Kind != KindSyntax {
		t.Fatalf("ParseWeek with a bad Saturday: %v", err)
	}
}

func TestParseHolidays(t *testing.T) {
	d := func(y int, m time.Month, day int) Date { return Date{y, m, day} }
	ok := []struct {
		in   string
		want []Date
	}{
		{"", nil},
		{"2026-12-25", []Date{d(2026, 12, 25)}},
		{" 2026-12-26,2026-12-25\n2027-01-01\r\n", []Date{d(2026, 12, 26), d(2026, 12, 25), d(2027, 1, 1)}},
		{"2026-12-30..2027-01-02", []Date{d(2026, 12, 30), d(2026, 12, 31), d(2027, 1, 1), d(2027, 1, 2)}},
		{"2028-02-29", []Date{d(2028, 2, 29)}},
		{"2026-05-01..2026-05-01", []Date{d(2026, 5, 1)}},
	}
	for _, tt := range ok {
		got, err := ParseHolidays(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseHolidays(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	bad := []struct {
		in    string
		kind  Kind
		value string
	}{
		{"2026-13-01", KindRange, "2026-13-01"},
		{"2026-02-29", KindRange, "2026-02-29"},
		{"2026-04-31", KindRange, "2026-04-31"},
		{"1999-12-31", KindRange, "1999-12-31"},
		{"2200-01-01", KindRange, "2200-01-01"},
		{"2026-00-10", KindRange, "2026-00-10"},
		{"2026-1-5", KindSyntax, "2026-1-5"},
		{"25.12.2026", KindSyntax, "25.12.2026"},
		{"2026-12-25..", KindSyntax, "2026-12-25.."},
		{"2026-12-25...2026-12-26", KindSyntax, "2026-12-25...2026-12-26"},
		{"2026-12-25 .. 2026-12-26", KindSyntax, ".."},
		{"2026-12-26..2026-12-25", KindReversed, "2026-12-26..2026-12-25"},
		{"2026-01-01..2027-01-02", KindTooMany, "2026-01-01..2027-01-02"},
		{"2026-12-25, 2026-12-24..2026-12-26", KindDuplicate, "2026-12-24..2026-12-26"},
		{strings.Repeat(" ", maxHolidaysText+1), KindTooLong, ""},
		{"2026-01-01..2026-12-31 2027-01-01..2027-12-31 2028-01-01..2028-12-31", KindTooMany, ""},
	}
	for _, tt := range bad {
		_, err := ParseHolidays(tt.in)
		var e *Error
		if !errors.As(err, &e) || e.Kind != tt.kind || e.Field != FieldHolidays || e.Value != tt.value {
			t.Errorf("ParseHolidays(%q) error = %#v, want kind %s, value %q", tt.in, e, tt.kind, tt.value)
		}
	}
	if got := FormatHolidays([]Date{d(2027, 1, 1), d(2026, 12, 25), d(2026, 12, 31), d(2026, 12, 30), d(2026, 12, 26), d(2026, 12, 29)}); got !=
		"2026-12-25\n2026-12-26\n2026-12-29..2027-01-01" {
		t.Errorf("FormatHolidays = %q", got)
	}
}

func TestNewValidation(t *testing.T) {
	good := office(t)
	tests := []struct {
		name  string
		cfg   Config
		field string
		kind  Kind
	}{
		{"no zone", Config{Hours: good}, FieldZone, KindRequired},
		{"the server's zone", Config{Zone: "Local"}, FieldZone, KindSyntax},
		{"a path", Config{Zone: "../../etc/passwd"}, FieldZone, KindSyntax},
		{"an absolute path", Config{Zone: "/etc/localtime"}, FieldZone, KindSyntax},
		{"a space", Config{Zone: "Europe/Berlin "}, FieldZone, KindSyntax},
		{"an unknown zone", Config{Zone: "Mars/Olympus_Mons"}, FieldZone, KindUnknownZone},
		{"a long name", Config{Zone: strings.Repeat("A", 65)}, FieldZone, KindTooLong},
		{"an empty week", Config{Zone: "UTC", Hours: &Week{}}, FieldHours, KindEmptyWeek},
		{"a bad interval", Config{Zone: "UTC", Hours: &Week{3: {{600, 500}}}}, "hours.wednesday", KindCrossesMidnight},
		{"an interval past midnight", Config{Zone: "UTC", Hours: &Week{3: {{600, 1441}}}}, "hours.wednesday", KindRange},
		{"a negative clock", Config{Zone: "UTC", Hours: &Week{0: {{-1, 60}}}}, "hours.sunday", KindRange},
		{"overlapping intervals", Config{Zone: "UTC", Hours: &Week{1: {{60, 120}, {90, 180}}}}, "hours.monday", KindOverlap},
		{"no such date", Config{Zone: "UTC", Holidays: []Date{{2026, 2, 30}}}, FieldHolidays, KindRange},
		{"a duplicate date", Config{Zone: "UTC", Holidays: []Date{{2026, 2, 3}, {2026, 2, 3}}}, FieldHolidays, KindDuplicate},
		{"too many dates", Config{Zone: "UTC", Holidays: make([]Date, MaxHolidays+1)}, FieldHolidays, KindTooMany},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		var e *Error
		if !errors.As(err, &e) || e.Field != tt.field || e.Kind != tt.kind {
			t.Errorf("%s: New error = %v, want %s %s", tt.name, err, tt.field, tt.kind)
		}
	}
	for _, zone := range []string{"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "Australia/Lord_Howe"} {
		if err := ValidateZone(zone); err != nil {
			t.Errorf("ValidateZone(%q): %v", zone, err)
		}
	}
	// The calendar keeps its own copy of the schedule.
	w := office(t)
	c, err := New(Config{Zone: "UTC", Hours: w})
	if err != nil {
		t.Fatal(err)
	}
	w[time.Monday][0] = Interval{0, 1}
	if got, _ := c.Due(ts(t, "2026-03-09T00:00:00Z"), time.Minute); !got.Equal(ts(t, "2026-03-09T09:01:00Z")) {
		t.Errorf("changing the Config after New changed the calendar: due %v", got)
	}
	if e := (&Error{Field: "hours.monday", Kind: KindOverlap}); e.Error() != "sla: hours.monday: overlap" {
		t.Errorf("Error() = %q", e.Error())
	}
}
