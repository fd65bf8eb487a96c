package smtpin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/handlers/email/smtpin"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
	"github.com/tenantdesk/tenantdesk/sql/email/smtpout"
)

const domain = "in.example.net"

// router is a small desk: known mailboxes and reply tags, deliveries kept once per
// (recipient, key), and failures on demand.
type router struct {
	mu         sync.Mutex
	mailboxes  map[string]bool
	tags       map[string]bool
	routeErr   error
	deliverErr error
	calls      int
	stored     map[string]*smtpin.Delivery // recipient + " " + key
	order      []string
}

func newRouter() *router {
	return &router{mailboxes: map[string]bool{"acme": true}, tags: map[string]bool{"tok123": true},
		stored: map[string]*smtpin.Delivery{}}
}

func (r *router) Route(_ context.Context, rcpt email.Recipient) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.routeErr != nil {
		return r.routeErr
	}
	if !r.mailboxes[rcpt.Mailbox] || rcpt.Tag != "" && !r.tags[rcpt.Tag] {
		return fmt.Errorf("%s: %w", rcpt.Address, smtpin.ErrUnknownRecipient)
	}
	return nil
}

func (r *router) Deliver(_ context.Context, rcpt email.Recipient, d *smtpin.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.deliverErr != nil {
		return r.deliverErr
	}
	k := rcpt.Address + " " + d.Key
	if _, dup := r.stored[k]; !dup {
		r.stored[k] = d
		r.order = append(r.order, k)
	}
	return nil
}

func (r *router) deliveries() []*smtpin.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*smtpin.Delivery
	for _, k := range r.order {
		out = append(out, r.stored[k])
	}
	return out
}

func start(t *testing.T, cfg smtpin.Config, r smtpin.Router) string {
	t.Helper()
	if cfg.Domain == "" {
		cfg.Domain = domain
	}
	s, err := smtpin.New(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func msg(id, subject string) []byte {
	return []byte("From: Ann <ann@example.org>\r\nTo: acme@" + domain + "\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + id + ">\r\n\r\nThe printer is on fire.\r\n")
}

// smtpCode is the reply code of a net/smtp error, or 0.
func smtpCode(err error) int {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code
	}
	return 0
}

func TestReceiverDeliversParsedMailToEachRecipient(t *testing.T) {
	r := newRouter()
	addr := start(t, smtpin.Config{}, r)
	rcpts := []string{"acme@" + domain, "ACME+tok123@IN.example.NET"}
	if err := smtp.SendMail(addr, nil, "ann@example.org", rcpts, msg("m1@example.org", "Fire")); err != nil {
		t.Fatal(err)
	}
	got := r.deliveries()
	if len(got) != 2 {
		t.Fatalf("%d deliveries, want 2", len(got))
	}
	d := got[0]
	if d.Key != "mid:m1@example.org" || d.Message.Subject != "Fire" || d.Message.From == nil ||
		d.Message.From.Address != "ann@example.org" || d.Message.Reply != "The printer is on fire." {
		t.Fatalf("delivery %+v / %+v", d, d.Message)
	}
	if d.Envelope.From != "ann@example.org" || len(d.Envelope.Recipients) != 2 ||
		d.Envelope.Recipients[1].Tag != "tok123" || !d.Envelope.Remote.Addr().IsLoopback() || d.Envelope.TLS {
		t.Fatalf("envelope %+v", d.Envelope)
	}
	if !strings.HasPrefix(string(d.Raw), "Received: from ") || !strings.Contains(string(d.Raw), "by "+domain+" (tenantdesk) with ESMTP") ||
		!strings.HasSuffix(string(d.Raw), "The printer is on fire.\r\n") {
		t.Fatalf("raw:\n%s", d.Raw)
	}
}

func TestReceiverKeepsReplyTagsOutOfLogsAndCopies(t *testing.T) {
	r := newRouter()
	var logs bytes.Buffer
	addr := start(t, smtpin.Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, r)
	if err := smtp.SendMail(addr, nil, "ann@example.org", []string{"acme+tok123@" + domain}, msg("t1@example.org", "tagged")); err != nil {
		t.Fatal(err)
	}
	if err := smtp.SendMail(addr, nil, "ann@example.org", []string{"acme@" + domain}, msg("t2@example.org", "plain")); err != nil {
		t.Fatal(err)
	}
	got := r.deliveries()
	if len(got) != 2 || strings.Contains(string(got[0].Raw[:200]), "tok123") || !strings.Contains(string(got[1].Raw), "for <acme@"+domain+">") {
		t.Fatalf("deliveries: %d; first Received:\n%s", len(got), got[0].Raw[:200])
	}
	if strings.Contains(logs.String(), "tok123") || !strings.Contains(logs.String(), "smtpin: accepted") {
		t.Fatalf("logs:\n%s", logs.String())
	}
}

func TestReceiverRefusesUnknownAndForeignRecipients(t *testing.T) {
	r := newRouter()
	addr := start(t, smtpin.Config{}, r)
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("ann@example.org"); err != nil {
		t.Fatal(err)
	}
	for rcpt, want := range map[string]int{
		"nobody@" + domain:        550,
		"acme+wrongtag@" + domain: 550,
		"acme@elsewhere.example":  550,
		"Bad..Local@" + domain:    550,
		"acme+tok123@" + domain:   0,
		"acme@" + domain:          0,
	} {
		if got := smtpCode(c.Rcpt(rcpt)); got != want {
			t.Errorf("RCPT %s: %d, want %d", rcpt, got, want)
		}
	}
	// A failing router is temporary: 451, the sender retries.
	r.mu.Lock()
	r.routeErr = errors.New("tenant database unavailable")
	r.mu.Unlock()
	c2, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Mail("ann@example.org"); err != nil {
		t.Fatal(err)
	}
	if got := smtpCode(c2.Rcpt("acme@" + domain)); got != 451 {
		t.Errorf("RCPT with a failing router: %d, want 451", got)
	}
}

// conversation speaks SMTP by hand, for what net/smtp cannot say.
type conversation struct {
	t *testing.T
	c *textproto.Conn
}

func dial(t *testing.T, addr string) *conversation {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	cv := &conversation{t: t, c: textproto.NewConn(nc)}
	cv.expect(220)
	return cv
}

func (cv *conversation) expect(code int) string {
	cv.t.Helper()
	_, msg, err := cv.c.ReadResponse(code)
	if err != nil {
		cv.t.Fatalf("want %d: %v", code, err)
	}
	return msg
}

func (cv *conversation) cmd(code int, format string, args ...any) string {
	cv.t.Helper()
	if err := cv.c.PrintfLine(format, args...); err != nil {
		cv.t.Fatal(err)
	}
	return cv.expect(code)
}

func TestReceiverEnforcesTheSizeLimit(t *testing.T) {
	r := newRouter()
	addr := start(t, smtpin.Config{MaxMessageBytes: 10 << 10}, r)
	cv := dial(t, addr)
	if msg := cv.cmd(250, "EHLO client.example.org"); !strings.Contains(msg, "SIZE 10240") {
		t.Fatalf("EHLO does not announce the limit: %q", msg)
	}
	// Announced too large: 552 at MAIL FROM.
	cv.cmd(552, "MAIL FROM:<ann@example.org> SIZE=20000")
	// Not announced, sent too large: 552 after the data, nothing delivered.
	cv.cmd(250, "MAIL FROM:<ann@example.org>")
	cv.cmd(250, "RCPT TO:<acme@%s>", domain)
	cv.cmd(354, "DATA")
	w := cv.c.DotWriter()
	fmt.Fprintf(w, "Subject: big\r\n\r\n%s", strings.Repeat(strings.Repeat("x", 98)+"\r\n", 200))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cv.expect(552)
	// The session goes on: a message within the limit is accepted.
	cv.cmd(250, "MAIL FROM:<ann@example.org> SIZE=100")
	cv.cmd(250, "RCPT TO:<acme@%s>", domain)
	cv.cmd(354, "DATA")
	w = cv.c.DotWriter()
	w.Write(msg("small@example.org", "small"))
	w.Close()
	cv.expect(250)
	if got := r.deliveries(); len(got) != 1 || got[0].Message.Subject != "small" {
		t.Fatalf("deliveries %d", len(got))
	}
}

func TestReceiverTimesOutIdleAndStalledClients(t *testing.T) {
	addr := start(t, smtpin.Config{CommandTimeout: 300 * time.Millisecond}, newRouter())
	// Silent after the greeting.
	cv := dial(t, addr)
	begin := time.Now()
	cv.expect(421)
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("idle client kept for %v", d)
	}
	// Stalled in the middle of DATA: the connection is dropped, nothing is delivered.
	cv = dial(t, addr)
	cv.cmd(250, "EHLO client.example.org")
	cv.cmd(250, "MAIL FROM:<ann@example.org>")
	cv.cmd(250, "RCPT TO:<acme@%s>", domain)
	cv.cmd(354, "DATA")
	cv.c.PrintfLine("Subject: half")
	begin = time.Now()
	_, _, err := cv.c.ReadResponse(250)
	if err == nil || time.Since(begin) > 3*time.Second {
		t.Fatalf("stalled DATA: %v after %v", err, time.Since(begin))
	}
}

func TestReceiverRateLimitsAFloodFromOneSender(t *testing.T) {
	r := newRouter()
	addr := start(t, smtpin.Config{SenderRate: 1, SenderBurst: 3}, r)
	send := func(from, id string) error {
		return smtp.SendMail(addr, nil, from, []string{"acme@" + domain}, msg(id, "flood"))
	}
	for i := range 3 {
		if err := send("flood@example.org", fmt.Sprintf("f%d@example.org", i)); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := send("FLOOD@example.org", "f4@example.org"); smtpCode(err) != 451 {
		t.Fatalf("4th message: %v, want 451", err)
	}
	if err := send("someone@example.org", "s1@example.org"); err != nil {
		t.Fatalf("another sender: %v", err)
	}
	if n := len(r.deliveries()); n != 4 {
		t.Fatalf("%d deliveries, want 4", n)
	}
}

func TestReceiverStopsLoops(t *testing.T) {
	r := newRouter()
	addr := start(t, smtpin.Config{MaxHops: 5}, r)
	// Our own notification, forwarded back to us: accepted, never delivered.
	own, err := email.Compose(email.Notification{
		From: email.Address{Address: "support@" + domain}, To: []email.Address{{Address: "acme@" + domain}},
		Domain: domain, Ref: 3, Subject: "x", Text: "y",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := smtp.SendMail(addr, nil, "support@"+domain, []string{"acme@" + domain}, own.Raw); err != nil {
		t.Fatalf("own mail: %v, want it accepted", err)
	}
	// Too many hops: refused as a loop.
	hops := strings.Repeat("Received: from a by b; Mon, 1 Jan 2026 00:00:00 +0000\r\n", 6)
	err = smtp.SendMail(addr, nil, "x@example.org", []string{"acme@" + domain}, append([]byte(hops), msg("loop@example.org", "loop")...))
	if smtpCode(err) != 554 {
		t.Fatalf("looping mail: %v, want 554", err)
	}
	if n := len(r.deliveries()); n != 0 {
		t.Fatalf("%d deliveries, want none", n)
	}
	// An auto-reply with the null sender is delivered, marked automatic.
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail(""); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("acme@" + domain); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(msg("ooo@example.org", "Out of office"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := r.deliveries(); len(got) != 1 || got[0].Message.Auto.Kind != email.AutoGenerated || got[0].Envelope.From != "" {
		t.Fatalf("auto-reply delivery %+v", got)
	}
}

func TestReceiverAnswers451UntilTheDeskStoresAndThenDeliversOnce(t *testing.T) {
	r := newRouter()
	r.deliverErr = errors.New("disk full")
	addr := start(t, smtpin.Config{}, r)
	m := msg("retry@example.org", "retry")
	if err := smtp.SendMail(addr, nil, "ann@example.org", []string{"acme@" + domain}, m); smtpCode(err) != 451 {
		t.Fatalf("with a failing desk: %v, want 451", err)
	}
	r.mu.Lock()
	r.deliverErr = nil
	r.mu.Unlock()
	for range 2 { // the retry, and a duplicate the sender sends after a lost answer
		if err := smtp.SendMail(addr, nil, "ann@example.org", []string{"acme@" + domain}, m); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.deliveries(); len(got) != 1 || r.calls != 3 {
		t.Fatalf("%d stored after %d calls, want 1 after 3", len(got), r.calls)
	}
	r.mu.Lock()
	r.deliverErr = smtpin.Permanent(errors.New("organization deleted"))
	r.mu.Unlock()
	if err := smtp.SendMail(addr, nil, "ann@example.org", []string{"acme@" + domain}, msg("x@example.org", "x")); smtpCode(err) != 554 {
		t.Fatalf("permanent refusal: %v, want 554", err)
	}
}

func TestReceiverOverSTARTTLSFromGoMail(t *testing.T) {
	cert := mailtest.NewCert(t)
	r := newRouter()
	addr := start(t, smtpin.Config{TLSConfig: cert.ServerConfig()}, r)
	cfg, err := smtpout.ParseURL("smtp+starttls://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RootCAs = cert.Pool
	cfg.HELO = "client.example.org"
	c, err := smtpout.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := email.Compose(email.Notification{
		From: email.Address{Name: "Zoë", Address: "zoe@example.org"}, To: []email.Address{{Address: "acme+tok123@" + domain}},
		Domain: "other.example.org", Ref: 9, Subject: "Grüße", Text: "Hallo",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	got := r.deliveries()
	if len(got) != 1 || !got[0].Envelope.TLS || got[0].Envelope.HELO != "client.example.org" ||
		got[0].Message.Subject != "[#9] Grüße" || !strings.Contains(string(got[0].Raw), "with ESMTPS") {
		t.Fatalf("delivery %+v", got)
	}
	// Mail from another tenantdesk is automatic, not ours.
	if got[0].Message.Ours || got[0].Message.Auto.Kind != email.AutoGenerated {
		t.Fatalf("ours %v auto %+v", got[0].Message.Ours, got[0].Message.Auto)
	}
}

func TestReceiverLimitsConnections(t *testing.T) {
	addr := start(t, smtpin.Config{MaxConnections: 2}, newRouter())
	for range 2 {
		dial(t, addr).cmd(250, "EHLO a.example.org")
	}
	cv := dial(t, addr)
	if err := cv.c.PrintfLine("EHLO c.example.org"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cv.c.ReadResponse(250); smtpCode(err) != 421 {
		t.Fatalf("third connection: %v, want 421", err)
	}
}

func TestReceiverBoundsMessagesReceivedAtOnce(t *testing.T) {
	r := newRouter()
	addr := start(t, smtpin.Config{MaxConcurrentData: 1, CommandTimeout: 400 * time.Millisecond}, r)
	// One client holds the only slot, sending its message slowly but steadily (1 KB every
	// 50 ms: each 4 KB within the 400 ms allowed).
	slow := dial(t, addr)
	slow.cmd(250, "EHLO slow.example.org")
	slow.cmd(250, "MAIL FROM:<slow@example.org>")
	slow.cmd(250, "RCPT TO:<acme@%s>", domain)
	slow.cmd(354, "DATA")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				slow.c.PrintfLine("%s", strings.Repeat("s", 1000))
			}
		}
	}()
	time.Sleep(150 * time.Millisecond) // the server takes the slot just after it answers 354
	begin := time.Now()
	err := smtp.SendMail(addr, nil, "quick@example.org", []string{"acme@" + domain}, msg("q@example.org", "quick"))
	close(stop)
	<-done
	if smtpCode(err) != 451 || time.Since(begin) > 3*time.Second {
		t.Fatalf("second message while the slot is taken: %v after %v, want 451", err, time.Since(begin))
	}
	w := slow.c.DotWriter()
	w.Write(msg("slow@example.org", "slow"))
	w.Close()
	slow.expect(250)
	if err := smtp.SendMail(addr, nil, "quick@example.org", []string{"acme@" + domain}, msg("q@example.org", "quick")); err != nil {
		t.Fatalf("once the slot is free: %v", err)
	}
	if n := len(r.deliveries()); n != 2 {
		t.Fatalf("%d deliveries, want 2", n)
	}
}

// BenchmarkReceiver measures messages received per second from one client that opens a
// connection per message, as most sending servers do, parsed and handed to the router.
func BenchmarkReceiver(b *testing.B) {
	r := newRouter()
	s, err := smtpin.New(smtpin.Config{Domain: domain, SenderRate: 1 << 20, SenderBurst: 1 << 20,
		AddrRate: 1 << 20, AddrBurst: 1 << 20}, r)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	b.ResetTimer()
	for i := range b.N {
		m := msg(fmt.Sprintf("b%d@example.org", i), "bench")
		if err := smtp.SendMail(ln.Addr().String(), nil, "ann@example.org", []string{"acme@" + domain}, m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// A line longer than SMTP allows is refused for good (500), not deferred: sending it again
// would not shorten it.
func TestReceiverRefusesOverlongLines(t *testing.T) {
	r := newRouter()
	addr := start(t, smtpin.Config{MaxMessageBytes: 1 << 20}, r)
	cv := dial(t, addr)
	cv.cmd(250, "EHLO client.example.org")
	cv.cmd(250, "MAIL FROM:<ann@example.org>")
	cv.cmd(250, "RCPT TO:<acme@%s>", domain)
	cv.cmd(354, "DATA")
	w := cv.c.DotWriter()
	fmt.Fprintf(w, "Subject: long\r\n\r\n%s\r\n", strings.Repeat("x", 5000))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cv.expect(500)
	if n := len(r.deliveries()); n != 0 {
		t.Errorf("%d deliveries of a message with an overlong line", n)
	}
}
