package desk_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
	"github.com/tenantdesk/tenantdesk/sql/email/smtpout"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

const (
	mailDomain = "desk.example"
	publicURL  = "https://help.example"
)

// mailConfig is a server's email configuration sending through mp.
func mailConfig(t *testing.T, mp *mailtest.Mailpit) desk.MailConfig {
	t.Helper()
	cfg, err := smtpout.ParseURL("smtp://" + mp.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 5 * time.Second
	sealer, err := tenantdb.NewSealer(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return desk.MailConfig{Domain: mailDomain, PublicURL: publicURL, From: email.Address{Name: "Help", Address: "help@" + mailDomain},
		SMTP: &cfg, Inbound: true, Secret: bytes.Repeat([]byte{9}, 32), Sealer: sealer}
}

// mailTeam is a team whose Service sends email through a fresh mailpit.
func mailTeam(t *testing.T) (*team, *mailtest.Mailpit) {
	t.Helper()
	tm := newTeam(t)
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	if err := tm.svc.EnableMail(mailConfig(t, mp)); err != nil {
		t.Fatal(err)
	}
	return tm, mp
}

// mailbox is what mailpit received, per recipient, oldest first.
type received struct {
	mailtest.Message
	InReplyTo, References string
}

func inbox(t *testing.T, mp *mailtest.Mailpit, n int) map[string][]received {
	t.Helper()
	list := mp.WaitMessages(t, n)
	time.Sleep(200 * time.Millisecond)
	if list = mp.Messages(t); len(list) != n {
		var subjects []string
		for _, m := range list {
			subjects = append(subjects, m.To[0].Address+": "+m.Subject)
		}
		t.Fatalf("mailpit holds %d messages, want %d:\n%s", len(list), n, strings.Join(subjects, "\n"))
	}
	out := map[string][]received{}
	for i := len(list) - 1; i >= 0; i-- {
		m := mp.Message(t, list[i].ID)
		h := mp.Headers(t, list[i].ID)
		r := received{Message: m}
		if v := h["In-Reply-To"]; len(v) > 0 {
			r.InReplyTo = v[0]
		}
		if v := h["References"]; len(v) > 0 {
			r.References = v[0]
		}
		out[m.To[0].Address] = append(out[m.To[0].Address], r)
	}
	// Several outbox workers send at once, so mailpit's order is not the order the emails
	// were written in; each email chains every earlier one of its address, which is.
	for _, l := range out {
		sort.SliceStable(l, func(i, j int) bool {
			return strings.Count(l[i].References, "<") < strings.Count(l[j].References, "<")
		})
	}
	return out
}

var linkRE = regexp.MustCompile(regexp.QuoteMeta(publicURL) + `/customer/acme/t/(e1\.[A-Za-z0-9_.-]+)`)

// Who gets what: the customer the acknowledgment, each answer and the closing, never a note;
// agents a new ticket (opted in), an assignment by someone else, a mention, the customer's
// answer on their ticket. Threads chain, subjects keep one reference, names are encoded.
func TestNotificationsWhoGetsWhat(t *testing.T) {
	ctx := context.Background()
	tm, mp := mailTeam(t)
	org, maria, thomas, ann := tm.org, desk.AsAgent(tm.maria), desk.AsAgent(tm.thomas), desk.AsAgent(tm.ann)
	if err := tm.svc.SetNewTicketEmails(ctx, org, maria, true); err != nil {
		t.Fatal(err)
	}
	if on, err := tm.svc.NewTicketEmails(ctx, org, maria); err != nil || !on {
		t.Fatalf("Maria's new-ticket emails: %v, %v", on, err)
	}
	if err := tm.svc.SetNewTicketEmails(ctx, org, tm.owner(), true); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("the owner opting in as an agent: %v", err)
	}
	tk, token, err := tm.svc.OpenTicket(ctx, org, desk.AsPublic(), desk.NewTicket{CustomerName: "Jürgen Groß",
		CustomerEmail: "juergen@example.org", Query: "Re: Drucker brennt 🔥\nIt smokes."})
	if err != nil {
		t.Fatal(err)
	}
	cust := customerOf(token)
	conv := tk.ConversationID
	if _, err := tm.svc.Take(ctx, org, ann, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.AddMessage(ctx, org, ann, conv, "Unplug it, please."); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.AddNote(ctx, org, ann, conv, "SECRET-NOTE @thomas is this covered?"); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.AddMessage(ctx, org, cust, 0, "Done, it stopped."); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.Assign(ctx, org, maria, tk.ID, tm.thomas.ID); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.SetPriority(ctx, org, thomas, tk.ID, desk.PriorityHigh); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.AddMessage(ctx, org, thomas, conv, "Glad to hear it."); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.CloseTicket(ctx, org, thomas, tk.ID); err != nil {
		t.Fatal(err)
	}
	// Customer: ack, Ann's answer, Thomas's answer, closed. Maria: new ticket. Thomas:
	// mention, assigned. Ann: the customer's answer.
	box := inbox(t, mp, 8)
	want := map[string]int{"juergen@example.org": 4, "maria@acme.example": 1, "thomas@acme.example": 2, "ann@acme.example": 1}
	for addr, n := range want {
		if len(box[addr]) != n {
			t.Errorf("%s got %d emails, want %d", addr, len(box[addr]), n)
		}
	}
	custMails := box["juergen@example.org"]
	if len(custMails) != 4 {
		t.FailNow()
	}
	for i, m := range custMails {
		if m.Subject != "[#"+itoa(tk.ID)+"] Drucker brennt 🔥" {
			t.Errorf("customer email %d subject %q", i, m.Subject)
		}
		if m.To[0].Name != "Jürgen Groß" {
			t.Errorf("customer email %d To name %q", i, m.To[0].Name)
		}
		if !strings.HasSuffix(m.MessageID, "@"+mailDomain) {
			t.Errorf("customer email %d Message-ID %q", i, m.MessageID)
		}
		for _, leak := range []string{"SECRET-NOTE", "priority", "assigned", "thomas@", "ann@", "+a"} {
			if strings.Contains(m.Text, leak) || strings.Contains(m.HTML, leak) {
				t.Errorf("customer email %d holds %q:\n%s", i, leak, m.Text)
			}
		}
		if len(m.ReplyTo) != 1 || !strings.HasPrefix(m.ReplyTo[0].Address, "acme+c"+itoa(tk.ID)+"-") ||
			!strings.HasSuffix(m.ReplyTo[0].Address, "@"+mailDomain) {
			t.Errorf("customer email %d Reply-To %v", i, m.ReplyTo)
		}
		if !linkRE.MatchString(m.Text) || !strings.Contains(m.HTML, `href="`+publicURL+`/customer/acme/t/e1.`) {
			t.Errorf("customer email %d has no link under PUBLIC_URL:\n%s", i, m.Text)
		}
		if i == 0 {
			if m.InReplyTo != "" {
				t.Errorf("the first email replies to %q", m.InReplyTo)
			}
			continue
		}
		prev := custMails[i-1].MessageID
		if m.InReplyTo != "<"+prev+">" || !strings.HasPrefix(m.References, "<"+custMails[0].MessageID+">") ||
			!strings.HasSuffix(m.References, "<"+prev+">") {
			t.Errorf("customer email %d: In-Reply-To %q, References %q; want the chain ending in %q", i, m.InReplyTo, m.References, prev)
		}
	}
	if !strings.Contains(custMails[1].Text, "Unplug it, please.") || !strings.Contains(custMails[2].Text, "Glad to hear it.") ||
		!strings.Contains(custMails[3].Text, "is closed") || !strings.Contains(custMails[0].Text, "It smokes.") {
		t.Errorf("customer emails' texts:\n%s\n---\n%s\n---\n%s\n---\n%s", custMails[0].Text, custMails[1].Text, custMails[2].Text, custMails[3].Text)
	}
	if m := box["thomas@acme.example"]; len(m) == 2 && (!strings.Contains(m[0].Text, "SECRET-NOTE") ||
		!strings.Contains(m[1].Text, "assigned ticket") || !strings.HasPrefix(m[0].ReplyTo[0].Address, "acme+a"+itoa(tk.ID)+"-"+itoa(tm.thomas.ID)+"-")) {
		t.Errorf("Thomas's emails: %q / %q, Reply-To %v", m[0].Text, m[1].Text, m[0].ReplyTo)
	}
	if m := box["ann@acme.example"]; len(m) == 1 && !strings.Contains(m[0].Text, "Done, it stopped.") {
		t.Errorf("Ann's email: %q", m[0].Text)
	}
	if m := box["maria@acme.example"]; len(m) == 1 && (!strings.Contains(m[0].Text, "It smokes.") ||
		!strings.Contains(m[0].Text, publicURL+"/agent/acme/talk/"+itoa(conv))) {
		t.Errorf("Maria's email: %q", m[0].Text)
	}

	// The link of the latest email opens the ticket for the customer; once the access is
	// rotated it does not, nor does the old token.
	link := linkRE.FindStringSubmatch(custMails[3].Text)[1]
	if u, err := url.PathUnescape(link); err != nil || u != link {
		t.Fatalf("link %q is not a plain path segment", link)
	}
	linked, err := tm.svc.LinkActor(org, link)
	if err != nil {
		t.Fatal(err)
	}
	if th, err := tm.svc.Thread(ctx, org, linked, 0, 50); err != nil || th.Ticket.ID != tk.ID || !th.May.Rate {
		t.Fatalf("the link's thread: %+v, %v", th.Ticket, err)
	}
	if err := tm.svc.RotateAccess(ctx, org, cust, tk.ID); !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("the customer rotating its own access: %v", err)
	}
	if err := tm.svc.RotateAccess(ctx, org, ann, tk.ID); err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]desk.Actor{"signed link": linked, "token": cust} {
		if _, err := tm.svc.Thread(ctx, org, a, 0, 50); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("the %s after the rotation: %v", name, err)
		}
	}
	// Altered, foreign or malformed links open nothing.
	for _, bad := range []string{link[:len(link)-1] + "A", strings.Replace(link, "e1."+itoa(tk.ID), "e1."+itoa(tk.ID+1), 1), "e1.1.0.99999999999.x", "e1", ""} {
		if _, err := tm.svc.LinkActor(org, bad); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("LinkActor(%q) = %v", bad, err)
		}
	}
	other := *org
	other.ID, other.DBName = org.ID+1, "tenantdesk-other"
	if _, err := tm.svc.LinkActor(&other, link); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("another organization's link: %v", err)
	}
}

// The organization turns the acknowledgment off; an organization with its own SMTP server
// and sender sends through it (the password stored sealed, never shown); a test email goes
// out at once.
func TestEmailSettings(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	cert := mailtest.NewCert(t)
	cfg := mailConfig(t, mp)
	cfg.RootCAs = cert.Pool
	if err := tm.svc.EnableMail(cfg); err != nil {
		t.Fatal(err)
	}
	org := tm.org
	st, err := tm.svc.EmailSettings(ctx, org, tm.owner())
	if err != nil || !st.On || !st.Sending || !st.AutoAck || st.Address != "acme@"+mailDomain || st.SMTP != nil {
		t.Fatalf("defaults: %+v, %v", st, err)
	}
	if _, err := tm.svc.EmailSettings(ctx, org, desk.AsAgent(tm.ann)); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("an agent reading the email settings: %v", err)
	}
	if _, err := tm.svc.EmailSettings(ctx, org, desk.AsAgent(tm.maria)); err != nil {
		t.Errorf("an admin reading the email settings: %v", err)
	}
	if err := tm.svc.SetEmailSettings(ctx, org, tm.owner(), desk.EmailSettingsInput{AutoAck: false}); err != nil {
		t.Fatal(err)
	}
	tk, _, err := tm.svc.OpenTicket(ctx, org, desk.AsPublic(), desk.NewTicket{CustomerName: "C", CustomerEmail: "c@example.org", Query: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.AddMessage(ctx, org, desk.AsAgent(tm.ann), tk.ConversationID, "answer"); err != nil {
		t.Fatal(err)
	}
	if box := inbox(t, mp, 1); len(box["c@example.org"]) != 1 || !strings.Contains(box["c@example.org"][0].Text, "answer") {
		t.Fatalf("with the acknowledgment off the customer got: %+v", box)
	}

	// Its own server, with a password.
	own := mailtest.StartMailpit(t, mailtest.MailpitOptions{Cert: cert, RequireSTARTTLS: true, Users: map[string]string{"acme": "s3cret-pa%ss"}})
	host, port := splitHostPort(t, own.SMTPAddr)
	in := desk.EmailSettingsInput{AutoAck: true, From: "Acme <support@acme.example>",
		SMTP: &desk.SMTPSettings{Security: smtpout.StartTLSRequired, Host: host, Port: port, Username: "acme", Password: "s3cret-pa%ss"}}
	bad := in
	bad.From = ""
	if err := tm.svc.SetEmailSettings(ctx, org, tm.owner(), bad); fieldOf(err) != "mail_from" {
		t.Errorf("own SMTP without a sender: %v", err)
	}
	badHost := in
	badHost.SMTP = &desk.SMTPSettings{Host: "bad host!", Port: 25}
	if err := tm.svc.SetEmailSettings(ctx, org, tm.owner(), badHost); fieldOf(err) != "smtp_host" {
		t.Errorf("a bad host: %v", err)
	}
	if err := tm.svc.SetEmailSettings(ctx, org, desk.AsAgent(tm.ann), in); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("an agent saving the email settings: %v", err)
	}
	if err := tm.svc.SetEmailSettings(ctx, org, tm.owner(), in); err != nil {
		t.Fatal(err)
	}
	st, err = tm.svc.EmailSettings(ctx, org, tm.owner())
	if err != nil || st.SMTP == nil || !st.SMTP.HasPassword || st.SMTP.Password != "" || st.SMTP.Host != host || st.From.Address != "support@acme.example" {
		t.Fatalf("own SMTP: %+v %+v, %v", st, st.SMTP, err)
	}
	// Saved again without a password: the stored one stays.
	in.SMTP.Password = ""
	if err := tm.svc.SetEmailSettings(ctx, org, tm.owner(), in); err != nil {
		t.Fatal(err)
	}
	h, err := tm.reg.Acquire(ctx, *org)
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	err = h.DB.QueryRowContext(ctx, "SELECT CAST(group_concat(value, ' ') AS BLOB) FROM settings").Scan(&stored)
	h.Release()
	if err != nil || strings.Contains(stored, "s3cret") || !strings.Contains(stored, "v1:") {
		t.Fatalf("stored settings %q, %v: the password must be sealed", stored, err)
	}
	// Each save that changed something is audited, naming the settings, never their values;
	// the save that changed nothing is not.
	entries, err := tm.svc.AuditLog(ctx, org, tm.owner(), desk.AuditQuery{Category: "settings"})
	if err != nil {
		t.Fatal(err)
	}
	var settings []string
	for _, e := range entries {
		if strings.Contains(fmt.Sprint(e.Detail), "s3cret") || strings.Contains(fmt.Sprint(e.Detail), "acme.example") {
			t.Errorf("audit entry with a value: %+v", e.Detail)
		}
		settings = append(settings, e.Detail["setting"])
	}
	if want := []string{"email.auto_ack, email.from, email.smtp", "email.auto_ack"}; !slices.Equal(settings, want) {
		t.Errorf("audited email settings %q, want %q", settings, want)
	}
	if problem, err := tm.svc.SendTestEmail(ctx, org, tm.owner(), "boss@acme.example"); err != nil || problem != "" {
		t.Fatalf("test email: %q, %v", problem, err)
	}
	got := own.WaitMessages(t, 1)
	if got[0].Subject != "Test email from Acme" || got[0].From.Address != "support@acme.example" {
		t.Errorf("test email: %+v", got[0])
	}
	// Notifications go through it too.
	if _, err := tm.svc.AddMessage(ctx, org, desk.AsAgent(tm.ann), tk.ConversationID, "second answer"); err != nil {
		t.Fatal(err)
	}
	got = own.WaitMessages(t, 2)
	if got[0].Subject != "[#"+itoa(tk.ID)+"] q" || got[0].From.Address != "support@acme.example" {
		t.Errorf("a notification through the organization's server: %+v", got[0])
	}
	// A wrong password: the test says why.
	in.SMTP.Password = "wrong"
	if err := tm.svc.SetEmailSettings(ctx, org, tm.owner(), in); err != nil {
		t.Fatal(err)
	}
	problem, err := tm.svc.SendTestEmail(ctx, org, tm.owner(), "boss@acme.example")
	if err != nil || !strings.Contains(problem, "cannot be used as configured") || strings.Contains(problem, "wrong") {
		t.Errorf("test email with a wrong password: %q, %v", problem, err)
	}
	if _, err := tm.svc.SendTestEmail(ctx, org, tm.owner(), "not an address"); fieldOf(err) != "to" {
		t.Errorf("test email to a bad address: %v", err)
	}
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	return addr[:i], port
}

// The signed link and reply tag parsers read exactly what the formatters write.
func TestSignedLinkAndReplyTagShapes(t *testing.T) {
	l := desk.SignedLink{Ticket: 42, Access: 0, Expires: 1900000000, MAC: strings.Repeat("A", 32)}
	if got, ok := desk.ParseSignedLink(desk.FormatSignedLink(l)); !ok || got != l {
		t.Errorf("round trip of %+v: %+v, %v", l, got, ok)
	}
	for _, bad := range []string{"e1.042.0.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "e1.1.00.1." + strings.Repeat("A", 32), "e1.0.0.1." + strings.Repeat("A", 32),
		"e1.1.0.1." + strings.Repeat("A", 31), "e1.1.0.1." + strings.Repeat("=", 32), "e1.1.0." + strings.Repeat("A", 32), "E1.1.0.1." + strings.Repeat("A", 32)} {
		if _, ok := desk.ParseSignedLink(bad); ok {
			t.Errorf("ParseSignedLink(%q) accepted", bad)
		}
	}
	for _, tag := range []desk.ReplyTag{{Ticket: 7, MAC: strings.Repeat("a", 16)}, {Ticket: 7, Agent: 3, MAC: strings.Repeat("b2", 9)}} {
		if got, ok := desk.ParseReplyTag(desk.FormatReplyTag(tag)); !ok || got != tag {
			t.Errorf("round trip of %+v: %+v, %v", tag, got, ok)
		}
	}
	for _, bad := range []string{"c7-" + strings.Repeat("a", 15), "c07-" + strings.Repeat("a", 16), "x7-" + strings.Repeat("a", 16),
		"a7-" + strings.Repeat("a", 16), "c7-" + strings.Repeat("A", 16), "c7-" + strings.Repeat("1", 16)} {
		if _, ok := desk.ParseReplyTag(bad); ok {
			t.Errorf("ParseReplyTag(%q) accepted", bad)
		}
	}
	if !desk.IsSignedLink("e1.x") || desk.IsSignedLink(strings.Repeat("A", 43)) {
		t.Error("IsSignedLink")
	}
}

// fieldOf is the field an apperr is about ("" for another error).
func fieldOf(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Field
	}
	return ""
}
