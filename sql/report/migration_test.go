package report

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/schema"
)

// TestMigrationBackfill: a tenant written before the reports' migration (version 2) gets, from
// its messages, the first reply and the pauses of every ticket exactly as the desk keeps them
// from then on — and so the same figures as a tenant written with them.
func TestMigrationBackfill(t *testing.T) {
	v2 := version2(t)
	tickets := generate(rand.New(rand.NewPCG(4, 4)), 600, time.Date(2026, 3, 1, 0, 0, 0, 0, berlin),
		time.Date(2026, 4, 1, 0, 0, 0, 0, berlin), 1)
	tickets = append(tickets, special()...)
	// A ticket closed before activity lines existed: paused since it closed.
	tickets = append(tickets, seedTicket{id: 9100, created: berlinAt(time.March, 2, 9, 0), status: "closed",
		closedAt: berlinAt(time.March, 2, 10, 0), msgs: []seedMsg{{sender: "customer", at: berlinAt(time.March, 2, 9, 0)}}})
	old := openDBWith(t, v2)
	(&seedTenant{agents: seedAgents, tickets: tickets, legacy: true}).write(t, old)
	if _, err := schema.Up(old, migrations); err != nil {
		t.Fatal(err)
	}

	type derived struct {
		reply, since sql.NullInt64
		pauses       string
	}
	rows, err := old.QueryContext(context.Background(), `SELECT id, first_reply_at, paused_since, CAST(pauses AS BLOB) FROM tickets`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]derived{}
	for rows.Next() {
		var id int64
		var d derived
		if err := rows.Scan(&id, &d.reply, &d.since, &d.pauses); err != nil {
			t.Fatal(err)
		}
		got[id] = d
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(tickets) {
		t.Fatalf("%d tickets after the migration, want %d", len(got), len(tickets))
	}
	paused, replied := 0, 0
	for _, tk := range tickets {
		d := got[tk.id]
		wantSince, wantPauses := tk.pauses()
		if v := nullable(tk.firstReply()); v != d.reply {
			t.Errorf("ticket %d: first_reply_at %v, want %v", tk.id, d.reply, v)
		}
		if v := nullable(wantSince); v != d.since || wantPauses != d.pauses {
			t.Errorf("ticket %d (%s): paused since %v, pauses %q; want %v, %q", tk.id, tk.status, d.since, d.pauses, v, wantPauses)
		}
		if d.pauses != "" {
			paused++
		}
		if d.reply.Valid {
			replied++
		}
	}
	if paused < 100 || replied < 300 {
		t.Errorf("the seed exercises too little: %d tickets with earlier pauses, %d answered", paused, replied)
	}
}

// version2 is the tenant migrations up to the team workflow's.
func version2(tb testing.TB) fs.FS {
	tb.Helper()
	v2 := fstest.MapFS{}
	names, err := fs.Glob(migrations, "000[12]_*.up.sql")
	if err != nil || len(names) != 2 {
		tb.Fatalf("migrations up to version 2: %v, %v", names, err)
	}
	for _, n := range names {
		b, err := fs.ReadFile(migrations, n)
		if err != nil {
			tb.Fatal(err)
		}
		v2[n] = &fstest.MapFile{Data: b}
	}
	return v2
}

// BenchmarkMigrateReports migrates one tenant of 1,000 or 100,000 tickets (about nine
// messages and activity lines each, all in 90 days) from version 2 to the reports' version:
// the backfill of first replies and pauses and the new indexes, in one transaction that
// holds the tenant's write lock. Run it alone:
//
//	GODEBUG=invalidptr=0 go test -tags libsqlite3 -run '^$' -bench MigrateReports -benchtime 1x ./sql/report/
func BenchmarkMigrateReports(b *testing.B) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, berlin)
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("%d_tickets", n), func(b *testing.B) {
			tickets := generate(rand.New(rand.NewPCG(uint64(n), 2)), n, now.AddDate(0, 0, -90), now, 1)
			for range b.N {
				b.StopTimer()
				db := openDBWith(b, version2(b))
				(&seedTenant{agents: seedAgents, tickets: tickets, legacy: true}).write(b, db)
				b.StartTimer()
				start := time.Now()
				if _, err := schema.Up(db, migrations); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/migration")
			}
		})
	}
}

func nullable(v any) sql.NullInt64 {
	if v == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: v.(int64), Valid: true}
}
