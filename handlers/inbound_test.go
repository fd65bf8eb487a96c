package handlers_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/handlers"
	"github.com/tenantdesk/tenantdesk/handlers/email/smtpin"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
)

// receiver runs the built-in SMTP receiver on e's desk and returns its address.
func (e *env) receiver(maxBytes int64) string {
	e.t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := smtpin.New(smtpin.Config{Domain: testMailDomain, MaxMessageBytes: maxBytes, SenderRate: 600, SenderBurst: 200,
		AddrRate: 6000, AddrBurst: 2000, Logger: log}, handlers.NewInbound(e.cat, e.desk, log))
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go srv.Serve(ln)
	e.t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// mail is an email to send: its envelope and its header and body lines.
type mail struct {
	from, to string
	header   []string
	body     string
}

func (m mail) raw() []byte {
	h := append([]string{"From: " + m.from, "To: " + m.to, "Date: " + time.Now().UTC().Format(time.RFC1123Z)}, m.header...)
	has := func(name string) bool {
		for _, l := range h {
			if strings.HasPrefix(strings.ToLower(l), strings.ToLower(name)+":") {
				return true
			}
		}
		return false
	}
	if !has("Message-ID") {
		h = append(h, fmt.Sprintf("Message-ID: <%d.%s@customer.example>", time.Now().UnixNano(), randomToken()[:8]))
	}
	if !has("Subject") {
		h = append(h, "Subject: Hello")
	}
	return []byte(strings.Join(h, "\r\n") + "\r\n\r\n" + strings.ReplaceAll(m.body, "\n", "\r\n") + "\r\n")
}

// send delivers m to the receiver at addr with Go's SMTP client and returns the SMTP code of
// a refusal (0: accepted).
func send(t *testing.T, addr string, m mail) int {
	t.Helper()
	address := m.from
	if i := strings.LastIndexByte(address, '<'); i >= 0 {
		address = strings.Trim(address[i:], "<>")
	}
	to := m.to
	if i := strings.LastIndexByte(to, '<'); i >= 0 {
		to = strings.Trim(to[i:], "<>")
	}
	err := smtp.SendMail(addr, nil, address, []string{to}, m.raw())
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code
	}
	if err != nil {
		t.Fatalf("sending to %s: %v", to, err)
	}
	return 0
}

var replyToRE = regexp.MustCompile(`^acme\+c\d+-[a-z2-7]+@` + regexp.QuoteMeta(testMailDomain) + `$`)

// Mail opens tickets and threads into them: by reply address, by In-Reply-To, by the [#ref] of
// the ticket's contact; quoted history is trimmed (and kept in the original); replies reopen
// a pending ticket and follow up a closed one; an agent answers by replying to its
// notification.
func TestInboundMailOpensAndThreads(t *testing.T) {
	e, mp := newMailEnv(t)
	addr := e.receiver(1 << 20)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	ann.browser.get("/agent/acme/dash")
	wantStatus(t, ann.browser.post("/agent/acme/email-prefs", form("new_tickets", "on")), http.StatusSeeOther)

	if code := send(t, addr, mail{from: "Carla Customer <carla@example.net>", to: "acme@" + testMailDomain,
		header: []string{"Subject: =?UTF-8?Q?Drucker_brennt_=F0=9F=94=A5?="}, body: "My printer is on fire."}); code != 0 {
		t.Fatalf("mail to the organization: %d", code)
	}
	// The acknowledgment and Ann's new-ticket email.
	mp.WaitMessages(t, 2)
	var ack mailtest.Message
	for _, s := range mp.Messages(t) {
		if m := mp.Message(t, s.ID); m.To[0].Address == "carla@example.net" {
			ack = m
		}
	}
	if ack.Subject != "[#1] Drucker brennt 🔥" || len(ack.ReplyTo) != 1 || !replyToRE.MatchString(ack.ReplyTo[0].Address) {
		t.Fatalf("acknowledgment: subject %q, Reply-To %v", ack.Subject, ack.ReplyTo)
	}
	r := ann.browser.get("/agent/acme/dash")
	if !r.has("Carla Customer") || !r.has("My printer is on fire.") {
		t.Fatalf("the emailed ticket is not in the queue:\n%.2000s", r.body)
	}
	talk := e.engage(ann)

	// A reply to the acknowledgment's reply address, quoting it.
	if code := send(t, addr, mail{from: "carla@example.net", to: ack.ReplyTo[0].Address,
		header: []string{"Subject: Re: [#1] Drucker brennt", "In-Reply-To: <" + ack.MessageID + ">"},
		body:   "It stopped by itself.\n\nOn Mon, 1 Jan 2026 at 10:00, Acme <help@mail.test> wrote:\n> ##- Please type your reply above this line -##\n> We received your question."}); code != 0 {
		t.Fatalf("reply: %d", code)
	}
	r = ann.browser.get(talk)
	if !r.has("It stopped by itself.") || r.has("We received your question") {
		t.Fatalf("the reply, trimmed, is not on the ticket:\n%.4000s", r.body)
	}
	original := regexp.MustCompile(`href="(/agent/acme/emails/\d+)">by email: the original`).FindAllStringSubmatch(r.body, -1)
	if len(original) != 2 {
		t.Fatalf("links to the originals: %v", original)
	}
	if o := ann.browser.get(original[1][1]); o.status != http.StatusOK || !o.has("We received your question") || !o.has("carla@example.net") {
		t.Errorf("the original keeps the quoted history: %d\n%.2000s", o.status, o.body)
	}

	// Threading by In-Reply-To alone (sent to the organization's address), and by [#1] from
	// the contact; the same [#1] from someone else opens a ticket of its own.
	send(t, addr, mail{from: "carla@example.net", to: "acme@" + testMailDomain,
		header: []string{"Subject: something else", "References: <unknown@x> <" + ack.MessageID + ">"}, body: "Threaded by References."})
	send(t, addr, mail{from: "CARLA@example.net", to: "acme@" + testMailDomain, header: []string{"Subject: about [#1]"}, body: "Threaded by reference."})
	send(t, addr, mail{from: "mallory@example.org", to: "acme@" + testMailDomain, header: []string{"Subject: about [#1]"}, body: "Not Carla's ticket."})
	r = ann.browser.get(talk)
	if !r.has("Threaded by References.") || !r.has("Threaded by reference.") || r.has("Not Carla") {
		t.Fatalf("threading:\n%.4000s", r.body)
	}
	if r := ann.browser.get("/agent/acme/dash?view=all"); !r.has("Not Carla") {
		t.Error("mail with another's reference did not open a ticket of its own")
	}

	// Ann answers; her notification of Carla's next answer carries her own reply address, and
	// replying to it from her address answers Carla as Ann.
	wantStatus(t, ann.browser.post(talk+"/messages", form("message", "Good to hear."), htmx), http.StatusOK)
	send(t, addr, mail{from: "carla@example.net", to: ack.ReplyTo[0].Address, body: "One more thing."})
	var note mailtest.Message
	waitFor(t, "Ann's notification of Carla's answer", func() bool {
		for _, s := range mp.Messages(t) {
			if m := mp.Message(t, s.ID); m.To[0].Address == ann.email && strings.Contains(m.Text, "One more thing.") {
				note = m
				return true
			}
		}
		return false
	})
	agentReply := note.ReplyTo[0].Address
	if !strings.HasPrefix(agentReply, "acme+a1-") {
		t.Fatalf("Ann's reply address %q", agentReply)
	}
	if code := send(t, addr, mail{from: "mallory@example.org", to: agentReply, body: "I am Ann, honest."}); code != 554 {
		t.Errorf("someone else at Ann's reply address: %d, want 554", code)
	}
	if code := send(t, addr, mail{from: "Ann Agent <" + ann.email + ">", to: agentReply, body: "Answered by email."}); code != 0 {
		t.Fatalf("Ann's email reply: %d", code)
	}
	r = ann.browser.get(talk)
	if !r.has("Answered by email.") || r.has("I am Ann") {
		t.Fatalf("Ann's email reply:\n%.4000s", r.body)
	}
	waitFor(t, "Carla's email with Ann's emailed answer", func() bool {
		for _, s := range mp.Messages(t) {
			if m := mp.Message(t, s.ID); m.To[0].Address == "carla@example.net" && strings.Contains(m.Text, "Answered by email.") {
				return true
			}
		}
		return false
	})

	// Pending: Carla's reply reopens it. Closed: her reply opens a follow-up.
	ticket := regexp.MustCompile(`/tickets/(\d+)/status`).FindStringSubmatch(r.body)[1]
	wantRedirect(t, ann.browser.post("/agent/acme/tickets/"+ticket+"/status", form("status", "pending")), talk)
	send(t, addr, mail{from: "carla@example.net", to: ack.ReplyTo[0].Address, body: "Still there?"})
	if r := ann.browser.get(talk); !r.has(`id="ticket-status">open`) {
		t.Errorf("a reply did not reopen the pending ticket:\n%.1500s", r.body)
	}
	wantRedirect(t, ann.browser.post("/agent/acme/tickets/"+ticket+"/close", nil), talk)
	send(t, addr, mail{from: "carla@example.net", to: ack.ReplyTo[0].Address, body: "It is on fire again."})
	if r := ann.browser.get(talk); r.has(`class="msg-body">It is on fire again.`) {
		t.Error("a reply was added to the closed ticket")
	}
	r = ann.browser.get("/agent/acme/dash?view=all")
	if !r.has("It is on fire again.") {
		t.Fatalf("no follow-up ticket:\n%.3000s", r.body)
	}
	// The next reply to the closed ticket joins that follow-up: no third ticket.
	tickets := func() int {
		org, err := e.cat.Lookup(t.Context(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, view := range []string{desk.ViewAll, desk.ViewClosed} {
			q, err := e.desk.Queue(t.Context(), org, desk.AsOwner(org.Name), desk.QueueQuery{View: view, Priority: -1, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			n += len(q)
		}
		return n
	}
	before := tickets()
	send(t, addr, mail{from: "carla@example.net", to: ack.ReplyTo[0].Address, body: "Still burning."})
	if n := tickets(); n != before {
		t.Errorf("a second reply to the closed ticket made %d tickets of %d", n, before)
	}
	newest := 0
	for _, m := range regexp.MustCompile(`/agent/acme/talk/(\d+)`).FindAllStringSubmatch(ann.browser.get("/agent/acme/dash?view=all").body, -1) {
		if id, _ := strconv.Atoi(m[1]); id > newest {
			newest = id
		}
	}
	followUp := ann.browser.get("/agent/acme/talk/" + strconv.Itoa(newest))
	if !followUp.has("It is on fire again.") || !followUp.has("Still burning.") {
		t.Errorf("the follow-up lacks the second reply:\n%.4000s", followUp.body)
	}
	// Ann answering the closed ticket's notification by email answers in its follow-up, and
	// never opens a ticket with herself as the customer.
	if code := send(t, addr, mail{from: "Ann Agent <" + ann.email + ">", to: agentReply, body: "Answered in the old thread."}); code != 0 {
		t.Fatalf("Ann's reply to the closed ticket: %d", code)
	}
	if n := tickets(); n != before {
		t.Errorf("Ann's reply to the closed ticket made %d tickets of %d", n, before)
	}
	if r := ann.browser.get("/agent/acme/talk/" + strconv.Itoa(newest)); !r.has("Answered in the old thread.") {
		t.Errorf("Ann's reply is not in the follow-up:\n%.4000s", r.body)
	}
}

// Hostile and broken mail: unknown recipients and forged tags 550, too large 552, our own
// mail dropped, automatic mail stored but never answered, duplicates stored once, HTML-only
// mail as safe text, broken MIME still read.
func TestInboundHostileAndBrokenMail(t *testing.T) {
	e, mp := newMailEnv(t)
	addr := e.receiver(64 << 10)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	for _, to := range []string{"nobody@" + testMailDomain, "acme+c1-" + strings.Repeat("a", 20) + "@" + testMailDomain,
		"acme@other.example", "acme+garbage@" + testMailDomain} {
		if code := send(t, addr, mail{from: "x@example.org", to: to, body: "hello"}); code != 550 {
			t.Errorf("mail to %s: %d, want 550", to, code)
		}
	}
	if code := send(t, addr, mail{from: "x@example.org", to: "acme@" + testMailDomain, body: strings.Repeat(strings.Repeat("large ", 15)+"\n", 1000)}); code != 552 {
		t.Errorf("a message over the limit: %d, want 552", code)
	}
	// Our own notification coming back: accepted, dropped.
	if code := send(t, addr, mail{from: "help@" + testMailDomain, to: "acme@" + testMailDomain,
		header: []string{"X-Tenantdesk-Loop: " + testMailDomain}, body: "loop"}); code != 0 {
		t.Errorf("our own mail: %d", code)
	}
	// An out-of-office reply opens a ticket without an acknowledgment.
	send(t, addr, mail{from: "away@example.org", to: "acme@" + testMailDomain,
		header: []string{"Auto-Submitted: auto-replied", "Subject: Out of office"}, body: "I am away until Monday."})
	// The same message twice: one ticket.
	dup := mail{from: "dup@example.org", to: "acme@" + testMailDomain, header: []string{"Message-ID: <same-one@example.org>"}, body: "Sent twice."}
	send(t, addr, dup)
	send(t, addr, dup)
	// HTML only, with a script and markup.
	send(t, addr, mail{from: "html@example.org", to: "acme@" + testMailDomain,
		header: []string{"MIME-Version: 1.0", "Content-Type: text/html; charset=utf-8"},
		body:   `<p>Hello <b>team</b></p><script>alert(1)</script><img src=x onerror=alert(2)>`})
	// Broken MIME: a multipart without its boundary.
	send(t, addr, mail{from: "broken@example.org", to: "acme@" + testMailDomain,
		header: []string{"MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=\"nowhere\""}, body: "Broken but readable."})

	r := ann.browser.get("/agent/acme/dash?view=all")
	for _, want := range []string{"I am away until Monday.", "Sent twice.", "Hello", "Broken but readable."} {
		if !r.has(want) {
			t.Errorf("the queue lacks %q", want)
		}
	}
	if n := strings.Count(r.body, "Sent twice."); n != 1 {
		t.Errorf("the duplicate opened %d tickets", n)
	}
	if r.has("loop") || r.has("<script>alert") || r.has("onerror=alert") {
		t.Errorf("the queue shows what it must not:\n%.4000s", r.body)
	}
	// Acknowledgments went to the people, not to the auto-reply, not to ourselves.
	time.Sleep(500 * time.Millisecond)
	for _, s := range mp.Messages(t) {
		switch s.To[0].Address {
		case "away@example.org", "help@" + testMailDomain:
			t.Errorf("an acknowledgment went to %s", s.To[0].Address)
		}
	}
	if n := len(mp.Messages(t)); n != 3 {
		t.Errorf("%d acknowledgments, want 3 (dup, html, broken)", n)
	}
}

// The tenant of an email is only ever the one whose address it came to: another
// organization's reply tag, Message-IDs or ticket reference reach nothing there, and its
// database is never opened.
func TestInboundIsolation(t *testing.T) {
	e, mp := newMailEnv(t)
	addr := e.receiver(1 << 20)
	alpha := e.register("alpha")
	e.register("beta")
	send(t, addr, mail{from: "bea@example.net", to: "beta@" + testMailDomain, body: "beta secret question"})
	ack := waitMail(t, mp, 1)
	betaTag := strings.TrimPrefix(strings.Split(ack.ReplyTo[0].Address, "@")[0], "beta+")

	e2 := e.restart()
	addr = e2.receiver(1 << 20)
	alpha.browser.on(e2)
	// Beta's reply tag at alpha's mailbox.
	if code := send(t, addr, mail{from: "bea@example.net", to: "alpha+" + betaTag + "@" + testMailDomain, body: "intrusion by tag"}); code != 550 {
		t.Errorf("beta's tag at alpha: %d, want 550", code)
	}
	// Beta's Message-ID and ticket reference, from beta's customer, to alpha.
	send(t, addr, mail{from: "bea@example.net", to: "alpha@" + testMailDomain,
		header: []string{"In-Reply-To: <" + ack.MessageID + ">", "Subject: Re: [#1] beta secret question"}, body: "intrusion by thread"})
	if e2.reg.IsOpen("tenantdesk-beta") {
		t.Fatal("mail to alpha opened beta's database")
	}
	r := alpha.browser.get("/dash?view=all")
	if !r.has("intrusion by thread") || r.has("beta secret") {
		t.Fatalf("alpha's queue:\n%.3000s", r.body)
	}
	// It is a new ticket of alpha's, not a message on alpha's ticket 1 (there is none).
	if n := len(regexp.MustCompile(`id="ticket-\d+"`).FindAllString(r.body, -1)); n != 1 {
		t.Errorf("alpha has %d tickets, want 1", n)
	}
}

// An organization connects its own mailbox on the settings page: what it held then is left
// alone, new mail there opens tickets, and the page shows the import and its problems.
func TestIMAPMailboxFromTheSettingsPage(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	mc := mailConfig(t, mp.SMTPAddr)
	mc.PollEvery, mc.PollTimeout = time.Second, 5*time.Second
	e := startEnv(t, t.TempDir(), testConfig(), mc)
	acme := e.register("acme")
	dc := mailtest.StartDovecot(t)
	user := dc.Users[0]
	dc.Deliver(t, user.Name, "", []byte("From: old@example.org\r\nTo: support@acme.example\r\nSubject: Old\r\nMessage-ID: <old.1@example.org>\r\n\r\nAlready there before.\r\n"))
	time.Sleep(1100 * time.Millisecond) // the server's dates are whole seconds
	acme.browser.get("/dash/settings/email")
	wantRedirect(t, acme.browser.post("/dash/settings/email", form("action", "save", "auto_ack", "on", "smtp_security", "smtp",
		"imap_security", "none", "imap_host", dc.Host, "imap_port", fmt.Sprint(dc.IMAPPort), "imap_user", user.Name,
		"imap_password", user.Password)), "/dash/settings/email")
	waitFor(t, "the first poll", func() bool {
		return acme.browser.get("/dash/settings/email").has("last polled")
	})
	dc.Deliver(t, user.Name, "", []byte("From: Nina <nina@example.org>\r\nTo: support@acme.example\r\nSubject: From the mailbox\r\n"+
		"Message-ID: <new.1@example.org>\r\n\r\nThis came through IMAP.\r\n"))
	waitFor(t, "the imported message on the dashboard", func() bool {
		return acme.browser.get("/dash").has("This came through IMAP.")
	})
	r := acme.browser.get("/dash?view=all")
	if r.has("Already there before.") {
		t.Error("the mailbox's earlier message was imported")
	}
	if r := acme.browser.get("/dash/settings/email"); !r.has("1 imported") || r.has(`id="imap-problem"`) {
		t.Errorf("the settings page after an import:\n%.3000s", r.body)
	}
	waitFor(t, "Nina's acknowledgment", func() bool {
		for _, s := range mp.Messages(t) {
			if s.To[0].Address == "nina@example.org" {
				return true
			}
		}
		return false
	})
	// A wrong password: the page says what went wrong.
	wantRedirect(t, acme.browser.post("/dash/settings/email", form("action", "save", "auto_ack", "on", "smtp_security", "smtp",
		"imap_security", "none", "imap_host", dc.Host, "imap_port", fmt.Sprint(dc.IMAPPort), "imap_user", user.Name,
		"imap_password", "wrong password")), "/dash/settings/email")
	waitFor(t, "the problem on the settings page", func() bool {
		return acme.browser.get("/dash/settings/email").has(`id="imap-problem"`)
	})
}

// An email with an inline image (cid:) and an attached PDF, through the SMTP receiver: the
// ticket's page shows the image as an image and links the PDF (a[data-attachment]); both
// download as they were sent (the image inline, the PDF as an attachment with its UTF-8 name);
// the customer's page has them too.
func TestInboundMailAttachments(t *testing.T) {
	e, mp := newMailEnv(t)
	addr := e.receiver(1 << 20)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	raw, err := os.ReadFile(filepath.Join("..", "sql", "desk", "testdata", "inline-and-attached.eml"))
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte("To: acme@desk.example"), []byte("To: acme@"+testMailDomain), 1)
	if err := smtp.SendMail(addr, nil, "carla@example.com", []string{"acme@" + testMailDomain}, raw); err != nil {
		t.Fatal(err)
	}
	talk := e.engage(ann)
	r := ann.browser.get(talk)
	links := attachmentLinks(r.body)
	if len(links) != 2 || !r.has(`<img class="msg-image" src="`+links[0]+`"`) && !r.has(`<img class="msg-image" src="`+links[1]+`"`) {
		t.Fatalf("the ticket's files: %v\n%.4000s", links, r.body)
	}
	if !r.has("Rechnung März.pdf") || !r.has("empty.txt (0 bytes): empty") {
		t.Errorf("the page lacks the PDF's name or the left-out file:\n%.4000s", r.body)
	}
	pdf := []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"), make([]byte, 64)...)
	types := map[string]bool{}
	for _, l := range links {
		d := ann.browser.get(l)
		ct := d.header.Get("Content-Type")
		types[ct] = true
		switch {
		case strings.HasPrefix(ct, "image/png") && d.body == string(png) && strings.HasPrefix(d.header.Get("Content-Disposition"), "inline"):
		case d.body == string(pdf) && strings.Contains(d.header.Get("Content-Disposition"), "attachment") &&
			strings.Contains(d.header.Get("Content-Disposition"), "Rechnung%20M%C3%A4rz.pdf"):
		default:
			t.Errorf("%s: %d %s, %d bytes", l, d.status, ct, len(d.body))
		}
	}
	if len(types) != 2 {
		t.Errorf("download types: %v", types)
	}
	// The customer's page (the link of the acknowledgment) lists the same files.
	var ack mailtest.Message
	for _, s := range mp.WaitMessages(t, 1) {
		if m := mp.Message(t, s.ID); m.To[0].Address == "carla@example.com" {
			ack = m
		}
	}
	page := regexp.MustCompile(`/customer/acme/t/[A-Za-z0-9_.-]+`).FindString(ack.Text)
	if page == "" {
		t.Fatalf("no ticket link in the acknowledgment:\n%s", ack.Text)
	}
	c := e.client()
	cr := c.get(page)
	for cr.status == http.StatusSeeOther {
		cr = c.get(cr.header.Get("Location"))
	}
	if got := attachmentLinks(cr.body); len(got) != 2 {
		t.Fatalf("the customer's page lists %d files:\n%.3000s", len(got), cr.body)
	}
	for _, l := range attachmentLinks(cr.body) {
		if d := c.get(l); d.status != http.StatusOK || d.body != string(png) && d.body != string(pdf) {
			t.Errorf("the customer's %s: %d", l, d.status)
		}
	}
}
