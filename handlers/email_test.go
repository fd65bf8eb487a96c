package handlers_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
	"github.com/tenantdesk/tenantdesk/sql/email/smtpout"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

const (
	testMailDomain = "mail.test"
	testPublicURL  = "https://help.test"
)

// mailConfig is an email configuration for the test servers: the receiver on, and sending
// through smtpAddr ("": no server of its own, so only organizations with their own send).
func mailConfig(t testing.TB, smtpAddr string) *desk.MailConfig {
	t.Helper()
	sealer, err := tenantdb.NewSealer(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	mc := &desk.MailConfig{Domain: testMailDomain, PublicURL: testPublicURL, Inbound: true,
		Secret: bytes.Repeat([]byte{6}, 32), Sealer: sealer}
	if smtpAddr != "" {
		sc, err := smtpout.ParseURL("smtp://" + smtpAddr)
		if err != nil {
			t.Fatal(err)
		}
		sc.Timeout = 5 * time.Second
		mc.SMTP, mc.From = &sc, email.Address{Name: "Help", Address: "help@" + testMailDomain}
	}
	return mc
}

// newMailEnv is a server with email on, sending through a fresh mailpit.
func newMailEnv(t *testing.T) (*env, *mailtest.Mailpit) {
	t.Helper()
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{Chaos: true})
	return startEnv(t, t.TempDir(), testConfig(), mailConfig(t, mp.SMTPAddr)), mp
}

var emailLinkRE = regexp.MustCompile(regexp.QuoteMeta(testPublicURL) + `(/customer/[a-z0-9]+/t/e1\.[A-Za-z0-9_.-]+)`)

// waitMail waits for n messages in mailpit and returns the newest one's full form.
func waitMail(t *testing.T, mp *mailtest.Mailpit, n int) mailtest.Message {
	t.Helper()
	list := mp.WaitMessages(t, n)
	return mp.Message(t, list[0].ID)
}

// The link of a customer email opens the ticket's page, which works like the private link
// (polls, messages); renewing the customer's access closes the old link and the email's.
func TestEmailLinkOpensTheTicket(t *testing.T) {
	e, mp := newMailEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	cust := e.openTicket("acme", "My order never came")
	ack := waitMail(t, mp, 1)
	if ack.To[0].Address != "carla@example.net" || !strings.Contains(ack.Text, "My order never came") {
		t.Fatalf("acknowledgment: %+v", ack)
	}
	m := emailLinkRE.FindStringSubmatch(ack.Text)
	if m == nil {
		t.Fatalf("no link under PUBLIC_URL in:\n%s", ack.Text)
	}
	link := m[1]
	browser := e.client() // another browser: the link alone opens the page
	r := browser.get(link)
	wantStatus(t, r, http.StatusOK)
	if !r.has("My order never came") {
		t.Fatalf("the linked page lacks the question:\n%.1500s", r.body)
	}
	wantRedirect(t, browser.post(link+"/messages", form("message", "Any news?")), link+"#msg-2")
	if r := browser.get(link+"/messages?after=0", htmx); r.status != http.StatusOK || !r.has("Any news?") {
		t.Errorf("poll through the link: %d", r.status)
	}
	talk := e.engage(ann)
	wantStatus(t, ann.browser.post(talk+"/messages", form("message", "It ships today."), htmx), http.StatusOK)
	reply := waitMail(t, mp, 2)
	if !strings.Contains(reply.Text, "It ships today.") || !emailLinkRE.MatchString(reply.Text) {
		t.Fatalf("reply email:\n%s", reply.Text)
	}
	// The team sees where the reply's email went.
	waitFor(t, "the email marked sent on the message", func() bool {
		r := ann.browser.get(talk)
		return r.has(`class="msg-email"`) && r.has(`data-state="sent"`) && r.has("Email to carla@example.net sent.")
	})

	// Renewing the access: the email's link and the private link stop working.
	ticketID := regexp.MustCompile(`/tickets/(\d+)/access`).FindStringSubmatch(ann.browser.get(talk).body)
	if ticketID == nil {
		t.Fatal("no renew-access form on the ticket's page")
	}
	wantRedirect(t, ann.browser.post("/agent/acme/tickets/"+ticketID[1]+"/access", nil), talk)
	for _, u := range []string{link, cust.page, link + "/messages?after=0"} {
		if r := browser.get(u); r.status != http.StatusNotFound {
			t.Errorf("%s after renewing the access: %d", u, r.status)
		}
	}
	if r := ann.browser.get(talk); !r.has("renewed the customer") {
		t.Error("no activity line for the renewal")
	}
	// A tampered or expired-shaped link is a plain 404.
	for _, bad := range []string{link[:len(link)-2] + "zz", "/customer/acme/t/e1.1.0.1." + strings.Repeat("A", 32)} {
		if r := browser.get(bad); r.status != http.StatusNotFound {
			t.Errorf("%s: %d", bad, r.status)
		}
	}
}

// The email settings page: status, the acknowledgment switch, a test email, field errors,
// the emails that failed; admins see it, agents do not.
func TestEmailSettingsPage(t *testing.T) {
	e, mp := newMailEnv(t)
	acme := e.register("acme")
	r := acme.browser.get("/dash/settings/email")
	wantStatus(t, r, http.StatusOK)
	if !r.has(`data-email="on"`) || !r.has("acme@"+testMailDomain) || !r.has(`id="auto_ack" checked`) {
		t.Fatalf("settings page:\n%.3000s", r.body)
	}
	wantRedirect(t, acme.browser.post("/dash/settings/email", form("action", "save", "smtp_security", "smtp")), "/dash/settings/email")
	if r := acme.browser.get("/dash/settings/email"); r.has(`id="auto_ack" checked`) {
		t.Error("the acknowledgment is still on after switching it off")
	}
	e.openTicket("acme", "no acknowledgment please")
	time.Sleep(300 * time.Millisecond)
	if n := len(mp.Messages(t)); n != 0 {
		t.Errorf("%d emails sent with the acknowledgment off", n)
	}
	// Field errors.
	r = acme.browser.post("/dash/settings/email", form("action", "save", "smtp_host", "bad host!", "smtp_port", "99999",
		"smtp_security", "smtp", "mail_from", "Acme <support@acme.example>"))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !r.has(`id="smtp_port-error"`) {
		t.Errorf("no port error:\n%.3000s", r.body)
	}
	r = acme.browser.post("/dash/settings/email", form("action", "save", "smtp_host", "smtp.acme.example", "smtp_security", "smtp"))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !r.has(`id="mail_from-error"`) || !r.has("needs your own sender") {
		t.Errorf("own server without a sender:\n%.3000s", r.body)
	}
	// A test email goes out now; a bad address is refused beside the field.
	wantRedirect(t, acme.browser.post("/dash/settings/email", form("action", "test", "to", "boss@acme.example")), "/dash/settings/email")
	if m := waitMail(t, mp, 1); m.Subject != "Test email from Acme Inc" || m.To[0].Address != "boss@acme.example" {
		t.Errorf("test email: %q to %v", m.Subject, m.To)
	}
	r = acme.browser.post("/dash/settings/email", form("action", "test", "to", "not-an-address"))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !r.has(`id="to-error"`) {
		t.Error("no error beside the test address")
	}
	// The server refuses: the page says so.
	mp.SetChaos(t, mailtest.Chaos{Recipient: mailtest.ChaosTrigger{ErrorCode: 550, Probability: 100}})
	r = acme.browser.post("/dash/settings/email", form("action", "test", "to", "boss@acme.example"))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !r.has(`id="test-result"`) || !r.has("refused the email") {
		t.Errorf("refused test email:\n%.3000s", r.body)
	}
	// A notification the server refuses for good is failed at once, on the list and on the
	// message.
	ann := e.onboard(acme, "Ann Agent")
	talk := e.engage(ann)
	wantStatus(t, ann.browser.post(talk+"/messages", form("message", "refused answer"), htmx), http.StatusOK)
	waitFor(t, "the failed email on the list", func() bool {
		r := acme.browser.get("/dash/settings/email")
		return r.has(`id="failed-emails"`) && r.has("carla@example.net") && r.has("550")
	})
	if r := ann.browser.get(talk); !r.has(`class="msg-email" id="email-`) || !r.has(`data-state="failed"`) {
		t.Errorf("the failed email is not shown on the message:\n%.4000s", r.body)
	}
	// Admins manage it; plain agents do not.
	if r := ann.browser.get("/dash/settings/email"); r.status != http.StatusForbidden {
		t.Errorf("an agent on the email settings: %d", r.status)
	}
	admin := e.onboard(acme, "Adam Admin")
	acme.browser.get("/dash")
	wantRedirect(t, acme.browser.post("/agents/"+e.agentID("acme", admin.email)+"/role", form("role", "admin")), "/dash")
	if r := admin.browser.get("/dash/settings/email"); r.status != http.StatusOK || !r.has(`value="`+admin.email+`"`) {
		t.Errorf("an admin on the email settings: %d", r.status)
	}
}

// Agents opt in to new-ticket emails on their dashboard.
func TestAgentOptsInToNewTicketEmails(t *testing.T) {
	e, mp := newMailEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	e.onboard(acme, "Bob Agent")
	r := ann.browser.get("/agent/acme/dash")
	if !r.has(`id="email-prefs"`) || r.has(`id="new_tickets" checked`) {
		t.Fatalf("agent dashboard:\n%.2000s", r.body)
	}
	wantRedirect(t, ann.browser.post("/agent/acme/email-prefs", form("new_tickets", "on")), "/agent/acme/dash")
	if r := ann.browser.get("/agent/acme/dash"); !r.has(`id="new_tickets" checked`) {
		t.Error("the choice is not kept")
	}
	e.openTicket("acme", "a brand new question")
	list := mp.WaitMessages(t, 2) // the acknowledgment and Ann's
	time.Sleep(300 * time.Millisecond)
	list = mp.Messages(t)
	var to []string
	for _, m := range list {
		to = append(to, m.To[0].Address)
	}
	if len(list) != 2 || !strings.Contains(strings.Join(to, " "), "ann.agent@acme.example") {
		t.Errorf("emails to %v, want the customer and Ann", to)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An agent's answer with a file, sent from the ticket page: the customer's email carries the
// file (its UTF-8 name, its sniffed type, its bytes) and the customer's own message's file
// never goes to anyone by email.
func TestAnswerEmailCarriesTheAgentsFile(t *testing.T) {
	e, mp := newMailEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	cust := e.openTicket("acme", "Please send the offer")
	waitMail(t, mp, 1) // the acknowledgment
	wantStatus(t, cust.browser.postFiles(cust.page+"/messages", form("message", "my photo"),
		[]upFile{{"customer-photo.txt", []byte("the customer's own file")}}), http.StatusSeeOther)
	talk := e.engage(ann)
	pdf := []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
	wantStatus(t, ann.browser.postFiles(talk+"/messages", form("message", "Here is the offer."),
		[]upFile{{"Angebot für Jürgen.pdf", pdf}}), http.StatusSeeOther)
	var answer mailtest.Message
	var raw []byte
	deadline := time.Now().Add(10 * time.Second)
	for answer.ID == "" && time.Now().Before(deadline) {
		for _, s := range mp.Messages(t) {
			if m := mp.Message(t, s.ID); strings.Contains(m.Text, "Here is the offer.") {
				answer, raw = m, mp.Raw(t, s.ID)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if answer.ID == "" {
		t.Fatal("no email of the answer")
	}
	if len(answer.Attachments) != 1 || answer.Attachments[0].FileName != "Angebot für Jürgen.pdf" ||
		answer.Attachments[0].ContentType != "application/pdf" || answer.Attachments[0].Size != uint64(len(pdf)) {
		t.Fatalf("the answer's attachments: %+v", answer.Attachments)
	}
	if !bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString(pdf)[:40])) {
		t.Error("the PDF's bytes are not in the email")
	}
	for _, s := range mp.Messages(t) {
		if bytes.Contains(mp.Raw(t, s.ID), []byte("customer-photo")) {
			t.Errorf("an email carries the customer's file: %s", s.Subject)
		}
	}
}
