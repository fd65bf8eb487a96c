package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSVHeader is the first record WriteCSV writes.
var CSVHeader = []string{"section", "id", "name", "metric", "value"}

// WriteCSV writes r as CSV (RFC 4180: CRLF line ends, quoted where needed), one figure per
// record under CSVHeader, so that every record has the same fields:
//
//	period,,,first,2026-03-01          (also last, time_zone, business)
//	summary,,,opened,120               (closed, unanswered, first_response_*, resolution_*, csat_*)
//	day,2026-03-01,,opened,4           (and closed)
//	csat,5,,count,31                   (scores 1–5)
//	agent,7,Ann Lee,closed,12          (closed, first_response_*, csat_*; id 0 is unassigned)
//	tag,,billing,tickets,9             (tickets, closed, resolution_*)
//
// Durations are whole seconds (*_median_seconds, *_p90_seconds); a median, percentile or
// average of nothing is an empty value. A name or tag that a spreadsheet would run as a
// formula (starting with = + - @, tab or carriage return) is written with a leading
// apostrophe, and invalid UTF-8 is replaced.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	rec := func(section, id, name, metric, value string) {
		// Errors are sticky in csv.Writer and reported by Error after Flush.
		_ = cw.Write([]string{section, id, CSVText(name), metric, value})
	}
	_ = cw.Write(CSVHeader)
	p := r.Period
	rec("period", "", "", "first", FormatDate(p.First))
	rec("period", "", "", "last", FormatDate(p.Last))
	if p.Loc != nil {
		rec("period", "", "", "time_zone", CSVText(p.Loc.String()))
	}
	rec("period", "", "", "business", strconv.FormatBool(r.Business))

	sum := func(metric, value string) { rec("summary", "", "", metric, value) }
	sum("opened", itoa(r.Opened))
	sum("closed", itoa(r.Closed))
	sum("unanswered", itoa(r.Unanswered))
	times := func(put func(metric, value string), prefix string, t Times, p90 bool) {
		put(prefix+"_count", itoa(t.Count))
		put(prefix+"_median_seconds", seconds(t.Median, t.Count))
		if p90 {
			put(prefix+"_p90_seconds", seconds(t.P90, t.Count))
		}
		put(prefix+"_breached", itoa(t.Breached))
	}
	times(sum, "first_response", r.FirstResponse, true)
	times(sum, "resolution", r.Resolution, true)
	sum("csat_count", itoa(r.CSAT.Count))
	sum("csat_average", avg(r.CSAT.Rating))

	for _, d := range r.Days {
		rec("day", FormatDate(d.Date), "", "opened", itoa(d.Opened))
		rec("day", FormatDate(d.Date), "", "closed", itoa(d.Closed))
	}
	for i, n := range r.CSAT.Counts {
		rec("csat", itoa(i+1), "", "count", itoa(n))
	}
	for _, a := range r.Agents {
		put := func(metric, value string) { rec("agent", strconv.FormatInt(a.ID, 10), a.Name, metric, value) }
		put("closed", itoa(a.Closed))
		times(put, "first_response", a.FirstResponse, false)
		put("csat_count", itoa(a.CSAT.Count))
		put("csat_average", avg(a.CSAT))
	}
	for _, t := range r.Tags {
		put := func(metric, value string) { rec("tag", "", t.Tag, metric, value) }
		put("tickets", itoa(t.Tickets))
		put("closed", itoa(t.Closed))
		times(put, "resolution", t.Resolution, false)
	}
	cw.Flush()
	return cw.Error()
}

// CSVText makes s safe as a CSV cell that a spreadsheet opens: valid UTF-8, and a leading
// apostrophe before a first character that would make it a formula (= + - @, tab, carriage
// return).
func CSVText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

func seconds(d time.Duration, n int) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(int64(d/time.Second), 10)
}

func avg(r Rating) string {
	if r.Count == 0 {
		return ""
	}
	return strconv.FormatFloat(r.Average, 'f', 2, 64)
}
