package smtpout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
	"github.com/tenantdesk/tenantdesk/sql/email/smtpout"
)

const password = "pa:ss/w@rd%20é"

func TestParseURL(t *testing.T) {
	cases := []struct {
		in   string
		want smtpout.Config
	}{
		{"smtp://mail.example.com", smtpout.Config{Security: smtpout.StartTLSIfOffered, Host: "mail.example.com", Port: 587}},
		{"SMTP://u:p@mail.example.com:25", smtpout.Config{Security: smtpout.StartTLSIfOffered, Host: "mail.example.com", Port: 25, Username: "u", Password: "p"}},
		{"smtp+starttls://mail.example.com/", smtpout.Config{Security: smtpout.StartTLSRequired, Host: "mail.example.com", Port: 587}},
		{"smtps://user%40example.com:" + "pa%3Ass%2Fw%40rd%2520%C3%A9" + "@smtp.example.com", smtpout.Config{Security: smtpout.ImplicitTLS, Host: "smtp.example.com", Port: 465, Username: "user@example.com", Password: password}},
		{"smtps://[::1]:2465", smtpout.Config{Security: smtpout.ImplicitTLS, Host: "::1", Port: 2465}},
		{"smtp://127.0.0.1:1025", smtpout.Config{Security: smtpout.StartTLSIfOffered, Host: "127.0.0.1", Port: 1025}},
	}
	for _, c := range cases {
		got, err := smtpout.ParseURL(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseURL(%q) = %#v, %v; want %#v", c.in, got, err, c.want)
			continue
		}
		back, err := smtpout.ParseURL(got.URL())
		if err != nil || back != got {
			t.Errorf("round trip %q → %q → %+v, %v", c.in, got.URL(), back, err)
		}
	}
	for _, bad := range []string{
		"", "mail.example.com", "http://mail.example.com", "smtp://", "smtp://:25",
		"smtp://mail.example.com:0", "smtp://mail.example.com:65536", "smtp://mail.example.com:x",
		"smtp://mail.example.com:", "smtp://mail.example.com/path", "smtp://mail.example.com?tls=no",
		"smtp://mail.example.com#f", "smtp://user@mail.example.com", "smtp://:secret@mail.example.com",
		"smtp://user:@mail.example.com", "smtp://bad_host!.example.com", "smtp://-a.example.com",
		"smtp://u:" + password + "@host", "smtp://u:sec ret@host", "smtp://u:p%0Ax@host", "smtp://mail.example.com:025",
	} {
		if c, err := smtpout.ParseURL(bad); !errors.Is(err, smtpout.ErrConfig) {
			t.Errorf("ParseURL(%q) = %+v, %v; want ErrConfig", bad, c, err)
		} else if strings.Contains(err.Error(), "sec ret") || strings.Contains(err.Error(), "w@rd") || strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q) error leaks the password: %v", bad, err)
		}
	}
}

func TestConfigNeverShowsThePassword(t *testing.T) {
	c, err := smtpout.ParseURL("smtps://ann:" + "hunter2secret" + "@smtp.example.com")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "smtp", c, "password", c.Password)
	js, _ := json.Marshal(c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), c.String(), logs.String(),
		string(js), fmt.Sprintf("%v %+v %#v", c.Password, c.Password, c.Password)} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("password shown: %s", s)
		}
	}
	if c.String() != "smtps://ann:%2A%2A%2A@smtp.example.com:465" && c.String() != "smtps://ann:***@smtp.example.com:465" {
		t.Fatalf("String() = %q", c.String())
	}
	if !strings.Contains(c.URL(), "hunter2secret") || c.Password.Reveal() != "hunter2secret" {
		t.Fatal("URL()/Reveal lost the password")
	}
}

func outgoing(t *testing.T, to string) *email.Outgoing {
	t.Helper()
	out, err := email.Compose(email.Notification{
		From:    email.Address{Name: "Support", Address: "support@example.net"},
		To:      []email.Address{{Address: to}},
		Domain:  "mail.example.net",
		Ref:     7,
		Subject: "Größe",
		Text:    "Hello",
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func client(t *testing.T, rawURL string, cert *mailtest.Cert, timeout time.Duration) *smtpout.Client {
	t.Helper()
	cfg, err := smtpout.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil {
		cfg.RootCAs = cert.Pool
	}
	cfg.HELO = "test.example.net"
	cfg.Timeout = timeout
	c, err := smtpout.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantKind(t *testing.T, err error, kind smtpout.Kind, stage string) *smtpout.Error {
	t.Helper()
	var e *smtpout.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *smtpout.Error", err, err)
	}
	if e.Kind != kind || e.Stage != stage {
		t.Fatalf("err = %v: kind %s stage %q, want %s at %q", err, e.Kind, e.Stage, kind, stage)
	}
	if e.Retry() != (kind != smtpout.Permanent) {
		t.Fatalf("Retry() = %v for %s", e.Retry(), kind)
	}
	return e
}

func TestSendEachSecurityModeAgainstMailpit(t *testing.T) {
	cert := mailtest.NewCert(t)
	plain := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	starttls := mailtest.StartMailpit(t, mailtest.MailpitOptions{Cert: cert, RequireSTARTTLS: true})
	implicit := mailtest.StartMailpit(t, mailtest.MailpitOptions{Cert: cert, ImplicitTLS: true})
	ctx := context.Background()

	sent := func(m *mailtest.Mailpit, want int) {
		t.Helper()
		got := m.WaitMessages(t, want)
		if len(got) != want {
			t.Fatalf("%d messages, want %d", len(got), want)
		}
	}
	// smtp:// sends in the clear to a server without STARTTLS …
	if err := client(t, "smtp://"+plain.SMTPAddr, nil, 5*time.Second).Send(ctx, outgoing(t, "a@example.org")); err != nil {
		t.Fatal(err)
	}
	sent(plain, 1)
	// … and upgrades where it is offered (this server refuses mail without STARTTLS).
	if err := client(t, "smtp://"+starttls.SMTPAddr, cert, 5*time.Second).Send(ctx, outgoing(t, "b@example.org")); err != nil {
		t.Fatal(err)
	}
	sent(starttls, 1)
	// smtp+starttls:// refuses a server without STARTTLS, before any message.
	err := client(t, "smtp+starttls://"+plain.SMTPAddr, nil, 5*time.Second).Send(ctx, outgoing(t, "c@example.org"))
	wantKind(t, err, smtpout.Setup, smtpout.StageConnect)
	if err := client(t, "smtp+starttls://"+starttls.SMTPAddr, cert, 5*time.Second).Send(ctx, outgoing(t, "d@example.org")); err != nil {
		t.Fatal(err)
	}
	sent(starttls, 2)
	// smtps:// speaks TLS from the first byte, and verifies the certificate.
	if err := client(t, "smtps://"+implicit.SMTPAddr, cert, 5*time.Second).Send(ctx, outgoing(t, "e@example.org")); err != nil {
		t.Fatal(err)
	}
	sent(implicit, 1)
	err = client(t, "smtps://"+implicit.SMTPAddr, nil, 5*time.Second).Send(ctx, outgoing(t, "f@example.org"))
	wantKind(t, err, smtpout.Setup, smtpout.StageConnect)
	err = client(t, "smtps://"+plain.SMTPAddr, nil, 5*time.Second).Send(ctx, outgoing(t, "g@example.org"))
	wantKind(t, err, smtpout.Setup, smtpout.StageConnect)
	if n := len(plain.Messages(t)) + len(starttls.Messages(t)) + len(implicit.Messages(t)); n != 4 {
		t.Fatalf("%d messages in all, want the 4 sent", n)
	}
	// What arrived is exactly what was composed (the body bytes survive dot-stuffing and CRLF).
	m := implicit.Messages(t)[0]
	if m.Subject != "[#7] Größe" || !strings.HasSuffix(m.MessageID, "@mail.example.net") {
		t.Fatalf("read back %+v", m)
	}
}

func TestSendAuthenticates(t *testing.T) {
	cert := mailtest.NewCert(t)
	users := map[string]string{"ann": "correct-horse"}
	tlsServer := mailtest.StartMailpit(t, mailtest.MailpitOptions{Cert: cert, Users: users})
	clearServer := mailtest.StartMailpit(t, mailtest.MailpitOptions{Users: users, AllowInsecureAuth: true})
	ctx := context.Background()

	if err := client(t, "smtp://ann:correct-horse@"+tlsServer.SMTPAddr, cert, 5*time.Second).Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := client(t, "smtp://ann:correct-horse@"+tlsServer.SMTPAddr, cert, 5*time.Second).Send(ctx, outgoing(t, "a@example.org")); err != nil {
		t.Fatal(err)
	}
	tlsServer.WaitMessages(t, 1)
	err := client(t, "smtp://ann:wrong-horse@"+tlsServer.SMTPAddr, cert, 5*time.Second).Send(ctx, outgoing(t, "a@example.org"))
	if e := wantKind(t, err, smtpout.Setup, smtpout.StageConnect); e.Code != 535 {
		t.Fatalf("code %d, want 535", e.Code)
	}
	if strings.Contains(err.Error(), "wrong-horse") {
		t.Fatalf("error shows the password: %v", err)
	}
	// Without TLS the client does not send the password at all (the server would take it).
	err = client(t, "smtp://ann:correct-horse@"+clearServer.SMTPAddr, nil, 5*time.Second).Send(ctx, outgoing(t, "a@example.org"))
	wantKind(t, err, smtpout.Setup, smtpout.StageConnect)
	if n := len(clearServer.Messages(t)); n != 0 {
		t.Fatalf("%d messages sent over a clear-text login", n)
	}
}

func TestSendClassifiesServerRefusals(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{Chaos: true})
	c := client(t, "smtp://"+mp.SMTPAddr, nil, 5*time.Second)
	ctx := context.Background()

	mp.SetChaos(t, mailtest.Chaos{Sender: mailtest.ChaosTrigger{ErrorCode: 451, Probability: 100}})
	err := c.Send(ctx, outgoing(t, "a@example.org"))
	if e := wantKind(t, err, smtpout.Temporary, smtpout.StageMail); e.Code != 451 || e.MaybeSent {
		t.Fatalf("%+v", e)
	}
	mp.SetChaos(t, mailtest.Chaos{Recipient: mailtest.ChaosTrigger{ErrorCode: 550, Probability: 100}})
	err = c.Send(ctx, outgoing(t, "gone@example.org"))
	if e := wantKind(t, err, smtpout.Permanent, smtpout.StageRcpt); e.Code != 550 || e.Recipient != "gone@example.org" {
		t.Fatalf("%+v", e)
	}
	mp.SetChaos(t, mailtest.Chaos{Recipient: mailtest.ChaosTrigger{ErrorCode: 452, Probability: 100}})
	err = c.Send(ctx, outgoing(t, "full@example.org"))
	wantKind(t, err, smtpout.Temporary, smtpout.StageRcpt)
	mp.SetChaos(t, mailtest.Chaos{})
	if err := c.Send(ctx, outgoing(t, "ok@example.org")); err != nil {
		t.Fatal(err)
	}
	if got := mp.WaitMessages(t, 1); len(got) != 1 {
		t.Fatalf("%d messages, want only the last", len(got))
	}
	// A message the client cannot send at all is permanent, without a connection.
	bad := outgoing(t, "x@example.org")
	bad.To = []string{"not an address"}
	wantKind(t, c.Send(ctx, bad), smtpout.Permanent, smtpout.StageMessage)
}

func TestSendSurvivesADownOrHangingServer(t *testing.T) {
	ctx := context.Background()
	// Nothing listens: refused at once, temporary.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	start := time.Now()
	wantKind(t, client(t, "smtp://"+closed, nil, 5*time.Second).Send(ctx, outgoing(t, "a@example.org")), smtpout.Temporary, smtpout.StageConnect)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("refused connection took %v", d)
	}
	// Accepts and never greets: bounded by the timeout.
	hang := mailtest.Hang(t)
	start = time.Now()
	wantKind(t, client(t, "smtp://"+hang, nil, 300*time.Millisecond).Send(ctx, outgoing(t, "a@example.org")), smtpout.Temporary, smtpout.StageConnect)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("hanging server held the send for %v", d)
	}
	// … or by the caller's context, whichever comes first.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	wantKind(t, client(t, "smtp://"+hang, nil, time.Minute).Send(cctx, outgoing(t, "a@example.org")), smtpout.Temporary, smtpout.StageConnect)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cancelled send took %v", d)
	}
	// A server that goes down and comes back: the same message goes through.
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	c := client(t, "smtp://"+mp.SMTPAddr, nil, 2*time.Second)
	out := outgoing(t, "a@example.org")
	mp.Stop()
	wantKind(t, c.Send(ctx, out), smtpout.Temporary, smtpout.StageConnect)
	mp.Restart()
	if err := c.Send(ctx, out); err != nil {
		t.Fatal(err)
	}
	if got := mp.WaitMessages(t, 1); got[0].MessageID != out.MessageID {
		t.Fatalf("Message-ID %q, want %q", got[0].MessageID, out.MessageID)
	}
}
