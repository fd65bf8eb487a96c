package email_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/email"
)

// crlfMsg joins header and body lines with CRLF.
func crlfMsg(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n")) }

func TestParseHeadersAndThreading(t *testing.T) {
	raw := crlfMsg(
		"From: =?ISO-8859-1?Q?J=FCrgen_Gro=DF?= <Juergen@Example.ORG>",
		"To: support@example.net, =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>",
		"Cc: Carl <carl@example.org>, not-an-address",
		"Reply-To: other@example.org",
		"Subject: =?windows-1252?Q?Re:_[#1042]_Caf=E9_=96_Rechnung?=",
		"Message-ID: <abc.123@mx.example.org>",
		"In-Reply-To: <n2@mail.example.net>",
		"References: <first@example.org>",
		"  <n1@mail.example.net> <n2@mail.example.net>",
		"Date: Tue, 3 Mar 2026 10:00:00 +0100",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"Thanks!",
	)
	m := email.Parse(raw, email.ParseOptions{Domain: "mail.example.net"})
	if m.From == nil || m.From.Name != "Jürgen Groß" || m.From.Address != "Juergen@Example.ORG" {
		t.Errorf("From %+v", m.From)
	}
	if len(m.To) != 2 || m.To[1].Name != "山田" || len(m.ReplyTo) != 1 || len(m.Cc) != 1 || m.Cc[0].Address != "carl@example.org" {
		t.Errorf("To %+v ReplyTo %+v Cc %+v", m.To, m.ReplyTo, m.Cc)
	}
	if m.Subject != "Re: [#1042] Café – Rechnung" {
		t.Errorf("Subject %q", m.Subject)
	}
	if ref, ok := email.SubjectRef(m.Subject); !ok || ref != 1042 {
		t.Errorf("SubjectRef %d %v", ref, ok)
	}
	if m.MessageID != "abc.123@mx.example.org" || strings.Join(m.InReplyTo, ",") != "n2@mail.example.net" ||
		strings.Join(m.References, ",") != "first@example.org,n1@mail.example.net,n2@mail.example.net" {
		t.Errorf("ids %q %q %q", m.MessageID, m.InReplyTo, m.References)
	}
	if m.Date.IsZero() || m.Date.UTC().Hour() != 9 {
		t.Errorf("Date %v", m.Date)
	}
	if m.Ours || m.Auto.Automatic() || m.Text != "Thanks!" || m.Reply != "Thanks!" {
		t.Errorf("ours %v auto %+v text %q reply %q", m.Ours, m.Auto, m.Text, m.Reply)
	}
	if email.Key(m, raw) != "mid:abc.123@mx.example.org" {
		t.Errorf("Key %q", email.Key(m, raw))
	}
}

func TestParseTrimsQuotedHistoryAndKeepsTheOriginal(t *testing.T) {
	cases := []struct {
		name, body, reply string
	}{
		{"gmail", "Yes, it works now.\n\nOn Tue, 3 Mar 2026 at 10:00, Support <support@example.net> wrote:\n> Did it work?\n>\n> Bye",
			"Yes, it works now."},
		{"wrapped attribution", "Fixed.\n\nOn Tue, 3 Mar 2026 at 10:00, Some Very Long Name\n<support@example.net> wrote:\n\n> old",
			"Fixed."},
		{"german", "Danke!\n\nAm 03.03.2026 um 10:00 schrieb Support <support@example.net>:\n> Alt",
			"Danke!"},
		{"french", "Merci\n\nLe mar. 3 mars 2026 à 10:00, Support a écrit :\n> vieux", "Merci"},
		{"our marker quoted", "New answer\n\n> ##- Please type your reply above this line -##\n> old text\nnot quoted but below", "New answer"},
		{"outlook", "See attached.\n\n________________________________\nFrom: Support <support@example.net>\nSent: Tuesday, March 3, 2026 10:00\nTo: Ann\nSubject: Re: [#1]\n\nold",
			"See attached."},
		{"outlook without rule", "Ok.\n\nFrom: Support\nSent: Tuesday\nTo: Ann\nSubject: x\n\nold", "Ok."},
		{"original message", "Hi\n-----Original Message-----\nFrom: x", "Hi"},
		{"interleaved kept", "> Is it on?\nYes.\n> And plugged in?\nAlso yes.", "> Is it on?\nYes.\n> And plugged in?\nAlso yes."},
		{"trailing quote only", "Answer\n> old\n> older", "Answer"},
		{"all quoted stays whole", "> only a quote", "> only a quote"},
		{"attribution with answer below kept", "On Monday I wrote:\nthe printer is broken", "On Monday I wrote:\nthe printer is broken"},
		{"forward kept", "FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@example.org>\nDate: Mon\nSubject: broken\nTo: me\n\nIt is broken.",
			"FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@example.org>\nDate: Mon\nSubject: broken\nTo: me\n\nIt is broken."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := crlfMsg("From: a@example.org", "Subject: x", "Content-Type: text/plain; charset=utf-8", "", strings.ReplaceAll(c.body, "\n", "\r\n"))
			m := email.Parse(raw, email.ParseOptions{})
			if m.Reply != c.reply {
				t.Errorf("Reply = %q, want %q", m.Reply, c.reply)
			}
			if m.Text != c.body {
				t.Errorf("Text = %q, want the whole body %q", m.Text, c.body)
			}
		})
	}
}

func TestParseHTMLOnlyBecomesSafeText(t *testing.T) {
	raw := crlfMsg("From: a@example.org", "Subject: html", "MIME-Version: 1.0", "Content-Type: text/html; charset=utf-8", "",
		`<html><head><style>p{color:red}</style><script>alert("x")</script></head><body>`,
		`<p>Hello <b>there</b> &lt;not a tag&gt;</p><img src=x onerror=alert(1)><p>Line 2</p>`,
		`<div class="gmail_quote">On Mon, 2 Mar 2026, Support &lt;s@example.net&gt; wrote:<br>`,
		`<blockquote class="gmail_quote">old question</blockquote></div></body></html>`)
	m := email.Parse(raw, email.ParseOptions{})
	if !m.FromHTML {
		t.Error("FromHTML is false")
	}
	for _, bad := range []string{"alert", "color:red", "<b>", "onerror", "<p>"} {
		if strings.Contains(m.Text, bad) {
			t.Errorf("text keeps %q: %q", bad, m.Text)
		}
	}
	if !strings.Contains(m.Text, "Hello") || !strings.Contains(m.Text, "<not a tag>") || !strings.Contains(m.Text, "old question") {
		t.Errorf("Text %q", m.Text)
	}
	if strings.Contains(m.Reply, "old question") || !strings.Contains(m.Reply, "Line 2") {
		t.Errorf("Reply %q", m.Reply)
	}
}

func TestParseSurvivesBrokenMail(t *testing.T) {
	cases := map[string][]byte{
		"unknown charset": crlfMsg("From: a@example.org", "Subject: =?x-klingon?Q?Qapla=27?=",
			"Content-Type: text/plain; charset=x-klingon", "", "tlhIngan Hol \xff\xfe"),
		"missing closing boundary": crlfMsg("From: a@example.org", "Content-Type: multipart/mixed; boundary=XX", "",
			"--XX", "Content-Type: text/plain", "", "body text", "--XX", "Content-Type: application/pdf",
			"Content-Transfer-Encoding: base64", "", "JVBERi0x!!!not base64"),
		"no boundary parameter": crlfMsg("From: a@example.org", "Content-Type: multipart/mixed", "", "body text"),
		"binary garbage":        []byte("\x00\x01\x02\xff\xfe From: \r\n\r\n\x00body text"),
		"empty":                 {},
		"header only":           []byte("From: a@example.org"),
		"bad address and date":  crlfMsg("From: <<<>>>", "Date: yesterday", "To: ,,,", "", "body text"),
		"invalid utf8 body":     crlfMsg("From: a@example.org", "Content-Type: text/plain; charset=utf-8", "", "caf\xe9 body text"),
		"bad base64":            crlfMsg("From: a@example.org", "Content-Type: text/plain", "Content-Transfer-Encoding: base64", "", "!!!!"),
		"bad quoted-printable":  crlfMsg("From: a@example.org", "Content-Type: text/plain", "Content-Transfer-Encoding: quoted-printable", "", "body text =ZZ =\xff"),
		"nested without end":    crlfMsg("From: a@example.org", "Content-Type: multipart/alternative; boundary=a", "", "--a", "Content-Type: multipart/related; boundary=b", "", "--b", "Content-Type: text/plain", "", "body text"),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			m := email.Parse(raw, email.ParseOptions{})
			for _, p := range m.Problems {
				if strings.Contains(p, "parser failed") {
					t.Fatalf("the parser panicked: %s", p)
				}
			}
			if !utf8.ValidString(m.Text) || !utf8.ValidString(m.Subject) {
				t.Fatalf("invalid UTF-8 in %q / %q", m.Text, m.Subject)
			}
			if bytes.Contains(raw, []byte("body text")) && !strings.Contains(m.Text, "body text") {
				t.Errorf("lost the body: Text %q, problems %q", m.Text, m.Problems)
			}
		})
	}
	if m := email.Parse(cases["unknown charset"], email.ParseOptions{}); len(m.Problems) == 0 || m.From == nil {
		t.Errorf("unknown charset: problems %q, from %+v", m.Problems, m.From)
	}
}

func TestParseDetectsAutomaticMailAndOurOwn(t *testing.T) {
	base := []string{"From: a@example.org", "Subject: x", "Message-ID: <m1@example.org>"}
	cases := []struct {
		name   string
		header []string
		opts   email.ParseOptions
		kind   email.AutoKind
		ours   bool
	}{
		{"person", nil, email.ParseOptions{HasReturnPath: true, ReturnPath: "a@example.org"}, "", false},
		{"auto-replied", []string{"Auto-Submitted: auto-replied (vacation)"}, email.ParseOptions{}, email.AutoReply, false},
		{"auto-generated", []string{"Auto-Submitted: Auto-Generated"}, email.ParseOptions{}, email.AutoGenerated, false},
		{"auto-submitted no", []string{"Auto-Submitted: no"}, email.ParseOptions{}, "", false},
		{"precedence bulk", []string{"Precedence: bulk"}, email.ParseOptions{}, email.AutoBulk, false},
		{"precedence list", []string{"Precedence: list"}, email.ParseOptions{}, email.AutoBulk, false},
		{"x-autoreply", []string{"X-Autoreply: yes"}, email.ParseOptions{}, email.AutoReply, false},
		{"empty envelope sender", nil, email.ParseOptions{HasReturnPath: true}, email.AutoGenerated, false},
		{"empty Return-Path header", []string{"Return-Path: <>"}, email.ParseOptions{}, email.AutoGenerated, false},
		{"list-id", []string{"List-Id: <news.example.org>"}, email.ParseOptions{}, email.AutoBulk, false},
		{"report", []string{"Content-Type: multipart/report; report-type=delivery-status; boundary=b"}, email.ParseOptions{}, email.AutoGenerated, false},
		{"suppress", []string{"X-Auto-Response-Suppress: OOF, AutoReply"}, email.ParseOptions{}, email.AutoNoReply, false},
		{"loop header", []string{email.LoopHeader + ": Mail.Example.NET"}, email.ParseOptions{Domain: "mail.example.net"}, "", true},
		{"other instance's loop header", []string{email.LoopHeader + ": other.example"}, email.ParseOptions{Domain: "mail.example.net"}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines := append(append([]string{}, base...), c.header...)
			raw := crlfMsg(append(lines, "", "body")...)
			m := email.Parse(raw, c.opts)
			if m.Auto.Kind != c.kind || m.Ours != c.ours {
				t.Fatalf("auto %+v ours %v; want kind %q ours %v", m.Auto, m.Ours, c.kind, c.ours)
			}
			if (c.kind != "") != m.Auto.Automatic() || c.kind != "" && m.Auto.Reason == "" {
				t.Fatalf("Automatic() %v reason %q", m.Auto.Automatic(), m.Auto.Reason)
			}
		})
	}
	// A Message-ID under our domain is our own mail even without the header.
	raw := crlfMsg("From: a@example.org", "Message-ID: <x@mail.example.net>", "", "b")
	if m := email.Parse(raw, email.ParseOptions{Domain: "mail.example.net"}); !m.Ours {
		t.Error("our Message-ID is not recognised")
	}
}

func TestParseListsAttachmentsAndInlineImages(t *testing.T) {
	pdf := []byte("%PDF-1.4 fake pdf \x00\x01\x02")
	png := []byte("\x89PNG\r\n\x1a\nfake png")
	raw := crlfMsg(
		"From: a@example.org", "Subject: files", "MIME-Version: 1.0",
		`Content-Type: multipart/mixed; boundary="outer"`, "",
		"--outer", `Content-Type: multipart/related; boundary="rel"`, "",
		"--rel", "Content-Type: text/html; charset=utf-8", "",
		`<p>See <img src="cid:logo.123@example.org"></p>`,
		"--rel", "Content-Type: image/png", "Content-ID: <logo.123@example.org>", "Content-Transfer-Encoding: base64", "",
		base64.StdEncoding.EncodeToString(png),
		"--rel--",
		"--outer", `Content-Type: application/pdf; name="inv.pdf"`,
		`Content-Disposition: attachment; filename="../../etc/Rechnung =?UTF-8?Q?M=C3=A4rz?=.pdf"`,
		"Content-Transfer-Encoding: base64", "",
		base64.StdEncoding.EncodeToString(pdf),
		"--outer--", "")
	m := email.Parse(raw, email.ParseOptions{})
	if len(m.Attachments) != 2 {
		t.Fatalf("%d attachments: %+v", len(m.Attachments), m.Attachments)
	}
	byType := map[string]email.Attachment{}
	for _, a := range m.Attachments {
		byType[a.ContentType] = a
	}
	img, doc := byType["image/png"], byType["application/pdf"]
	if !img.Inline || img.ContentID != "logo.123@example.org" || !bytes.Equal(img.Data, png) || img.Size != len(png) || !strings.HasPrefix(img.Name, "attachment-") {
		t.Errorf("inline image %+v", img)
	}
	if doc.Inline || !bytes.Equal(doc.Data, pdf) || doc.Size != len(pdf) || doc.Name != "Rechnung März.pdf" {
		t.Errorf("pdf name %q inline %v size %d", doc.Name, doc.Inline, doc.Size)
	}
	if !strings.Contains(m.Text, "See") {
		t.Errorf("Text %q", m.Text)
	}
}

// TestParseEnmimeCorpus runs every message enmime ships for its own tests (MIT licence, read
// from the module cache) through Parse: none may panic, and each gives valid UTF-8.
func TestParseEnmimeCorpus(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/jhillyerd/enmime/v2").Output()
	if err != nil {
		t.Fatalf("locating enmime in the module cache: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata")
	var files []string
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("found %d test messages under %s, want enmime's 111", len(files), dir)
	}
	withFrom := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := email.Parse(raw, email.ParseOptions{Domain: "mail.example.net"})
		for _, p := range m.Problems {
			if strings.Contains(p, "parser failed") {
				t.Errorf("%s: %s", f, p)
			}
		}
		if !utf8.ValidString(m.Text) || !utf8.ValidString(m.Reply) || !utf8.ValidString(m.Subject) {
			t.Errorf("%s: invalid UTF-8", f)
		}
		if m.Text != "" && m.Reply == "" {
			t.Errorf("%s: text without a reply", f)
		}
		for _, a := range m.Attachments {
			if a.Size != len(a.Data) || strings.ContainsAny(a.Name, "/\\\x00\n") || a.Name == "" {
				t.Errorf("%s: attachment %q size %d/%d", f, a.Name, a.Size, len(a.Data))
			}
		}
		if m.From != nil {
			withFrom++
		}
	}
	t.Logf("%d messages parsed, %d with a From address", len(files), withFrom)
	if withFrom < len(files)/2 {
		t.Errorf("only %d of %d messages have a From", withFrom, len(files))
	}
}

// BenchmarkParse measures parsing a typical reply: multipart/alternative, a quoted history
// and a small attachment.
func BenchmarkParse(b *testing.B) {
	raw := crlfMsg("From: Ann <ann@example.org>", "To: acme@mail.example.net", "Subject: Re: [#12] Printer",
		"Message-ID: <r1@example.org>", "In-Reply-To: <n1@mail.example.net>", "MIME-Version: 1.0",
		`Content-Type: multipart/mixed; boundary="m"`, "",
		"--m", `Content-Type: multipart/alternative; boundary="a"`, "",
		"--a", "Content-Type: text/plain; charset=utf-8", "",
		"It works now, thanks!\r\n\r\nOn Tue, 3 Mar 2026, Support <s@mail.example.net> wrote:\r\n> "+strings.Repeat("Did you try turning it off and on? ", 40),
		"--a", "Content-Type: text/html; charset=utf-8", "",
		"<p>It works now, thanks!</p><blockquote>"+strings.Repeat("Did you try turning it off and on? ", 40)+"</blockquote>",
		"--a--", "--m", `Content-Type: image/png; name="s.png"`, "Content-Transfer-Encoding: base64", "",
		base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1, 2, 3}, 3000)), "--m--", "")
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if m := email.Parse(raw, email.ParseOptions{Domain: "mail.example.net"}); m.Reply != "It works now, thanks!" {
			b.Fatalf("reply %q", m.Reply)
		}
	}
}

// A multipart whose boundary never comes is read as text, not dropped.
func TestParseMultipartWithoutParts(t *testing.T) {
	raw := "From: b@example.org\r\nTo: a@mail.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"nowhere\"\r\n" +
		"Subject: x\r\n\r\nBroken but readable.\r\n"
	m := email.Parse([]byte(raw), email.ParseOptions{})
	if m.Text != "Broken but readable." || m.Reply != m.Text || len(m.Problems) == 0 {
		t.Errorf("text %q, reply %q, problems %q", m.Text, m.Reply, m.Problems)
	}
}
