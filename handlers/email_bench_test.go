package handlers_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/handlers"
	"github.com/tenantdesk/tenantdesk/handlers/email/smtpin"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
)

// inboundSenders is how many SMTP clients send at once in BenchmarkInboundOneTenant, as
// several sending servers deliver to one organization at once.
const inboundSenders = 8

// BenchmarkInboundOneTenant is email received into one organization through the built-in
// receiver, end to end: Go's SMTP client (a connection per message, as sending servers do,
// inboundSenders at once, each message from another customer) → the receiver → the desk,
// which opens a ticket for each and writes its acknowledgment into the outbox (sent to a real
// mailpit meanwhile) before the receiver answers 250. Every message is then a ticket in the
// queue: the next poll shows it. msgs/s is the rate; the receiver's rate limits are lifted.
func BenchmarkInboundOneTenant(b *testing.B) {
	testLogLevel = slog.LevelInfo
	mp := mailtest.StartMailpit(b, mailtest.MailpitOptions{})
	e := startEnv(b, b.TempDir(), testConfig(), mailConfig(b, mp.SMTPAddr))
	acme := e.register("acme")
	srv, err := smtpin.New(smtpin.Config{Domain: testMailDomain, SenderRate: 1 << 20, SenderBurst: 1 << 20, AddrRate: 1 << 20,
		AddrBurst: 1 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, handlers.NewInbound(e.cat, e.desk, slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	var next atomic.Int64
	var failed atomic.Value
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range inboundSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				from := fmt.Sprintf("customer%d@example.net", i)
				raw := fmt.Sprintf("From: Customer %d <%s>\r\nTo: acme@%s\r\nSubject: Question %d\r\nMessage-ID: <bench.%d.%d@example.net>\r\n"+
					"Date: %s\r\n\r\nHello, my order %d has not arrived yet. Could you look into it?\r\n",
					i, from, testMailDomain, i, w, i, time.Now().UTC().Format(time.RFC1123Z), i)
				if err := smtp.SendMail(addr, nil, from, []string{"acme@" + testMailDomain}, []byte(raw)); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	org, err := e.cat.Lookup(b.Context(), acme.username)
	if err != nil {
		b.Fatal(err)
	}
	q, err := e.desk.Queue(b.Context(), org, desk.AsOwner(org.Name), desk.QueueQuery{View: desk.ViewAll, Priority: -1, Limit: b.N + 10})
	if err != nil || len(q) != b.N {
		b.Fatalf("%d tickets after %d emails (%v)", len(q), b.N, err)
	}
}

// BenchmarkReplyWhileSMTP measures an agent's answer (the request that also writes the
// customer's email into the outbox) while the SMTP server works, is down (nothing listens),
// or hangs (accepts and never answers): the outbox absorbs the outage, so the request costs
// the same. ns/op is the request's latency through the whole app.
func BenchmarkReplyWhileSMTP(b *testing.B) {
	for _, c := range []struct {
		name string
		addr func(b *testing.B) string
	}{
		{"up", func(b *testing.B) string { return mailtest.StartMailpit(b, mailtest.MailpitOptions{}).SMTPAddr }},
		{"down", func(b *testing.B) string { return mailtest.FreeAddr(b) }},
		{"hanging", func(b *testing.B) string { return mailtest.Hang(b) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			testLogLevel = slog.LevelInfo
			e := startEnv(b, b.TempDir(), testConfig(), mailConfig(b, c.addr(b)))
			acme := e.register("acme")
			ann := e.onboard(acme, "Ann Agent")
			e.openTicket("acme", "My printer prints only in Comic Sans since this morning.")
			talk := e.engage(ann)
			ann.browser.get(talk) // a fresh CSRF token
			hdr := map[string]string{"HX-Request": "true", "X-CSRF-Token": ann.browser.csrf}
			newFastReq(e.app, "POST", talk+"/messages", ann.browser.cookies, hdr,
				"message=Thanks+for+waiting%2C+I+am+looking+into+it.").run(b, http.StatusOK)
		})
	}
}
