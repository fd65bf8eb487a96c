package desk_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
)

// receiveFile parses testdata/name (its Message-ID replaced by id when id is not "") and
// receives it for tm's organization over SMTP with reply tag tag.
func receiveFile(t *testing.T, tm *team, name, id, tag string) (desk.Received, error) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if id != "" {
		i := bytes.Index(raw, []byte("Message-ID: <"))
		j := bytes.IndexByte(raw[i:], '>')
		raw = append(append(append([]byte(nil), raw[:i]...), "Message-ID: <"+id+">"...), raw[i+j+1:]...)
	}
	msg := email.Parse(raw, email.ParseOptions{Domain: mailDomain})
	return tm.svc.ReceiveEmail(context.Background(), tm.org, desk.AsSystem(), desk.InboundEmail{Key: email.Key(msg, raw),
		Message: msg, Raw: raw, Source: desk.SourceSMTP, Tag: tag})
}

// messageOf returns message id of ticket conversation conv, as the owner reads it.
func messageOf(t *testing.T, tm *team, org *catalog.Organization, conv, id int64) desk.Message {
	t.Helper()
	th, err := tm.svc.Thread(context.Background(), org, tm.owner(), conv, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range th.Messages {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("message %d is not in conversation %d", id, conv)
	return desk.Message{}
}

func fileCount(t *testing.T, tm *team) int64 {
	t.Helper()
	st, err := tm.svc.Storage(context.Background(), tm.org, tm.owner())
	if err != nil {
		t.Fatal(err)
	}
	return st.Files
}

// An email's attachments become its message's files, as uploads do: the inline image of an
// HTML email (cid:) with its Content-ID, a file with an RFC 2231 name; an empty part is named
// in the text as left out. Delivered again, the email stores no second copy of anything.
func TestInboundEmailKeepsAttachments(t *testing.T) {
	ctx := context.Background()
	tm, _ := mailTeam(t)
	org := tm.org
	r, err := receiveFile(t, tm, "inline-and-attached.eml", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Created || r.MessageID == 0 {
		t.Fatalf("received: %+v", r)
	}
	var tk desk.Ticket
	for _, x := range tm.tickets(t, org) {
		if x.ID == r.TicketID {
			tk = x
		}
	}
	if n := fileCount(t, tm); n != 2 {
		t.Fatalf("%d files stored, want 2", n)
	}
	again, err := receiveFile(t, tm, "inline-and-attached.eml", "", "")
	if err != nil || !again.Duplicate || again.TicketID != r.TicketID {
		t.Fatalf("the same email again: %+v, %v", again, err)
	}
	if n := fileCount(t, tm); n != 2 {
		t.Errorf("%d files stored after the email came again, want 2", n)
	}
	// From the cache the write filled, and from the database after a restart.
	for _, restart := range []bool{false, true} {
		if restart {
			tm.stop()
			tm.start(t)
		}
		m := messageOf(t, tm, org, tk.ConversationID, r.MessageID)
		if len(m.Files) != 2 {
			t.Fatalf("restart %v: the message's files: %+v", restart, m.Files)
		}
		shot, pdf := m.Files[0], m.Files[1]
		if shot.Name == "Rechnung März.pdf" {
			shot, pdf = pdf, shot
		}
		if shot.Name != "screen.png" || shot.Type != "image/png" || shot.ContentID != "screen.1@mail.example.com" || !shot.Inline() {
			t.Errorf("restart %v: the inline image: %+v", restart, shot)
		}
		if pdf.Name != "Rechnung März.pdf" || pdf.Type != "application/pdf" || pdf.ContentID != "" || pdf.Inline() {
			t.Errorf("restart %v: the PDF: %+v", restart, pdf)
		}
		for f, want := range map[int64][]byte{shot.ID: pngFile, pdf.ID: []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")} {
			d, err := tm.svc.Download(ctx, org, tm.owner(), tk.ConversationID, f)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, d.Reader(0, -1)); !bytes.Equal(got, want) {
				t.Errorf("file %d reads back %q, want %q", f, got, want)
			}
		}
		if !strings.Contains(m.Body, "the printer shows this error") ||
			!strings.Contains(m.Body, "- empty.txt (0 bytes): empty") || strings.Contains(m.Body, "screen.png (") {
			t.Errorf("restart %v: the message's text:\n%s", restart, m.Body)
		}
	}
}

// A part without a name (an inline image referred to only by its Content-ID) is named
// after its content's type, so that it opens once saved.
func TestInboundEmailNamelessImage(t *testing.T) {
	tm, _ := mailTeam(t)
	raw := []byte("From: carla@example.com\r\nTo: acme@desk.example\r\nSubject: Screenshot\r\nMessage-ID: <nameless@mail.example.com>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html\r\n\r\n" +
		"<p>See:</p><img src=\"cid:shot@x\">\r\n--r\r\nContent-Type: image/png\r\nContent-ID: <shot@x>\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(pngFile) + "\r\n--r--\r\n")
	msg := email.Parse(raw, email.ParseOptions{Domain: mailDomain})
	r, err := tm.svc.ReceiveEmail(context.Background(), tm.org, desk.AsSystem(), desk.InboundEmail{Key: email.Key(msg, raw),
		Message: msg, Raw: raw, Source: desk.SourceSMTP})
	if err != nil {
		t.Fatal(err)
	}
	var conv int64
	for _, x := range tm.tickets(t, tm.org) {
		if x.ID == r.TicketID {
			conv = x.ConversationID
		}
	}
	m := messageOf(t, tm, tm.org, conv, r.MessageID)
	if len(m.Files) != 1 || m.Files[0].Name != "attachment-1.png" || m.Files[0].ContentID != "shot@x" || !m.Files[0].Inline() {
		t.Errorf("the nameless image: %+v", m.Files)
	}
}

// Limits: a file over the per-file limit and those beyond the per-message count are not kept,
// and the message says which and why; an email that is refused keeps no file at all.
func TestInboundEmailAttachmentLimits(t *testing.T) {
	tm := newTeam(t)
	tm.stop()
	tm.files = desk.FileLimits{MaxFileBytes: 8 << 10, MaxFiles: 2}
	tm.start(t)
	if err := tm.svc.EnableMail(mailConfig(t, mailtest.StartMailpit(t, mailtest.MailpitOptions{}))); err != nil {
		t.Fatal(err)
	}
	tk, _ := tm.open(t, "carla@example.com", "The printer shows an error")
	// The subject's "[#1]" from the ticket's contact: a reply on the ticket.
	r, err := receiveFile(t, tm, "many-attachments.eml", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Created || r.TicketID != tk.ID {
		t.Fatalf("received: %+v (ticket %d)", r, tk.ID)
	}
	m := messageOf(t, tm, tm.org, tk.ConversationID, r.MessageID)
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "log1.txt,log2.txt" {
		t.Errorf("files kept: %v", names)
	}
	for _, want := range []string{
		"Here are the logs.",
		"- dump.bin (10 KB): larger than the 8 KB limit per file",
		"- log3.txt (350 bytes): more than 2 files in one message",
		"- log4.txt (350 bytes): more than 2 files in one message",
	} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("the message's text lacks %q:\n%s", want, m.Body)
		}
	}
	if n := fileCount(t, tm); n != 2 {
		t.Fatalf("%d files stored, want 2", n)
	}
	// Refused (a reply address that is not valid): its files were staged, and are gone.
	if _, err := receiveFile(t, tm, "inline-and-attached.eml", "refused-1@mail.example.com", "c1-aaaaaaaaaaaaaaaaaaaaaaaaaa"); kindOf(err) != "not found/conversation_not_found" {
		t.Fatalf("an email to a forged reply address: %s", kindOf(err))
	}
	if n := fileCount(t, tm); n != 2 {
		t.Errorf("%d files stored after a refused email, want 2", n)
	}
}
