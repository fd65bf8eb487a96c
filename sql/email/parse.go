package email

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"net/mail"
	"net/textproto"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/inbucket/html2text"
	"github.com/jhillyerd/enmime/v2"
)

// Message is a received email, parsed. Fields that were missing or could not be read are
// empty; Problems says what was wrong. Nothing in it is HTML: bodies are text.
type Message struct {
	// MessageID is the Message-ID without brackets; empty when missing or invalid.
	MessageID string
	// InReplyTo and References are the threading headers' Message-IDs, oldest first.
	InReplyTo  []string
	References []string

	// From is the first author; nil when the header is missing or unreadable.
	From    *Address
	ReplyTo []Address
	To, Cc  []Address
	// Subject is decoded and cleaned to one line.
	Subject string
	// Date is the Date header; zero when missing or invalid.
	Date time.Time

	// Text is the whole body as text (the text/plain part, or the HTML part turned into text),
	// with the quoted history: the full original that agents can open.
	Text string
	// Reply is Text without the quoted history: the new part written by the sender. It equals
	// Text when no history was found, and is never empty when Text is not.
	Reply string
	// FromHTML is true when the message had no text part and Text was made from its HTML.
	FromHTML bool

	// Auto says why the message was written by a program (an auto-reply, a bounce, bulk or
	// list mail); such mail is stored but never answered automatically.
	Auto Auto
	// Ours is true when the message is our own mail coming back (LoopHeader carries our
	// domain, or its Message-ID is ours): it must be ignored, never answered.
	Ours bool

	// Attachments are every part that is not the body text: attachments, inline images
	// (referenced from HTML as cid:), other parts.
	Attachments []Attachment

	// Problems lists what was malformed (broken MIME, unknown charsets, unreadable headers).
	Problems []string
}

// Attachment is one non-body part of a message.
type Attachment struct {
	// Name is a safe file name (no directories, no control characters, at most 200 bytes);
	// "attachment-N" when the part had none.
	Name string
	// ContentType is the media type without parameters, lower case; application/octet-stream
	// when missing or malformed.
	ContentType string
	// ContentID is the Content-ID without brackets, for cid: references.
	ContentID string
	// Inline is true for parts meant to show inside the message (Content-Disposition inline,
	// or a Content-ID referenced by the HTML body).
	Inline bool
	// Data is the decoded content; Size its length.
	Data []byte
	Size int
}

// Key is a stable identity of a message for deduplication: its Message-ID, or, without one,
// the SHA-256 of its bytes. Receiving the same message twice (an SMTP retry, an IMAP
// re-scan) gives the same key.
func Key(m *Message, raw []byte) string {
	if m != nil && m.MessageID != "" {
		return "mid:" + m.MessageID
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseOptions tell Parse what the transport knows.
type ParseOptions struct {
	// Domain is MAIL_DOMAIN, to recognise our own mail; empty disables that check.
	Domain string
	// ReturnPath is the SMTP envelope sender (MAIL FROM) when the message came over SMTP;
	// "" with HasReturnPath is the null sender of bounces and auto-replies. Without
	// HasReturnPath the Return-Path header (added by the delivering server) is read instead.
	ReturnPath    string
	HasReturnPath bool
}

// maxTextBytes bounds the text kept from one message body: a 25 MB text part is an attack or
// a mistake, not a support question; agents still have the raw message.
const maxTextBytes = 1 << 20

// parser trusts a declared charset, as mail clients do, and guesses only where none is
// declared: guessing every part cost 80% of the parse time and can misread correct UTF-8.
var parser = enmime.NewParser(
	enmime.DisableCharacterDetection(true),
	enmime.SkipMalformedParts(true),
	enmime.MaxStoredPartErrors(20),
	enmime.SetReadPartErrorPolicy(enmime.AllowCorruptTextPartErrorPolicy),
)

// Parse reads a raw RFC 5322 message. It never fails: malformed MIME, unknown charsets,
// broken headers and binary garbage give a Message with what could be read and the reasons
// in Problems.
func Parse(raw []byte, opts ParseOptions) (msg *Message) {
	msg = &Message{}
	defer func() {
		// The MIME library is hardened and fuzzed, but a panic on one hostile message must
		// not take the receiver down: keep what was read and say so.
		if r := recover(); r != nil {
			msg.Problems = append(msg.Problems, fmt.Sprintf("the MIME parser failed: %v", r))
			if msg.Text == "" {
				msg.Text = cleanText(string(raw))
				msg.Reply = msg.Text
			}
		}
	}()
	env, err := parser.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		msg.Problems = append(msg.Problems, "unreadable MIME structure: "+err.Error())
		parseFallback(msg, raw, opts)
		return msg
	}
	for _, e := range env.Errors {
		if e.Name == enmime.ErrorPlainTextFromHTML && !e.Severe {
			continue // a notice that the text comes from HTML, which FromHTML says
		}
		msg.Problems = append(msg.Problems, e.Error())
	}
	h := func(name string) string { return env.GetHeader(name) }
	rawHeader := textproto.MIMEHeader(env.Root.Header)
	fillHeaders(msg, rawHeader, h, func(key string) ([]*mail.Address, error) { return env.AddressList(key) })

	text := env.Text
	if env.HTML != "" && env.Root.BreadthMatchFirst(func(p *enmime.Part) bool {
		return p.ContentType == "text/plain" && p.Disposition != "attachment"
	}) == nil {
		// enmime has turned the HTML into text already; convert again only when it could not.
		msg.FromHTML = true
		if strings.TrimSpace(text) == "" {
			text, _ = html2text.FromString(env.HTML)
		}
	}
	if strings.TrimSpace(text) == "" && env.Root.FirstChild == nil && strings.HasPrefix(env.Root.ContentType, "multipart/") {
		// A multipart whose boundary never comes: its body is all there is to read.
		msg.Problems = append(msg.Problems, "a multipart message without its parts: the body is read as text")
		text = rawBody(raw)
	}
	msg.Text = cleanText(text)
	msg.Reply = TrimQuoted(msg.Text)
	msg.Attachments = attachments(env)
	classify(msg, rawHeader, env.Root.ContentType, opts)
	return msg
}

// rawBody is what follows a message's header, as text.
func rawBody(raw []byte) string {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return string(raw[i+4:])
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return string(raw[i+2:])
	}
	return ""
}

// parseFallback reads what it can when the MIME structure is unreadable: the header through
// net/mail, the rest as text.
func parseFallback(msg *Message, raw []byte, opts ParseOptions) {
	mm, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		msg.Problems = append(msg.Problems, "unreadable header: "+err.Error())
		msg.Text = cleanText(string(raw))
		msg.Reply = msg.Text
		classify(msg, nil, "", opts)
		return
	}
	hdr := textproto.MIMEHeader(mm.Header)
	dec := func(name string) string {
		v := hdr.Get(name)
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			return d
		}
		return v
	}
	fillHeaders(msg, hdr, dec, func(key string) ([]*mail.Address, error) {
		return enmime.ParseAddressList(hdr.Get(key))
	})
	var body bytes.Buffer
	_, _ = body.ReadFrom(mm.Body)
	msg.Text = cleanText(body.String())
	msg.Reply = TrimQuoted(msg.Text)
	classify(msg, hdr, "", opts)
}

func fillHeaders(msg *Message, raw textproto.MIMEHeader, get func(string) string,
	list func(string) ([]*mail.Address, error)) {
	if ids := ParseMessageIDs(raw.Get("Message-Id"), 1); len(ids) == 1 {
		msg.MessageID = ids[0]
	}
	msg.InReplyTo = ParseMessageIDs(raw.Get("In-Reply-To"), maxReferences)
	msg.References = ParseMessageIDs(strings.Join(raw.Values("References"), " "), maxReferences)
	msg.Subject = truncateRunes(CleanLine(get("Subject")), 1000)
	if d := raw.Get("Date"); d != "" {
		if t, err := mail.ParseDate(d); err == nil {
			msg.Date = t
		} else {
			msg.Problems = append(msg.Problems, "unreadable Date header")
		}
	}
	addrs := func(key string) []Address {
		if raw.Get(key) == "" {
			return nil
		}
		l, err := list(key)
		if err != nil {
			msg.Problems = append(msg.Problems, fmt.Sprintf("unreadable %s header: %v", key, err))
			// Keep the readable addresses of a list with one broken entry.
			for _, piece := range strings.Split(raw.Get(key), ",") {
				if one, err := enmime.ParseAddressList(piece); err == nil {
					l = append(l, one...)
				}
			}
		}
		var out []Address
		for _, a := range l {
			if a == nil || ValidAddress(a.Address) != nil {
				continue
			}
			out = append(out, Address{Name: truncateRunes(CleanLine(a.Name), 200), Address: a.Address})
			if len(out) == 100 {
				break
			}
		}
		return out
	}
	if from := addrs("From"); len(from) > 0 {
		msg.From = &from[0]
	}
	msg.ReplyTo = addrs("Reply-To")
	msg.To = addrs("To")
	msg.Cc = addrs("Cc")
}

// cleanText makes body text safe to store and show as text: valid UTF-8, LF line ends, no
// control characters but tab and newline, no invisible format characters that reorder
// text, trailing white space cut, at most maxTextBytes.
func cleanText(s string) string {
	if len(s) > maxTextBytes {
		s = s[:maxTextBytes]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			return -1
		case r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069: // bidi overrides
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

func attachments(env *enmime.Envelope) []Attachment {
	var out []Attachment
	seen := map[*enmime.Part]bool{}
	html := strings.ToLower(env.HTML)
	add := func(p *enmime.Part, inline bool) {
		if seen[p] {
			return
		}
		seen[p] = true
		// The body itself (a text part without a file name) is not an attachment.
		if (p.ContentType == "text/plain" || p.ContentType == "text/html") && p.FileName == "" &&
			p.Disposition != "attachment" {
			return
		}
		a := Attachment{
			ContentType: mediaType(p.ContentType),
			ContentID:   strings.Trim(strings.TrimSpace(p.ContentID), "<>"),
			Data:        p.Content,
			Size:        len(p.Content),
			Inline:      inline,
		}
		if !ValidMessageID(a.ContentID) && !validToken(a.ContentID) {
			a.ContentID = ""
		}
		if a.ContentID != "" && strings.Contains(html, "cid:"+strings.ToLower(a.ContentID)) {
			a.Inline = true
		}
		a.Name = safeFileName(p.FileName, len(out)+1)
		out = append(out, a)
	}
	for _, p := range env.Attachments {
		add(p, p.Disposition == "inline")
	}
	for _, p := range env.Inlines {
		add(p, true)
	}
	for _, p := range env.OtherParts {
		add(p, false)
	}
	return out
}

func validToken(s string) bool {
	if s == "" || len(s) > MaxMessageIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

// mediaType validates a media type (type/subtype of RFC 2045 token characters), lower case;
// anything else is application/octet-stream.
func mediaType(ct string) string {
	ct = strings.ToLower(strings.TrimSpace(ct))
	if mt, _, err := mime.ParseMediaType(ct); err == nil && strings.Count(mt, "/") == 1 && len(mt) <= 127 {
		return mt
	}
	return "application/octet-stream"
}

// safeFileName keeps the last path element of a part's file name, cleaned to one line
// without path separators or leading dots, cut to 200 bytes on a rune boundary;
// "attachment-N" when nothing is left.
func safeFileName(name string, n int) string {
	name = CleanLine(name)
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	name = strings.TrimLeft(name, ". ")
	if name == "/" || name == "" {
		return fmt.Sprintf("attachment-%d", n)
	}
	if len(name) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	return name
}
