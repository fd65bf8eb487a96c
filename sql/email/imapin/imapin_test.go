package imapin_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap"

	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/imapin"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
)

// store is a desk's mailbox: imported messages and the state, changed together under one
// lock as one transaction would; it fails on demand.
type store struct {
	mu       sync.Mutex
	state    imapin.State
	keys     map[string]bool
	imported []*imapin.Message
	failAt   int // Import fails when this many messages are stored (0: never)
	seenLeft int // Seen fails after this many more calls (0: never)
	seenKeys []string
	at       []time.Time
}

func newStore() *store { return &store{keys: map[string]bool{}} }

func (s *store) Import(_ context.Context, m *imapin.Message, next imapin.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAt > 0 && len(s.imported) == s.failAt {
		return errors.New("database is locked")
	}
	if next.LastUID != m.UID || next.UIDValidity != m.UIDValidity {
		return fmt.Errorf("state %+v does not include message %d/%d", next, m.UIDValidity, m.UID)
	}
	if s.keys[m.Key()] {
		return fmt.Errorf("message %s imported twice", m.Key())
	}
	s.keys[m.Key()] = true
	s.imported = append(s.imported, m)
	s.state = next
	s.at = append(s.at, time.Now())
	return nil
}

func (s *store) Seen(_ context.Context, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seenLeft > 0 {
		if s.seenLeft--; s.seenLeft == 0 {
			return false, errors.New("database is locked")
		}
	}
	s.seenKeys = append(s.seenKeys, key)
	return s.keys[key], nil
}

func (s *store) Save(_ context.Context, next imapin.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = next
	return nil
}

func (s *store) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.imported {
		out = append(out, m.MessageID)
	}
	return out
}

func (s *store) poll(t *testing.T, set imapin.Settings, opts imapin.Options) (imapin.Result, error) {
	t.Helper()
	s.mu.Lock()
	st := s.state
	s.mu.Unlock()
	res, err := imapin.Poll(context.Background(), set, st, s, opts)
	s.mu.Lock()
	defer s.mu.Unlock()
	if res.State != s.state {
		t.Fatalf("result state %+v, stored %+v", res.State, s.state)
	}
	return res, err
}

func msg(n int) []byte {
	return []byte(fmt.Sprintf("From: Ann <ann@example.org>\r\nTo: support@example.net\r\nSubject: question %d\r\n"+
		"Message-ID: <p%d@example.org>\r\n\r\nBody %d\r\n", n, n, n))
}

func settings(d *mailtest.Dovecot) imapin.Settings {
	return imapin.Settings{Host: "127.0.0.1", Port: d.IMAPPort, Security: imapin.Plain, Username: "support",
		Password: email.Secret(d.Users[0].Password)}
}

var fast = imapin.Options{Timeout: 10 * time.Second, CommandTimeout: 5 * time.Second}

func TestPollImportsEachNewMessageExactlyOnce(t *testing.T) {
	d := mailtest.StartDovecot(t)
	for i := 1; i <= 3; i++ {
		d.Deliver(t, "support", "", msg(i))
	}
	s := newStore()
	res, err := s.poll(t, settings(d), fast)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 3 || res.State.LastUID != 3 || res.State.UIDValidity == 0 || strings.Join(s.ids(), ",") != "p1@example.org,p2@example.org,p3@example.org" {
		t.Fatalf("first poll %+v, ids %v", res, s.ids())
	}
	m := s.imported[1]
	if p := email.Parse(m.Raw, email.ParseOptions{}); p.Subject != "question 2" || m.Size != int64(len(msg(2))) || m.InternalDate.IsZero() {
		t.Fatalf("message 2: subject %q size %d date %v", p.Subject, m.Size, m.InternalDate)
	}
	// Nothing new: "4:*" matches UID 3 on the server, which must not come back.
	res, err = s.poll(t, settings(d), fast)
	if err != nil || res.Imported != 0 || res.State.LastUID != 3 {
		t.Fatalf("second poll %+v, %v", res, err)
	}
	d.Deliver(t, "support", "", msg(4))
	res, err = s.poll(t, settings(d), fast)
	if err != nil || res.Imported != 1 || res.State.LastUID != 4 || len(s.ids()) != 4 {
		t.Fatalf("third poll %+v, %v", res, err)
	}
	// Polling reads without marking anything \Seen.
	c := d.Client(t, "support")
	if _, err := c.Select("INBOX", true); err != nil {
		t.Fatal(err)
	}
	seen, err := c.Search(&imap.SearchCriteria{WithFlags: []string{imap.SeenFlag}})
	if err != nil || len(seen) != 0 {
		t.Fatalf("messages marked seen: %v, %v", seen, err)
	}
}

func TestPollResumesAfterACrashAndAnOutage(t *testing.T) {
	d := mailtest.StartDovecot(t)
	for i := 1; i <= 5; i++ {
		d.Deliver(t, "support", "", msg(i))
	}
	s := newStore()
	s.failAt = 2 // the third import fails, as a crash before its commit would lose it
	res, err := s.poll(t, settings(d), fast)
	if err == nil || res.Imported != 2 || res.State.LastUID != 2 {
		t.Fatalf("poll with a failing store: %+v, %v", res, err)
	}
	s.failAt = 0
	if res, err = s.poll(t, settings(d), fast); err != nil || res.Imported != 3 {
		t.Fatalf("resumed poll %+v, %v", res, err)
	}

	// The server goes away; mail keeps arriving in the maildir; the server comes back.
	d.Stop()
	start := time.Now()
	_, err = s.poll(t, settings(d), fast)
	var pe *imapin.Error
	if !errors.As(err, &pe) || pe.Setup || time.Since(start) > 3*time.Second {
		t.Fatalf("poll of a stopped server: %v after %v, want a quick temporary error", err, time.Since(start))
	}
	d.Deliver(t, "support", "", msg(6))
	d.Deliver(t, "support", "", msg(7))
	d.Restart()
	if res, err = s.poll(t, settings(d), fast); err != nil || res.Imported != 2 {
		t.Fatalf("after the outage %+v, %v", res, err)
	}
	if got := strings.Join(s.ids(), ","); got != "p1@example.org,p2@example.org,p3@example.org,p4@example.org,p5@example.org,p6@example.org,p7@example.org" {
		t.Fatalf("imported %s", got)
	}
}

func TestPollDeletedMessagesNeitherReimportNorLeaveAGap(t *testing.T) {
	d := mailtest.StartDovecot(t)
	for i := 1; i <= 3; i++ {
		d.Append(t, "support", "INBOX", msg(i))
	}
	s := newStore()
	if _, err := s.poll(t, settings(d), fast); err != nil {
		t.Fatal(err)
	}
	// Delete imported mail (the newest too), add new mail, delete one of the new ones before
	// it was polled.
	d.Expunge(t, "support", "INBOX", 2, 3)
	d.Append(t, "support", "INBOX", msg(4))
	_, uid5 := d.Append(t, "support", "INBOX", msg(5))
	d.Append(t, "support", "INBOX", msg(6))
	d.Expunge(t, "support", "INBOX", uid5)
	res, err := s.poll(t, settings(d), fast)
	if err != nil || res.Imported != 2 || res.State.LastUID != 6 {
		t.Fatalf("poll %+v, %v", res, err)
	}
	if got := strings.Join(s.ids(), ","); got != "p1@example.org,p2@example.org,p3@example.org,p4@example.org,p6@example.org" {
		t.Fatalf("imported %s", got)
	}
	// Everything deleted: still nothing comes back.
	d.Expunge(t, "support", "INBOX", 1, 4, 6)
	if res, err := s.poll(t, settings(d), fast); err != nil || res.Imported != 0 || res.State.LastUID != 6 {
		t.Fatalf("empty folder %+v, %v", res, err)
	}
}

func TestPollRescansAfterUIDValidityChanges(t *testing.T) {
	d := mailtest.StartDovecot(t)
	noID := []byte("From: b@example.org\r\nSubject: no id\r\n\r\nwithout a Message-ID\r\n")
	d.Deliver(t, "support", "", msg(1))
	d.Deliver(t, "support", "", noID)
	d.Deliver(t, "support", "", msg(3))
	s := newStore()
	res, err := s.poll(t, settings(d), fast)
	if err != nil || res.Imported != 3 {
		t.Fatalf("first poll %+v, %v", res, err)
	}
	old := res.State.UIDValidity

	// The server renumbers the folder (a restore or migration); a new message arrives.
	d.ResetUIDs(t, "support", "")
	d.Deliver(t, "support", "", msg(4))
	res, err = s.poll(t, settings(d), fast)
	if err != nil {
		t.Fatal(err)
	}
	if !res.UIDValidityChanged || res.PreviousUIDValidity != old || res.State.UIDValidity == old ||
		res.Skipped != 3 || res.Imported != 1 || res.State.LastUID != 4 || res.State.RescanBelow != 0 {
		t.Fatalf("rescan %+v", res)
	}
	if s.imported[3].MessageID != "p4@example.org" || !s.imported[3].Rescan {
		t.Fatalf("rescan imported %+v", s.imported[3])
	}
	if res, err := s.poll(t, settings(d), fast); err != nil || res.Imported != 0 || res.UIDValidityChanged {
		t.Fatalf("after the rescan %+v, %v", res, err)
	}
}

func TestPollRescanKeepsItsProgressWhenItFails(t *testing.T) {
	d := mailtest.StartDovecot(t)
	for i := 1; i <= 4; i++ {
		d.Deliver(t, "support", "", msg(i))
	}
	s := newStore()
	if _, err := s.poll(t, settings(d), fast); err != nil {
		t.Fatal(err)
	}
	d.ResetUIDs(t, "support", "")
	opts := fast
	opts.Batch = 1
	s.seenLeft = 3 // the third Seen fails
	res, err := s.poll(t, settings(d), opts)
	if err == nil || res.Skipped != 2 || res.State.LastUID != 2 || res.State.UIDValidity == s.imported[0].UIDValidity ||
		res.State.RescanBelow != 5 {
		t.Fatalf("failed rescan %+v, %v; want 2 skipped and saved", res, err)
	}
	s.seenKeys = nil
	if res, err = s.poll(t, settings(d), opts); err != nil || res.Skipped != 2 || res.Imported != 0 || res.State.LastUID != 4 {
		t.Fatalf("resumed rescan %+v, %v", res, err)
	}
	if res.State.RescanBelow != 0 || strings.Join(s.seenKeys, ",") != "mid:p3@example.org,mid:p4@example.org" {
		t.Fatalf("the resumed rescan asked again about %v", s.seenKeys)
	}
}

func TestPollReportsTooLargeMessagesWithoutDownloading(t *testing.T) {
	d := mailtest.StartDovecot(t)
	big := append(msg(1), []byte(strings.Repeat(strings.Repeat("x", 76)+"\r\n", 2000))...)
	d.Deliver(t, "support", "", big)
	d.Deliver(t, "support", "", msg(2))
	s := newStore()
	opts := fast
	opts.MaxMessageBytes = 10 << 10
	res, err := s.poll(t, settings(d), opts)
	if err != nil || res.Imported != 2 || res.TooLarge != 1 || res.State.LastUID != 2 {
		t.Fatalf("poll %+v, %v", res, err)
	}
	m := s.imported[0]
	if !m.TooLarge || m.Raw != nil || m.Size != int64(len(big)) || m.MessageID != "p1@example.org" {
		t.Fatalf("large message %+v", m)
	}
	if s.imported[1].TooLarge || len(s.imported[1].Raw) == 0 {
		t.Fatalf("small message %+v", s.imported[1])
	}
}

func TestPollSkipExistingStartsAfterTheNewestMessage(t *testing.T) {
	d := mailtest.StartDovecot(t)
	d.Deliver(t, "support", "", msg(1))
	d.Deliver(t, "support", "", msg(2))
	s := newStore()
	opts := fast
	opts.SkipExisting = true
	res, err := s.poll(t, settings(d), opts)
	if err != nil || res.Imported != 0 || res.State.LastUID != 2 {
		t.Fatalf("first poll %+v, %v", res, err)
	}
	d.Deliver(t, "support", "", msg(3))
	if res, err = s.poll(t, settings(d), opts); err != nil || res.Imported != 1 || s.ids()[0] != "p3@example.org" {
		t.Fatalf("second poll %+v, %v", res, err)
	}
}

func TestPollMaxPerPollSpreadsABacklog(t *testing.T) {
	d := mailtest.StartDovecot(t)
	for i := 1; i <= 5; i++ {
		d.Deliver(t, "support", "", msg(i))
	}
	s := newStore()
	opts := fast
	opts.MaxPerPoll, opts.Batch = 2, 2
	for want := 2; want <= 5; want += 2 {
		res, err := s.poll(t, settings(d), opts)
		if err != nil || !res.More || len(s.ids()) != want {
			t.Fatalf("poll: %+v, %v, %d imported; want %d and more", res, err, len(s.ids()), want)
		}
	}
	if res, err := s.poll(t, settings(d), opts); err != nil || res.More || len(s.ids()) != 5 {
		t.Fatalf("last poll %+v, %v", res, err)
	}
}

func TestPollOverTLSAndWithBadSettings(t *testing.T) {
	d := mailtest.StartDovecot(t, mailtest.User{Name: "support", Password: "s3cret"})
	d.Deliver(t, "support", "", msg(1))
	d.Append(t, "support", "Archive", msg(9))
	ok := func(name string, set imapin.Settings, want int) {
		t.Helper()
		s := newStore()
		if res, err := s.poll(t, set, fast); err != nil || res.Imported != want {
			t.Fatalf("%s: %+v, %v", name, res, err)
		}
	}
	tlsSet := settings(d)
	tlsSet.Port, tlsSet.Security, tlsSet.RootCAs = d.IMAPSPort, imapin.ImplicitTLS, d.Cert.Pool
	ok("IMAPS", tlsSet, 1)
	start := settings(d)
	start.Security, start.RootCAs = imapin.StartTLS, d.Cert.Pool
	ok("STARTTLS", start, 1)
	folder := settings(d)
	folder.Folder = "Archive"
	ok("another folder", folder, 1)

	setup := func(name string, set imapin.Settings) {
		t.Helper()
		_, err := newStore().poll(t, set, fast)
		var pe *imapin.Error
		if !errors.As(err, &pe) || !pe.Setup {
			t.Fatalf("%s: %v, want a settings error", name, err)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("%s: the error shows the password: %v", name, err)
		}
	}
	untrusted := tlsSet
	untrusted.RootCAs = nil
	setup("untrusted certificate", untrusted)
	missing := settings(d)
	missing.Folder = "Nope"
	setup("missing folder", missing)
	remote := settings(d)
	remote.Host = "imap.example.com"
	setup("plain to a remote host", remote)
	tlsOnPlain := settings(d)
	tlsOnPlain.Security = imapin.ImplicitTLS
	setup("TLS to a plain port", tlsOnPlain)
	// Last: Dovecot delays the next logins from an address after a failed one.
	wrong := settings(d)
	wrong.Password = "wrong"
	setup("wrong password", wrong)
}

func TestSweepAHangingMailboxDoesNotHoldTheOthers(t *testing.T) {
	d := mailtest.StartDovecot(t)
	d.Deliver(t, "support", "", msg(1))
	hang := mailtest.Hang(t)
	_, p, _ := net.SplitHostPort(hang)
	port, _ := strconv.Atoi(p)
	hanging := imapin.Settings{Host: "127.0.0.1", Port: port, Security: imapin.Plain, Username: "u", Password: "p"}
	good := newStore()
	opts := imapin.Options{Timeout: 2 * time.Second, CommandTimeout: 10 * time.Second}
	begin := time.Now()
	out := imapin.Sweep(context.Background(), []imapin.Job{
		{ID: "hang", Settings: hanging, Mailbox: newStore()},
		{ID: "good", Settings: settings(d), Mailbox: good},
	}, 2, opts)
	total := time.Since(begin)
	if out[0].ID != "hang" || out[0].Err == nil || out[1].Err != nil || out[1].Result.Imported != 1 {
		t.Fatalf("sweep %+v", out)
	}
	var pe *imapin.Error
	if !errors.As(out[0].Err, &pe) || pe.Setup {
		t.Fatalf("hanging mailbox: %v, want a temporary error", out[0].Err)
	}
	if at := good.at[0].Sub(begin); at > time.Second {
		t.Fatalf("the good mailbox was imported after %v, held by the hanging one", at)
	}
	if total > 5*time.Second || total < 2*time.Second {
		t.Fatalf("sweep took %v, want the hanging mailbox's 2 s deadline", total)
	}
}
