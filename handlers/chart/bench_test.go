package chart

import (
	"strconv"
	"testing"
)

// BenchmarkReportCharts draws what a 90-day report page shows: opened and closed per day as
// bars and as lines, the CSAT distribution, and their tables.
//
//	go test -run '^$' -bench ReportCharts ./handlers/chart/
func BenchmarkReportCharts(b *testing.B) {
	perDay := Chart{ID: "per-day", Title: "Tickets per day", Category: "Day",
		Series: []Series{{Name: "Opened"}, {Name: "Closed"}}}
	for i := range 90 {
		perDay.Labels = append(perDay.Labels, "2026-03-"+strconv.Itoa(i))
		perDay.Series[0].Values = append(perDay.Series[0].Values, float64(250+i%17))
		perDay.Series[1].Values = append(perDay.Series[1].Values, float64(240+i%13))
	}
	csat := Chart{ID: "csat", Title: "Ratings", Category: "Score", Labels: []string{"1", "2", "3", "4", "5"},
		Series: []Series{{Name: "Tickets", Values: []float64{40, 51, 300, 1200, 2100}}}}
	for b.Loop() {
		for _, c := range []Chart{perDay, csat} {
			for _, draw := range []func(Chart) (_ any, err error){
				func(c Chart) (any, error) { return Bars(c) },
				func(c Chart) (any, error) { return Lines(c) },
				func(c Chart) (any, error) { return Table(c) },
			} {
				if _, err := draw(c); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}
