package email

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"net/mail"
	"regexp"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// LoopHeader marks every email we send, with MAIL_DOMAIN as its value, so that our own mail
// coming back (a forwarding rule that points at the receiver, a mailbox we poll that is also
// a recipient) is recognised and ignored instead of answered.
const LoopHeader = "X-Tenantdesk-Loop"

// ReplyAboveLine opens every notification's text. A reply quotes it, and Parse cuts the
// quoted history at it: the most reliable separator, whatever the customer's mail client.
const ReplyAboveLine = "##- Please type your reply above this line -##"

// Notification is one email about a ticket, as the desk describes it. Every field is plain
// data; Compose validates them all.
type Notification struct {
	// From is the visible sender (MAIL_FROM, or an organization's own sender); its address is
	// also the envelope sender that bounces go to.
	From Address
	// To are the recipients; the outbox sends one email per recipient, so usually one.
	To []Address
	// ReplyTo is where a reply goes: the ticket's per-ticket address (see ReplyAddress).
	ReplyTo *Address
	// Domain is MAIL_DOMAIN: the Message-ID's domain and the loop marker's value.
	Domain string
	// MessageID is this email's ID without brackets; empty generates one (see NewMessageID).
	// The outbox keeps it so that a retry sends the same ID.
	MessageID string
	// Ref is the ticket's short reference, shown as "[#Ref]" in the subject; 0 for an email
	// about no ticket (a test email, a sign-in link).
	Ref int64
	// Subject is the ticket's subject; prefixes and references are stripped (BaseSubject).
	Subject string
	// Thread are the Message-IDs of the ticket's earlier emails, in and out, oldest first.
	// In-Reply-To names the last, References the chain (the first and the most recent).
	Thread []string
	// Text is the plain-text body. The HTML alternative is made from it, escaped.
	Text string
	// Date is the Date header; zero means now.
	Date time.Time
}

// Outgoing is a composed email, ready for the outbox and the SMTP client: the envelope and
// the exact bytes to send (CRLF line ends), so that a retry sends the same message.
type Outgoing struct {
	MessageID string
	// From is the envelope sender (MAIL FROM); To the envelope recipients (RCPT TO).
	From string
	To   []string
	Raw  []byte
}

// ErrNotification is the error kind of a Notification that cannot be composed.
var ErrNotification = errors.New("email: invalid notification")

// Compose builds the email for n: UTF-8 throughout, RFC 2047 names and subject, a
// quoted-printable text/plain part and an escaped text/html alternative, its own Message-ID
// under n.Domain, In-Reply-To and References chaining the ticket's emails, the subject
// "[#ref] base subject", Reply-To the ticket's address, "Auto-Submitted: auto-generated"
// (RFC 3834: auto-responders must not answer it), "X-Auto-Response-Suppress: All" (Exchange's
// equivalent) and LoopHeader.
func Compose(n Notification) (*Outgoing, error) {
	if err := ValidDomain(n.Domain); err != nil {
		return nil, fmt.Errorf("%w: domain: %v", ErrNotification, err)
	}
	if err := ValidAddress(n.From.Address); err != nil {
		return nil, fmt.Errorf("%w: from: %v", ErrNotification, err)
	}
	if len(n.To) == 0 {
		return nil, fmt.Errorf("%w: no recipient", ErrNotification)
	}
	if n.Ref < 0 {
		return nil, fmt.Errorf("%w: reference %d", ErrNotification, n.Ref)
	}
	id := n.MessageID
	if id == "" {
		var err error
		if id, err = NewMessageID(n.Domain); err != nil {
			return nil, err
		}
	}
	if !ValidMessageID(id) {
		return nil, fmt.Errorf("%w: Message-ID %q", ErrNotification, id)
	}
	var thread []string
	for _, t := range n.Thread {
		if !ValidMessageID(t) {
			return nil, fmt.Errorf("%w: thread Message-ID %q", ErrNotification, t)
		}
		if t != id {
			thread = append(thread, t)
		}
	}
	if len(thread) > maxReferences {
		thread = append(thread[:1], thread[len(thread)-maxReferences+1:]...)
	}

	m := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP),
		gomail.WithNoDefaultUserAgent())
	m.FromMailAddress(mailAddr(n.From))
	out := &Outgoing{MessageID: id, From: n.From.Address}
	var to []*mail.Address
	for _, a := range n.To {
		if err := ValidAddress(a.Address); err != nil {
			return nil, fmt.Errorf("%w: to: %v", ErrNotification, err)
		}
		to = append(to, mailAddr(a))
		out.To = append(out.To, a.Address)
	}
	m.ToMailAddress(to...)
	if n.ReplyTo != nil {
		if err := ValidAddress(n.ReplyTo.Address); err != nil {
			return nil, fmt.Errorf("%w: reply-to: %v", ErrNotification, err)
		}
		m.ReplyToMailAddress(mailAddr(*n.ReplyTo))
	}
	if n.Ref == 0 {
		m.Subject(BaseSubject(n.Subject))
	} else {
		m.Subject(ThreadSubject(n.Ref, n.Subject))
	}
	m.SetMessageIDWithValue(id)
	if len(thread) > 0 {
		m.SetGenHeader(gomail.HeaderInReplyTo, "<"+thread[len(thread)-1]+">")
		m.SetGenHeader(gomail.HeaderReferences, FormatMessageIDs(thread))
	}
	date := n.Date
	if date.IsZero() {
		date = time.Now()
	}
	m.SetDateWithValue(date)
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	m.SetGenHeader(LoopHeader, strings.ToLower(n.Domain))

	text := ReplyAboveLine + "\n\n" + cleanBody(n.Text)
	m.SetBodyString(gomail.TypeTextPlain, crlf(text))
	m.AddAlternativeString(gomail.TypeTextHTML, crlf(textToHTML(text)))

	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("email: writing the message: %w", err)
	}
	out.Raw = buf.Bytes()
	return out, nil
}

func mailAddr(a Address) *mail.Address {
	return &mail.Address{Name: CleanLine(a.Name), Address: a.Address}
}

// cleanBody makes body text safe to send: valid UTF-8, LF line ends, no control characters
// other than tab and newline.
func cleanBody(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r >= 0x20 && r != 0x7f && !(r >= 0x80 && r < 0xa0) {
			return r
		}
		return -1
	}, s)
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// linkPattern finds http and https URLs in plain text for the HTML alternative.
var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+[^\s<>".,;:!?)\]'}]`)

// textToHTML renders plain text as a minimal HTML document: every character escaped,
// paragraphs at blank lines, line breaks kept, http(s) links clickable. Nothing in the text
// can become markup.
func textToHTML(text string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n" +
		"<body style=\"font-family:sans-serif;font-size:15px;line-height:1.4\">\n")
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		para = strings.Trim(para, "\n")
		if para == "" {
			continue
		}
		b.WriteString("<p>")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			writeLinked(&b, line)
		}
		b.WriteString("</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

func writeLinked(b *strings.Builder, line string) {
	last := 0
	for _, loc := range linkPattern.FindAllStringIndex(line, -1) {
		b.WriteString(html.EscapeString(line[last:loc[0]]))
		u := html.EscapeString(line[loc[0]:loc[1]])
		b.WriteString(`<a href="` + u + `">` + u + `</a>`)
		last = loc[1]
	}
	b.WriteString(html.EscapeString(line[last:]))
}
