package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/smtp"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
)

// The email settings are checked together at start: what needs mail needs MAIL_DOMAIN, mail
// needs PUBLIC_URL, SMTP_URL needs MAIL_FROM; an error never repeats SMTP_URL's password.
func TestEmailConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cfg, err := configFromEnv(env(nil))
	if err != nil || cfg.emailOn() || cfg.MaxEmailMB != 25 {
		t.Fatalf("without email settings: on %v, MAX_EMAIL_MB %d, %v", cfg.emailOn(), cfg.MaxEmailMB, err)
	}
	ok := map[string]string{"MAIL_DOMAIN": "Help.Example.com", "PUBLIC_URL": "https://help.example.com",
		"SMTP_URL": "smtp://user:s3cret@smtp.example.com:587", "MAIL_FROM": "Support <support@example.com>",
		"INBOUND_SMTP_ADDR": ":2525", "MAX_EMAIL_MB": "10"}
	cfg, err = configFromEnv(env(ok))
	if err != nil || !cfg.emailOn() || cfg.MailDomain != "help.example.com" || cfg.MaxEmailMB != 10 || cfg.InboundSMTPAddr != ":2525" {
		t.Fatalf("a full email configuration: %+v, %v", cfg, err)
	}
	with := func(kv map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range ok {
			out[k] = v
		}
		for k, v := range kv {
			out[k] = v
		}
		return out
	}
	// Receiving only, or organizations' own servers only: no SMTP_URL, no MAIL_FROM.
	if _, err := configFromEnv(env(with(map[string]string{"SMTP_URL": "", "MAIL_FROM": ""}))); err != nil {
		t.Errorf("email without a server SMTP: %v", err)
	}
	for name, kv := range map[string]map[string]string{
		"SMTP_URL without MAIL_DOMAIN":          with(map[string]string{"MAIL_DOMAIN": ""}),
		"INBOUND_SMTP_ADDR without MAIL_DOMAIN": {"INBOUND_SMTP_ADDR": ":25", "PUBLIC_URL": "https://x.example"},
		"MAIL_DOMAIN without PUBLIC_URL":        with(map[string]string{"PUBLIC_URL": ""}),
		"SMTP_URL without MAIL_FROM":            with(map[string]string{"MAIL_FROM": ""}),
		"bad SMTP_URL":                          with(map[string]string{"SMTP_URL": "http://user:s3cret@smtp.example.com"}),
		"bad SMTP_URL port":                     with(map[string]string{"SMTP_URL": "smtp://user:s3cret@smtp.example.com:99999"}),
		"bad MAIL_FROM":                         with(map[string]string{"MAIL_FROM": "support"}),
		"bad MAIL_DOMAIN":                       with(map[string]string{"MAIL_DOMAIN": "not a domain"}),
		"bad INBOUND_SMTP_ADDR":                 with(map[string]string{"INBOUND_SMTP_ADDR": "2525"}),
		"bad MAX_EMAIL_MB":                      with(map[string]string{"MAX_EMAIL_MB": "0"}),
		"huge MAX_EMAIL_MB":                     with(map[string]string{"MAX_EMAIL_MB": "100000"}),
	} {
		_, err := configFromEnv(env(kv))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
}

// With INBOUND_SMTP_ADDR the server receives email: mail to an organization's address opens
// a ticket (its acknowledgment goes out through SMTP_URL), an unknown address is refused with
// 550, and the receiver closes with the server.
func TestServeReceivesEmail(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	inbound := mailtest.FreeAddr(t)
	cfg, err := configFromEnv(func(k string) string {
		return map[string]string{"DATA_DIR": t.TempDir(), "PORT": "0", "PUBLIC_URL": base, "MAIL_DOMAIN": "mail.test",
			"SMTP_URL": "smtp://" + mp.SMTPAddr, "MAIL_FROM": "Help <help@mail.test>", "INBOUND_SMTP_ADDR": inbound}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.bcryptCost = bcrypt.MinCost
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log, waitLog := newLogSignal(io.Discard, "tenantdesk serving", "receiving email")
	go func() { done <- serve(ctx, cfg, log, ln) }()
	waitLog(t, "receiving email")
	waitLog(t, "tenantdesk serving")

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(base + "/register")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	token := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(body)
	if token == nil {
		t.Fatal("no CSRF token on /register")
	}
	res, err = client.PostForm(base+"/register", url.Values{"_csrf": {string(token[1])}, "name": {"Mail Co"},
		"website": {""}, "username": {"mailco"}, "email": {"boss@mailco.example"},
		"password": {"long enough password"}, "password_repeat": {"long enough password"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("register: %d", res.StatusCode)
	}

	msg := "From: Carla <carla@example.net>\r\nTo: mailco@mail.test\r\nSubject: Parcel lost\r\nMessage-ID: <serve-1@example.net>\r\n\r\n" +
		"My parcel never came.\r\n"
	if err := smtp.SendMail(inbound, nil, "carla@example.net", []string{"mailco@mail.test"}, []byte(msg)); err != nil {
		t.Fatalf("mail to the organization: %v", err)
	}
	var tp *textproto.Error
	if err := smtp.SendMail(inbound, nil, "carla@example.net", []string{"nobody@mail.test"}, []byte(msg)); !errors.As(err, &tp) || tp.Code != 550 {
		t.Errorf("mail to an unknown address: %v, want 550", err)
	}
	ack := mp.Message(t, mp.WaitMessages(t, 1)[0].ID)
	if ack.To[0].Address != "carla@example.net" || !strings.Contains(ack.Subject, "Parcel lost") ||
		!strings.Contains(ack.Text, base+"/customer/mailco/t/") {
		t.Errorf("acknowledgment to %v, %q:\n%s", ack.To, ack.Subject, ack.Text)
	}
	res, err = client.Get(base + "/dash")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "My parcel never came.") {
		t.Errorf("the emailed ticket is not on the dashboard:\n%.2000s", body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after shutdown")
	}
	if c, err := net.DialTimeout("tcp", inbound, time.Second); err == nil {
		c.Close()
		t.Fatal("the receiver still accepts connections after shutdown")
	}
}
