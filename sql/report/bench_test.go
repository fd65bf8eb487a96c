package report

import (
	"context"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/sla"
)

// BenchmarkReport90Days computes the 90-day report of a tenant with 100,000 tickets, their
// conversations (about 900,000 messages and activity lines) and tags, in wall and in business
// time: once with the tickets spread over a year, once with all of them in the 90 days. The
// target is 200 ms. Seeding takes a while; run it alone:
//
//	GODEBUG=invalidptr=0 go test -tags libsqlite3 -run '^$' -bench Report90Days -benchtime 5x ./sql/report/
func BenchmarkReport90Days(b *testing.B) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, berlin)
	cal := mustCalendar(b, sla.Config{Zone: "Europe/Berlin", Hours: officeHours})
	targets := [Priorities]Target{{8 * time.Hour, 40 * time.Hour}, {4 * time.Hour, 24 * time.Hour},
		{time.Hour, 8 * time.Hour}, {15 * time.Minute, 4 * time.Hour}}
	for _, tc := range []struct {
		name string
		days int
	}{{"spread_over_365_days", 365}, {"all_in_90_days", 90}} {
		b.Run(tc.name, func(b *testing.B) {
			db := openDB(b)
			tickets := generate(rand.New(rand.NewPCG(100000, uint64(tc.days))), 100000, now.AddDate(0, 0, -tc.days), now, 1)
			(&seedTenant{agents: seedAgents, tickets: tickets}).write(b, db)
			p, err := ParsePeriod(Input{Preset: Last90}, now, berlin)
			if err != nil {
				b.Fatal(err)
			}
			for _, mode := range []struct {
				name string
				cal  *sla.Calendar
			}{{"wall", nil}, {"business", cal}} {
				b.Run(mode.name, func(b *testing.B) {
					var r *Report
					cpu := cpuTime(b)
					for b.Loop() {
						if r, err = Compute(context.Background(), db, p, Options{Calendar: mode.cal, Targets: targets, Now: now}); err != nil {
							b.Fatal(err)
						}
					}
					// The machine may be shared: the CPU time the process spent is a steadier
					// figure than the wall time when others run.
					b.ReportMetric(float64((cpuTime(b)-cpu)/time.Microsecond)/float64(b.N), "cpu-µs/op")
					b.ReportMetric(float64(r.Opened), "opened")
					b.ReportMetric(float64(r.Closed), "closed")
				})
			}
		})
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
