package desk_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/imapin"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
)

// rawMail is a small email from sender.
func rawMail(sender, subject, body string) []byte {
	return []byte(fmt.Sprintf("From: %s\r\nTo: support@acme.example\r\nSubject: %s\r\nMessage-ID: <%d.%s@sender.example>\r\n"+
		"Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\n%s\r\n", sender, subject, time.Now().UnixNano(), strings.ReplaceAll(sender, "@", "."), body))
}

// tickets counts org's tickets.
func (tm *team) tickets(t *testing.T, org *catalog.Organization) []desk.Ticket {
	t.Helper()
	var out []desk.Ticket
	for _, view := range []string{desk.ViewAll, desk.ViewClosed} {
		q, err := tm.svc.Queue(context.Background(), org, desk.AsOwner(org.Name), desk.QueueQuery{View: view, Priority: -1, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, q...)
	}
	return out
}

// mailbox returns org's mailbox status.
func (tm *team) mailbox(t *testing.T, org *catalog.Organization) desk.MailboxStatus {
	t.Helper()
	st, err := tm.svc.EmailSettings(context.Background(), org, desk.AsOwner(org.Name))
	if err != nil || st.Mailbox == nil {
		t.Fatalf("mailbox status: %+v, %v", st, err)
	}
	return *st.Mailbox
}

// An organization's IMAP mailbox: what was there before is left alone, each new message is
// imported once — across restarts, a deleted message and a renumbered folder — a message over
// the size limit is reported, not imported, and a mailbox that hangs holds up no other.
func TestIMAPPolling(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	cfg := mailConfig(t, mp)
	cfg.PollEvery, cfg.PollTimeout, cfg.MaxEmailBytes = time.Minute, 3*time.Second, 64<<10
	enable := func() {
		if err := tm.svc.EnableMail(cfg); err != nil {
			t.Fatal(err)
		}
	}
	enable()
	dc := mailtest.StartDovecot(t)
	user := dc.Users[0]
	dc.Deliver(t, user.Name, "", rawMail("old@example.org", "Old", "Before the mailbox was connected."))
	time.Sleep(1100 * time.Millisecond) // the server's dates are whole seconds
	imap := &desk.IMAPSettings{Security: imapin.Plain, Host: dc.Host, Port: dc.IMAPPort, Username: user.Name, Password: emailSecret(user.Password)}
	if err := tm.svc.SetEmailSettings(ctx, tm.org, tm.owner(), desk.EmailSettingsInput{AutoAck: true, IMAP: imap}); err != nil {
		t.Fatal(err)
	}
	polled := func(what string, after time.Time) desk.MailboxStatus {
		t.Helper()
		var st desk.MailboxStatus
		waitFor(t, what, func() bool {
			st = tm.mailbox(t, tm.org)
			return !st.PolledAt.Before(after) && !st.PolledAt.IsZero()
		})
		return st
	}
	st := polled("the first poll", tm.clock.Now().Truncate(time.Second))
	if st.Imported != 0 || st.LastError != "" || len(tm.tickets(t, tm.org)) != 0 {
		t.Fatalf("the first poll imported what was there before: %+v", st)
	}
	// The next poll is due a minute later.
	if !st.NextPoll.Equal(st.PolledAt.Add(time.Minute)) {
		t.Errorf("next poll %v after %v", st.NextPoll, st.PolledAt)
	}
	step := func(what string) desk.MailboxStatus {
		t.Helper()
		tm.clock.add(time.Minute)
		return polled(what, tm.clock.Now().Truncate(time.Second))
	}

	for i := range 3 {
		dc.Deliver(t, user.Name, "", rawMail(fmt.Sprintf("c%d@example.org", i), "Question "+strconv.Itoa(i), "Hello from mail "+strconv.Itoa(i)))
	}
	if st := step("the poll after three messages"); st.Imported != 3 || len(tm.tickets(t, tm.org)) != 3 {
		t.Fatalf("after three messages: %+v, %d tickets", st, len(tm.tickets(t, tm.org)))
	}
	// Acknowledgments went out for them, through the outbox.
	if n := len(mp.WaitMessages(t, 3)); n != 3 {
		t.Errorf("%d acknowledgments", n)
	}

	// A restart: nothing again.
	tm.stop()
	tm.start(t)
	enable()
	if st := step("the poll after a restart"); st.Imported != 3 || len(tm.tickets(t, tm.org)) != 3 {
		t.Fatalf("after a restart: %+v, %d tickets", st, len(tm.tickets(t, tm.org)))
	}
	// A message deleted on the server and a new one: only the new one.
	c := dc.Client(t, user.Name)
	mbox, err := c.Select("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	c.Logout()
	dc.Expunge(t, user.Name, "INBOX", mbox.UidNext-1)
	dc.Deliver(t, user.Name, "", rawMail("new@example.org", "New", "After a deletion."))
	if st := step("the poll after a deletion"); st.Imported != 4 || len(tm.tickets(t, tm.org)) != 4 {
		t.Fatalf("after a deletion: %+v, %d tickets", st, len(tm.tickets(t, tm.org)))
	}
	// The server renumbers the folder: nothing is imported twice; a new message still is.
	dc.ResetUIDs(t, user.Name, "")
	dc.Deliver(t, user.Name, "", rawMail("renumbered@example.org", "After", "After the renumbering."))
	if st := step("the poll after a renumbering"); st.Imported != 5 || len(tm.tickets(t, tm.org)) != 5 {
		t.Fatalf("after a renumbering: %+v, %d tickets", st, len(tm.tickets(t, tm.org)))
	}
	// A message over the limit is not imported, and the status says so.
	dc.Deliver(t, user.Name, "", rawMail("huge@example.org", "Huge", strings.Repeat("0123456789abcdef\r\n", 6000)))
	if st := step("the poll of a huge message"); st.Imported != 5 || !strings.Contains(st.LastError, "larger than") {
		t.Fatalf("a huge message: %+v", st)
	}

	// Another organization whose IMAP server hangs: acme's mail still comes in.
	other := &catalog.Organization{Name: "Other", Username: "other", Email: "owner@other.example", PasswordHash: "x", DBName: "tenantdesk-other"}
	if err := tm.svc.Register(ctx, other); err != nil {
		t.Fatal(err)
	}
	host, port := splitHostPort(t, mailtest.Hang(t))
	if err := tm.svc.SetEmailSettings(ctx, other, desk.AsOwner("Other"), desk.EmailSettingsInput{AutoAck: true,
		IMAP: &desk.IMAPSettings{Security: imapin.Plain, Host: host, Port: port, Username: "u", Password: emailSecret("p")}}); err != nil {
		t.Fatal(err)
	}
	dc.Deliver(t, user.Name, "", rawMail("during@example.org", "During", "While the other hangs."))
	if st := step("acme's poll while the other hangs"); st.Imported != 6 {
		t.Fatalf("acme while the other mailbox hangs: %+v", st)
	}
	waitFor(t, "the hanging poll to give up", func() bool {
		st := tm.mailbox(t, other)
		return !st.PolledAt.IsZero() && st.LastError != ""
	})
}

func emailSecret(s string) email.Secret { return email.Secret(s) }

// Polling wakes only the organizations whose mailbox is due: after a restart, another
// organization's database is never opened by the scheduler.
func TestIMAPPollingWakesOnlyOrganizationsWithAMailbox(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	cfg := mailConfig(t, mailtest.StartMailpit(t, mailtest.MailpitOptions{}))
	cfg.PollEvery = time.Minute
	if err := tm.svc.EnableMail(cfg); err != nil {
		t.Fatal(err)
	}
	dc := mailtest.StartDovecot(t)
	user := dc.Users[0]
	other := &catalog.Organization{Name: "Other", Username: "other", Email: "owner@other.example", PasswordHash: "x", DBName: "tenantdesk-other"}
	if err := tm.svc.Register(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.SetEmailSettings(ctx, other, desk.AsOwner("Other"), desk.EmailSettingsInput{AutoAck: true,
		IMAP: &desk.IMAPSettings{Security: imapin.Plain, Host: dc.Host, Port: dc.IMAPPort, Username: user.Name,
			Password: emailSecret(user.Password)}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first poll", func() bool { return tm.svc.MailboxPolls() >= 1 })
	tm.stop()
	tm.start(t)
	if err := tm.svc.EnableMail(cfg); err != nil {
		t.Fatal(err)
	}
	tm.clock.add(time.Minute)
	waitFor(t, "the poll after the restart", func() bool { return tm.svc.MailboxPolls() >= 1 })
	if !tm.reg.IsOpen(other.DBName) {
		t.Error("the polled organization's database is not open: IsOpen proves nothing")
	}
	if tm.reg.IsOpen(tm.org.DBName) {
		t.Error("the scheduler opened the database of an organization without a mailbox")
	}
}
