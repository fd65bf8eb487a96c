package email_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/email"
)

// FuzzParse: any bytes parse without a panic into valid UTF-8 text, valid IDs and valid
// addresses, with a reply that is a prefix of the text.
func FuzzParse(f *testing.F) {
	f.Add([]byte("From: a@example.org\r\nSubject: hi\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n> quoted"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b--"))
	f.Add([]byte("From: =?x-unknown?Q?abc?= <a@b.c>\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n\xff\xfe"))
	f.Add([]byte("Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-ID: <c@d>\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n!!\r\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := email.Parse(raw, email.ParseOptions{Domain: "mail.example.net"})
		for _, p := range m.Problems {
			if strings.Contains(p, "parser failed") {
				t.Fatalf("panic inside the MIME parser: %s", p)
			}
		}
		if !utf8.ValidString(m.Text) || !utf8.ValidString(m.Reply) || !utf8.ValidString(m.Subject) {
			t.Fatal("invalid UTF-8")
		}
		if !strings.HasPrefix(m.Text, m.Reply) {
			t.Fatalf("reply %q is not a prefix of the text %q", m.Reply, m.Text)
		}
		if strings.ContainsAny(m.Subject, "\r\n") {
			t.Fatalf("multi-line subject %q", m.Subject)
		}
		if m.MessageID != "" && !email.ValidMessageID(m.MessageID) {
			t.Fatalf("invalid Message-ID %q", m.MessageID)
		}
		for _, id := range append(slices.Clone(m.References), m.InReplyTo...) {
			if !email.ValidMessageID(id) {
				t.Fatalf("invalid reference %q", id)
			}
		}
		addrs := append(append(slices.Clone(m.To), m.Cc...), m.ReplyTo...)
		if m.From != nil {
			addrs = append(addrs, *m.From)
		}
		for _, a := range addrs {
			if email.ValidAddress(a.Address) != nil || strings.ContainsAny(a.Name, "\r\n") {
				t.Fatalf("invalid address %+v", a)
			}
		}
		for _, a := range m.Attachments {
			if a.Size != len(a.Data) || a.Name == "" || strings.ContainsAny(a.Name, "/\\\r\n\x00") {
				t.Fatalf("bad attachment %q (%d/%d)", a.Name, a.Size, len(a.Data))
			}
		}
	})
}

// FuzzParseAddress: an accepted address formats and parses back to itself, and an address
// built from valid parts is accepted with the same value.
func FuzzParseAddress(f *testing.F) {
	f.Add("Ann <ann@example.org>", "Zoë Café", "ann.b+tag", "example.org")
	f.Add("=?UTF-8?Q?J=C3=BCrgen?= <j@example.de>", "\"quoted\"", "x", "a.b")
	f.Add("a@b", "", "o'brien", "mail.example.co.uk")
	f.Fuzz(func(t *testing.T, s, name, local, domain string) {
		if a, err := email.ParseAddress(s); err == nil {
			if email.ValidAddress(a.Address) != nil {
				t.Fatalf("accepted %q with invalid address %q", s, a.Address)
			}
			b, err := email.ParseAddress(a.String())
			if err != nil || b != a {
				t.Fatalf("%q → %+v → %q → %+v, %v", s, a, a.String(), b, err)
			}
		}
		addr := local + "@" + domain
		if email.ValidAddress(addr) == nil {
			want := email.Address{Name: email.CleanLine(name), Address: addr}
			got, err := email.ParseAddress(want.String())
			if err != nil || got != want {
				t.Fatalf("valid %+v formatted %q parsed to %+v, %v", want, want.String(), got, err)
			}
		}
	})
}

// FuzzMessageIDs: formatted valid IDs parse back in order, and whatever a header holds, only
// valid IDs come out.
func FuzzMessageIDs(f *testing.F) {
	f.Add("<a@b> <c@d>", "x@y", "z.1@w")
	f.Add("a@b c@d", "<bad", "")
	f.Add("<  spaced@x  > (comment) <a@b>", "@", "a@b")
	f.Fuzz(func(t *testing.T, header, id1, id2 string) {
		for _, id := range email.ParseMessageIDs(header, 10) {
			if !email.ValidMessageID(id) {
				t.Fatalf("ParseMessageIDs(%q) gave invalid %q", header, id)
			}
		}
		if len(email.ParseMessageIDs(header, 10)) > 10 {
			t.Fatal("more than max IDs")
		}
		var ids []string
		for _, id := range []string{id1, id2} {
			if email.ValidMessageID(id) && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		if got := email.ParseMessageIDs(email.FormatMessageIDs(ids), 10); !slices.Equal(got, ids) {
			t.Fatalf("%q → %q → %q", ids, email.FormatMessageIDs(ids), got)
		}
	})
}

// FuzzThreadSubject: the threaded subject carries the reference, is one clean line, and
// threading it again (as a reply's "Re: …" subject) changes nothing.
func FuzzThreadSubject(f *testing.F) {
	f.Add(int64(1042), "Re: AW: [#1042] Printer")
	f.Add(int64(1), "回复: x")
	f.Add(int64(99), "\u202eevil\r\nBcc: x")
	f.Fuzz(func(t *testing.T, ref int64, subject string) {
		if ref <= 0 {
			return
		}
		s := email.ThreadSubject(ref, subject)
		if got, ok := email.SubjectRef(s); !ok || got != ref {
			t.Fatalf("SubjectRef(%q) = %d %v, want %d", s, got, ok, ref)
		}
		if strings.ContainsAny(s, "\r\n\t") || !utf8.ValidString(s) {
			t.Fatalf("unclean subject %q", s)
		}
		for _, again := range []string{s, "Re: " + s, "RE: Fwd: " + s} {
			if got := email.ThreadSubject(ref, again); got != s {
				t.Fatalf("ThreadSubject(%q) = %q, want %q", again, got, s)
			}
		}
	})
}

// FuzzSplitRecipient: a reply address built from valid parts splits back into them, and
// anything SplitRecipient accepts rebuilds to the same address.
func FuzzSplitRecipient(f *testing.F) {
	f.Add("acme", "k3xq7a", "mail.example.net", "acme+k3x@mail.example.net")
	f.Add("a-b", "", "x.y", "A+B@X.Y")
	f.Fuzz(func(t *testing.T, mailbox, tag, domain, addr string) {
		if a, err := email.ReplyAddress(mailbox, tag, domain); err == nil {
			r, ok := email.SplitRecipient(a, domain)
			if !ok || r.Mailbox != mailbox || r.Tag != tag || r.Address != a {
				t.Fatalf("ReplyAddress(%q,%q,%q) = %q split to %+v %v", mailbox, tag, domain, a, r, ok)
			}
		}
		if r, ok := email.SplitRecipient(addr, domain); ok {
			back, err := email.ReplyAddress(r.Mailbox, r.Tag, domain)
			if err != nil || back != r.Address || email.ValidAddress(back) != nil {
				t.Fatalf("SplitRecipient(%q) = %+v rebuilt %q, %v", addr, r, back, err)
			}
		}
	})
}

// FuzzTrimQuoted: the reply is a non-empty prefix of a non-empty text.
func FuzzTrimQuoted(f *testing.F) {
	f.Add("a\n\nOn Mon, X <x@y> wrote:\n> b")
	f.Add("> a\nb\n> c")
	f.Add("From: a\nSent: b\nTo: c\n")
	f.Fuzz(func(t *testing.T, text string) {
		r := email.TrimQuoted(text)
		if !strings.HasPrefix(text, r) {
			t.Fatalf("TrimQuoted(%q) = %q, not a prefix", text, r)
		}
		if strings.TrimSpace(text) != "" && strings.TrimSpace(r) == "" {
			t.Fatalf("TrimQuoted(%q) lost everything", text)
		}
	})
}

// FuzzAttach: any file name and content attach to a composed email whose lines stay within
// RFC 5322's 998 characters, that parses back without problems to the same email with that
// one file, byte for byte.
func FuzzAttach(f *testing.F) {
	f.Add("report.pdf", "application/pdf", []byte("%PDF-1.4"))
	f.Add("Angebot für Jürgen – März.pdf", "image/png", []byte{0x89, 'P', 'N', 'G'})
	f.Add(`a"b\c/d.txt`, "text/plain; charset=x", []byte("--tenantdesk-mixed-\r\n"))
	f.Add("\r\n\x00", "", []byte{0})
	n := email.Notification{From: email.Address{Address: "support@example.net"}, To: []email.Address{{Address: "c@example.org"}},
		Domain: "mail.example.net", MessageID: "fuzz@mail.example.net", Subject: "Hi", Text: "Hello"}
	out, err := email.Compose(n)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, ct string, data []byte) {
		if len(data) == 0 {
			return
		}
		raw, err := email.Attach(out.Raw, []email.OutFile{{Name: name, ContentType: ct, Data: bytes.NewReader(data)}})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(raw), "\r\n") {
			if len(l) > 998 {
				t.Fatalf("a line of %d bytes", len(l))
			}
		}
		m := email.Parse(raw, email.ParseOptions{})
		if len(m.Problems) > 0 || m.MessageID != n.MessageID || m.Text != "##- Please type your reply above this line -##\n\nHello" {
			t.Fatalf("parsed back: %v %q %q", m.Problems, m.MessageID, m.Text)
		}
		if len(m.Attachments) != 1 || !bytes.Equal(m.Attachments[0].Data, data) {
			t.Fatalf("attachments parsed back: %d", len(m.Attachments))
		}
	})
}
