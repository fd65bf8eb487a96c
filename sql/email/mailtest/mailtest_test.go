package mailtest_test

import (
	"crypto/tls"
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/client"

	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
)

const sample = "From: Ann <ann@example.com>\r\nTo: support@example.net\r\nSubject: Hello\r\n" +
	"Message-ID: <sample-1@example.com>\r\n\r\nHi there.\r\n"

func TestDovecotServesDeliveredMailOverIMAPAndIMAPS(t *testing.T) {
	d := mailtest.StartDovecot(t)
	d.Deliver(t, "support", "", []byte(sample))

	c := d.Client(t, "support")
	mb, err := c.Select("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	if mb.Messages != 1 || mb.UidValidity == 0 {
		t.Fatalf("INBOX: %d messages, UIDVALIDITY %d; want 1 and non-zero", mb.Messages, mb.UidValidity)
	}

	// IMAPS with the generated certificate, and STARTTLS on the plain port.
	tc, err := client.DialTLS(d.TLSAddr(), d.ClientTLS())
	if err != nil {
		t.Fatalf("IMAPS: %v", err)
	}
	defer tc.Logout()
	if err := tc.Login("support", d.Password(t, "support")); err != nil {
		t.Fatalf("IMAPS login: %v", err)
	}
	pc, err := client.Dial(d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Logout()
	if err := pc.StartTLS(d.ClientTLS()); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if err := pc.Login("support", "wrong"); err == nil {
		t.Fatal("login with a wrong password succeeded")
	}

	// An untrusted certificate is refused by a client that verifies.
	if _, err := client.DialTLS(d.TLSAddr(), &tls.Config{ServerName: "127.0.0.1"}); err == nil {
		t.Fatal("IMAPS handshake succeeded without trusting the self-signed certificate")
	}
}

func TestDovecotResetUIDsChangesUIDValidityAndKeepsMail(t *testing.T) {
	d := mailtest.StartDovecot(t)
	v1, uid := d.Append(t, "support", "INBOX", []byte(sample))
	if uid != 1 {
		t.Fatalf("first UID %d, want 1", uid)
	}
	d.ResetUIDs(t, "support", "INBOX")
	c := d.Client(t, "support")
	mb, err := c.Select("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	if mb.UidValidity == v1 || mb.Messages != 1 {
		t.Fatalf("after reset: UIDVALIDITY %d (before %d), %d messages; want a new UIDVALIDITY and 1 message",
			mb.UidValidity, v1, mb.Messages)
	}
}

func TestMailpitReceivesAndReadsBack(t *testing.T) {
	m := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	if err := smtp.SendMail(m.SMTPAddr, nil, "ann@example.com", []string{"support@example.net"}, []byte(sample)); err != nil {
		t.Fatal(err)
	}
	got := m.WaitMessages(t, 1)
	msg := m.Message(t, got[0].ID)
	if msg.MessageID != "sample-1@example.com" || msg.Subject != "Hello" || !strings.Contains(msg.Text, "Hi there.") {
		t.Fatalf("read back %+v", msg)
	}
	if raw := m.Raw(t, got[0].ID); !strings.Contains(string(raw), "Subject: Hello") {
		t.Fatalf("raw message lacks the subject:\n%s", raw)
	}
	m.DeleteAll(t)
	if n := len(m.Messages(t)); n != 0 {
		t.Fatalf("%d messages after DeleteAll", n)
	}
}

func TestHangAcceptsAndNeverAnswers(t *testing.T) {
	addr := mailtest.Hang(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 1)
	_, err = c.Read(buf)
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("read from the hanging server: %v, want a timeout", err)
	}
}
