package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWriteCSV: the seeded tenant's report as CSV reads back, with encoding/csv, to records
// of five fields ending in CRLF whose figures are the report's; names and tags that would be
// spreadsheet formulas start with an apostrophe, and one with a quote and a line break stays
// one cell.
func TestWriteCSV(t *testing.T) {
	db := openDB(t)
	tickets := generate(rand.New(rand.NewPCG(3, 4)), 200, time.Date(2026, 3, 15, 0, 0, 0, 0, berlin), time.Date(2026, 4, 9, 0, 0, 0, 0, berlin), 1)
	agents := append(seedAgents[:3:3], seedAgent{4, "Bo \"the\" Boss,\r\nline two"})
	tickets[0].assignee, tickets[0].tags = 4, []string{"@home", "+1", "\tx"}
	(&seedTenant{agents: agents, tickets: tickets}).write(t, db)
	p, err := ParsePeriod(Input{Preset: Custom, From: "2026-03-15", To: "2026-04-08"}, time.Now(), berlin)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Compute(context.Background(), db, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasSuffix(out, "\r\n") || strings.Count(out, "\n") != strings.Count(out, "\r\n") {
		t.Error("records do not all end in CRLF")
	}
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll() // also checks 5 fields each
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(records[0], ",") != "section,id,name,metric,value" {
		t.Fatalf("header %v", records[0])
	}
	get := map[string]string{}
	names := map[string]bool{}
	for _, rec := range records[1:] {
		get[rec[0]+"|"+rec[1]+"|"+rec[2]+"|"+rec[3]] = rec[4]
		if rec[2] != "" {
			names[rec[2]] = true
		}
	}
	secs := func(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }
	for key, want := range map[string]string{
		"period|||first":                           "2026-03-15",
		"period|||last":                            "2026-04-08",
		"period|||time_zone":                       "Europe/Berlin",
		"period|||business":                        "false",
		"summary|||opened":                         strconv.Itoa(r.Opened),
		"summary|||closed":                         strconv.Itoa(r.Closed),
		"summary|||first_response_median_seconds":  secs(r.FirstResponse.Median),
		"summary|||resolution_p90_seconds":         secs(r.Resolution.P90),
		"summary|||csat_average":                   strconv.FormatFloat(r.CSAT.Average, 'f', 2, 64),
		"day|2026-03-29||opened":                   strconv.Itoa(r.Days[14].Opened),
		"csat|5||count":                            strconv.Itoa(r.CSAT.Counts[4]),
		"agent|2|'=HYPERLINK(\"http://x\")|closed": strconv.Itoa(agentRow(r, 2).Closed),
		"agent|4|Bo \"the\" Boss,\nline two|closed":/* csv.Reader reads a quoted CRLF as LF */ strconv.Itoa(agentRow(r, 4).Closed),
		"tag||'-urgent|tickets":           strconv.Itoa(tagRow(r, "-urgent").Tickets),
		"tag||'@home|tickets":             "1",
		"tag||'+1|tickets":                "1",
		"tag||'\tx|tickets":               "1",
		"tag||'=cmd|' /C calc'!A0|closed": strconv.Itoa(tagRow(r, "=cmd|' /C calc'!A0").Closed),
	} {
		if got, ok := get[key]; !ok || got != want {
			t.Errorf("%q = %q (present %v), want %q", key, got, ok, want)
		}
	}
	for name := range names {
		if strings.ContainsRune("=+-@\t\r", rune(name[0])) {
			t.Errorf("cell %q starts as a formula", name)
		}
	}
	if r.Days[14].Date != date(2026, 3, 29) {
		t.Fatalf("day 14 is %v", r.Days[14].Date)
	}

	// An empty report: medians and averages of nothing are empty, not zero.
	empty := &Report{Period: p, Days: []Day{{Date: p.First}}}
	b.Reset()
	if err := WriteCSV(&b, empty); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "summary,,,first_response_median_seconds,\r\n") || !strings.Contains(b.String(), "summary,,,csat_average,\r\n") {
		t.Errorf("empty report:\n%s", b.String())
	}
}

func agentRow(r *Report, id int64) Agent {
	for _, a := range r.Agents {
		if a.ID == id {
			return a
		}
	}
	return Agent{}
}

func tagRow(r *Report, tag string) Tag {
	for _, g := range r.Tags {
		if g.Tag == tag {
			return g
		}
	}
	return Tag{}
}
