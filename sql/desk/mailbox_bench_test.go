package desk_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/imapin"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// benchMailboxes is how many organizations, each with its own IMAP mailbox, the polling
// benchmark runs.
const benchMailboxes = 1000

// BenchmarkIMAPPollCycle1000 is one polling cycle of 1,000 organizations, each with its own
// mailbox (a user of its own on one real Dovecot), nothing new in them: the mailboxes fall due
// together, the scheduler hands them out from the catalog's wake-ups, and the cycle ends when
// every mailbox has been polled once. ns/op is the cycle's wall time, cpu-µs/op the process's
// CPU time for it, B/op and allocs/op what it allocated; heap-MB is the heap in use after it.
// The registry keeps 64 tenant databases open (a production default is larger), the scheduler
// asks the catalog every 50 ms (the server: every second, 100 tenants a pass).
func BenchmarkIMAPPollCycle1000(b *testing.B) {
	ctx := context.Background()
	tm := newTeam(b)
	tm.stop()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := tenantdb.New(tenantdb.Config{Backend: tenantdb.Local{Dir: tm.dir}, Catalog: tm.cat,
		Migrations: tenantMigrations, MaxOpen: 64, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	tm.reg = reg
	tm.svc = desk.New(desk.Config{Registry: reg, Catalog: tm.cat, Log: log, Now: tm.clock.Now, WatchInterval: 50 * time.Millisecond})
	b.Cleanup(tm.stop)
	sealer, err := tenantdb.NewSealer(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		b.Fatal(err)
	}
	if err := tm.svc.EnableMail(desk.MailConfig{Domain: mailDomain, PublicURL: publicURL, Secret: bytes.Repeat([]byte{9}, 32),
		Sealer: sealer, PollEvery: time.Minute, PollTimeout: 30 * time.Second}); err != nil {
		b.Fatal(err)
	}
	users := make([]mailtest.User, benchMailboxes)
	for i := range users {
		users[i] = mailtest.User{Name: fmt.Sprintf("box%04d", i), Password: fmt.Sprintf("pw-%04d-secret", i)}
	}
	dc := mailtest.StartDovecot(b, users...)
	for i, u := range users {
		org := &catalog.Organization{Name: fmt.Sprintf("Org %d", i), Username: fmt.Sprintf("org%04d", i),
			Email: fmt.Sprintf("owner@org%04d.example", i), PasswordHash: "x", DBName: fmt.Sprintf("tenantdesk-org%04d", i)}
		if err := tm.svc.Register(ctx, org); err != nil {
			b.Fatal(err)
		}
		if err := tm.svc.SetEmailSettings(ctx, org, desk.AsOwner(org.Name), desk.EmailSettingsInput{AutoAck: true,
			IMAP: &desk.IMAPSettings{Security: imapin.Plain, Host: dc.Host, Port: dc.IMAPPort, Username: u.Name,
				Password: email.Secret(u.Password)}}); err != nil {
			b.Fatal(err)
		}
	}
	// The first poll of each mailbox (connecting it) is not measured.
	waitPolls(b, tm.svc, benchMailboxes)

	b.Run("idle", func(b *testing.B) {
		b.ReportAllocs()
		var cpu time.Duration
		for range b.N {
			start := tm.svc.MailboxPolls()
			before := cpuTime(b)
			tm.clock.add(time.Minute)
			waitPolls(b, tm.svc, start+benchMailboxes)
			cpu += cpuTime(b) - before
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
		b.ReportMetric(float64(benchMailboxes)/(b.Elapsed().Seconds()/float64(b.N)), "mailboxes/s")
	})
}

// waitPolls waits until svc has finished n polls.
func waitPolls(b *testing.B, svc *desk.Service, n int64) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for svc.MailboxPolls() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d polls of %d after 10 minutes", svc.MailboxPolls(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cpuTime is the CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
