// Package email is the email channel's message layer: it composes the notifications
// tenantdesk sends (threading headers, a short ticket reference in the subject, a per-ticket
// reply address, loop and auto-reply markers, plain text plus an escaped HTML alternative) and
// parses the mail it receives (addresses, threading headers, text with the quoted history
// trimmed, auto-reply and bulk detection, our own mail coming back, attachments) without ever
// failing on malformed input.
//
// It knows nothing of tenants or tickets beyond plain values: the desk maps a reference, a
// reply address or a Message-ID to its own records. Sub-packages carry the transports:
// smtpout sends, imapin polls a mailbox, mailtest runs real servers for tests; the built-in
// SMTP receiver, a door into the app like its HTTP routes, is handlers/email/smtpin.
package email

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Address is a mailbox: a display name (any UTF-8, may be empty) and an addr-spec.
type Address struct {
	Name    string
	Address string
}

// String formats the address for a header, RFC 2047-encoding a non-ASCII name.
func (a Address) String() string {
	return (&mail.Address{Name: a.Name, Address: a.Address}).String()
}

// ErrAddress is the error kind of an address that is not a plain, deliverable mailbox.
var ErrAddress = errors.New("email: invalid address")

// ParseAddress parses one mailbox ("Name <local@domain>" or "local@domain", the name possibly
// RFC 2047-encoded) and validates the addr-spec with ValidAddress. The name is cleaned of
// control and bidirectional-override characters.
func ParseAddress(s string) (Address, error) {
	if len(s) > 1000 {
		return Address{}, fmt.Errorf("%w: longer than 1000 bytes", ErrAddress)
	}
	a, err := addressParser.Parse(s)
	if err != nil {
		return Address{}, fmt.Errorf("%w: %v", ErrAddress, err)
	}
	if err := ValidAddress(a.Address); err != nil {
		return Address{}, err
	}
	return Address{Name: CleanLine(a.Name), Address: a.Address}, nil
}

var addressParser = mail.AddressParser{WordDecoder: wordDecoder}

// ValidAddress accepts an addr-spec this system can send to and store: a local part of
// printable ASCII without spaces, quotes, brackets or backslashes (1–64 bytes, no leading,
// trailing or doubled dot), "@", and a domain of letters, digits and hyphens in dot-separated
// labels of 1–63 bytes (at most 253 bytes), with a dot. Quoted local parts, address literals
// and non-ASCII addresses are refused: they are rare in support mail and unsafe to pass on.
func ValidAddress(addr string) error {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return fmt.Errorf("%w: %q needs local@domain", ErrAddress, addr)
	}
	local, domain := addr[:at], addr[at+1:]
	if len(local) > 64 {
		return fmt.Errorf("%w: local part longer than 64 bytes", ErrAddress)
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return fmt.Errorf("%w: misplaced dot in the local part", ErrAddress)
	}
	for i := 0; i < len(local); i++ {
		if !atext(local[i]) && local[i] != '.' {
			return fmt.Errorf("%w: character %q in the local part", ErrAddress, local[i])
		}
	}
	return validDomain(domain)
}

// ValidDomain accepts a host name of letters, digits and hyphens in dot-separated labels,
// with at least one dot (or exactly "localhost"), as used for MAIL_DOMAIN.
func ValidDomain(domain string) error {
	if domain == "localhost" {
		return nil
	}
	return validDomain(domain)
}

func validDomain(domain string) error {
	if len(domain) > 253 || !strings.Contains(domain, ".") {
		return fmt.Errorf("%w: domain %q needs a dot and at most 253 bytes", ErrAddress, domain)
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%w: domain label %q", ErrAddress, label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%w: character %q in the domain", ErrAddress, c)
			}
		}
	}
	return nil
}

// atext reports whether c may appear in an unquoted local part (RFC 5322 atext).
func atext(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// NormalizeAddress is the form addresses are compared and stored in: trimmed and lower-cased.
// Local parts are case-sensitive in theory; in practice every provider folds them, and a
// contact must not split in two over capitalisation.
func NormalizeAddress(addr string) string {
	return strings.ToLower(strings.TrimSpace(addr))
}

// CleanLine makes outside text safe for one line of a header or a display name: invalid UTF-8
// replaced, control characters (line breaks included) turned into spaces, bidirectional
// overrides and other invisible format characters dropped, runs of spaces collapsed, trimmed.
func CleanLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.IsControl(r) || unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.Is(unicode.Cf, r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
