package email_test

import (
	"bytes"
	"net/smtp"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
)

var (
	attachPNG = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"), make([]byte, 64)...)
	attachPDF = []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
)

func attachFiles(big []byte) []email.OutFile {
	return []email.OutFile{
		{Name: "Angebot für Jürgen – März.pdf", ContentType: "application/pdf", Data: bytes.NewReader(attachPDF)},
		{Name: "screen.png", ContentType: "image/png", Data: bytes.NewReader(attachPNG)},
		{Name: `da"ta\big.bin`, ContentType: "not a type", Data: bytes.NewReader(big)},
	}
}

// Attach keeps the composed email whole (its headers, its text and HTML parts) and adds each
// file with its name (RFC 2231 and RFC 2047 for non-ASCII) and type; our own parser and
// mailpit read the names, types and bytes back exactly; the same input gives the same bytes.
func TestAttachReadsBackExactly(t *testing.T) {
	n := notification()
	out, err := email.Compose(n)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdefghij"), 10000) // several base64 buffers, a partial last line
	raw, err := email.Attach(out.Raw, attachFiles(big))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := email.Attach(out.Raw, attachFiles(big))
	if !bytes.Equal(raw, again) {
		t.Error("the same email and files gave different bytes")
	}
	for _, l := range strings.Split(string(raw), "\r\n") {
		if len(l) > 998 {
			t.Fatalf("a line of %d bytes", len(l))
		}
	}
	if !bytes.Contains(raw, []byte(`filename*=utf-8''Angebot%20f%C3%BCr%20J%C3%BCrgen%20%E2%80%93%20M%C3%A4rz.pdf`)) ||
		!bytes.Contains(raw, []byte(`name="=?utf-8?b?`)) {
		t.Errorf("the PDF's name is not encoded both ways:\n%s", raw[:min(len(raw), 3000)])
	}
	msg := email.Parse(raw, email.ParseOptions{})
	if len(msg.Problems) > 0 || msg.MessageID != n.MessageID || !strings.Contains(msg.Text, "we answered") {
		t.Errorf("parsed back: problems %v, id %q, text %q", msg.Problems, msg.MessageID, msg.Text)
	}
	want := []struct {
		name, ct string
		data     []byte
	}{{"Angebot für Jürgen – März.pdf", "application/pdf", attachPDF}, {"screen.png", "image/png", attachPNG},
		{"da_ta_big.bin", "application/octet-stream", big}}
	if len(msg.Attachments) != len(want) {
		t.Fatalf("%d attachments parsed back", len(msg.Attachments))
	}
	for i, w := range want {
		a := msg.Attachments[i]
		if a.Name != w.name || a.ContentType != w.ct || !bytes.Equal(a.Data, w.data) || a.Inline {
			t.Errorf("attachment %d: %q %q %d bytes inline %v", i, a.Name, a.ContentType, a.Size, a.Inline)
		}
	}

	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	if err := smtp.SendMail(mp.SMTPAddr, nil, out.From, out.To, raw); err != nil {
		t.Fatal(err)
	}
	got := mp.Message(t, mp.WaitMessages(t, 1)[0].ID)
	if !strings.Contains(got.Text, "we answered") || len(got.Attachments) != 3 {
		t.Fatalf("mailpit: text %q, attachments %+v", got.Text, got.Attachments)
	}
	for i, w := range want {
		a := got.Attachments[i]
		if a.FileName != w.name || a.ContentType != w.ct || a.Size != uint64(len(w.data)) {
			t.Errorf("mailpit's attachment %d: %+v", i, a)
		}
	}
}

// Without files the email is unchanged.
func TestAttachNothing(t *testing.T) {
	out, err := email.Compose(notification())
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := email.Attach(out.Raw, nil); err != nil || !bytes.Equal(raw, out.Raw) {
		t.Errorf("no files: %v", err)
	}
}
