package desk_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
)

var offerPDF = []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")

// answerWithFiles has Thomas answer a new ticket of Jürgen's with a PDF and an image, and
// Maria mentioned in a note; it returns the email of the answer and of the mention as
// mailpit received them, with their raw bytes.
func answerWithFiles(t *testing.T, tm *team, mp *mailtest.Mailpit) (reply, mention mailtest.Message, raw []byte) {
	t.Helper()
	ctx := context.Background()
	org, thomas := tm.org, desk.AsAgent(tm.thomas)
	tk, _ := tm.open(t, "juergen@example.org", "Please send the offer")
	if _, err := tm.svc.Take(ctx, org, thomas, tk.ID); err != nil {
		t.Fatal(err)
	}
	up, err := tm.svc.StartUpload(ctx, org, thomas, tk.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Discard()
	for _, f := range []struct {
		name string
		data []byte
	}{{"Angebot für Jürgen.pdf", offerPDF}, {"screen.png", pngFile}} {
		if _, err := up.Add(ctx, desk.NewFile{Name: f.name}, bytes.NewReader(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tm.svc.AddMessageWithFiles(ctx, org, thomas, tk.ConversationID, "Here is the offer.", up); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.AddNote(ctx, org, thomas, tk.ConversationID, "@maria the offer went out"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the answer's and the mention's emails", func() bool {
		reply, mention = mailtest.Message{}, mailtest.Message{}
		for _, s := range mp.Messages(t) {
			m := mp.Message(t, s.ID)
			switch {
			case strings.Contains(m.Text, "answered your ticket"):
				reply, raw = m, mp.Raw(t, s.ID)
			case strings.Contains(m.Text, "mentioned you"):
				mention = m
			}
		}
		return reply.ID != "" && mention.ID != ""
	})
	return reply, mention, raw
}

// The email of an agent's answer carries the answer's files as attachments (names encoded,
// types as sniffed, bytes exact, read from the database as the email is sent); a note's email
// carries none.
func TestAnswerEmailCarriesFiles(t *testing.T) {
	tm, mp := mailTeam(t)
	reply, mention, raw := answerWithFiles(t, tm, mp)
	if len(reply.Attachments) != 2 {
		t.Fatalf("the answer's email has attachments %+v\n%s", reply.Attachments, reply.Text)
	}
	for i, want := range []struct {
		name, ct string
		size     int
	}{{"Angebot für Jürgen.pdf", "application/pdf", len(offerPDF)}, {"screen.png", "image/png", len(pngFile)}} {
		if a := reply.Attachments[i]; a.FileName != want.name || a.ContentType != want.ct || a.Size != uint64(want.size) {
			t.Errorf("attachment %d: %+v, want %+v", i, a, want)
		}
	}
	msg := email.Parse(raw, email.ParseOptions{})
	if len(msg.Attachments) != 2 || !bytes.Equal(msg.Attachments[0].Data, offerPDF) || !bytes.Equal(msg.Attachments[1].Data, pngFile) {
		t.Errorf("the attachments do not read back as stored: %d", len(msg.Attachments))
	}
	if text := strings.ReplaceAll(reply.Text, "\r\n", "\n"); !strings.Contains(text, "Here is the offer.") ||
		!strings.Contains(text, "Attached to this email:\n- Angebot für Jürgen.pdf") {
		t.Errorf("the answer's text:\n%s", reply.Text)
	}
	if len(mention.Attachments) != 0 || len(mention.Inline) != 0 {
		t.Errorf("the note's email carries files: %+v", mention.Attachments)
	}
}

// Files together above the limit of one email stay on the ticket's page: the email names
// them and carries none.
func TestAnswerEmailFilesOverTheLimit(t *testing.T) {
	tm := newTeam(t)
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	cfg := mailConfig(t, mp)
	cfg.MaxSentFilesBytes = 100
	if err := tm.svc.EnableMail(cfg); err != nil {
		t.Fatal(err)
	}
	reply, _, _ := answerWithFiles(t, tm, mp)
	if len(reply.Attachments) != 0 || len(reply.Inline) != 0 {
		t.Errorf("attachments over the limit: %+v", reply.Attachments)
	}
	for _, want := range []string{"too large to send by email (", "- Angebot für Jürgen.pdf (", "- screen.png (", "on your ticket's page"} {
		if !strings.Contains(reply.Text, want) {
			t.Errorf("the text lacks %q:\n%s", want, reply.Text)
		}
	}
}
