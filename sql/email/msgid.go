package email

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"io"
	"mime"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

// MaxMessageIDLen bounds a Message-ID we keep; real ones are under 100 bytes, and a longer
// one is junk we do not want as a database key.
const MaxMessageIDLen = 250

// maxReferences bounds the Message-IDs kept from one References header.
const maxReferences = 50

// NewMessageID returns a fresh Message-ID under domain, without angle brackets:
// 26 lower-case base32 characters (130 random bits) "@" domain.
func NewMessageID(domain string) (string, error) {
	if err := ValidDomain(domain); err != nil {
		return "", err
	}
	return NewToken() + "@" + strings.ToLower(domain), nil
}

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewToken returns 26 lower-case base32 characters carrying 130 random bits: the
// unguessable part of a Message-ID or a reply address. Lower case because mail systems
// sometimes fold the case of local parts.
func NewToken() string {
	var b [17]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic(fmt.Sprintf("email: crypto/rand failed: %v", err)) // never on Linux ≥ 3.17
	}
	return lowerBase32.EncodeToString(b[:])[:26]
}

// ValidMessageID accepts what we store as a Message-ID (without angle brackets): 1 to
// MaxMessageIDLen bytes of printable ASCII other than space, '<' and '>', with an '@'.
// RFC 5322 is stricter (dot-atoms); real mail is not, and matching needs only equality.
func ValidMessageID(id string) bool {
	if id == "" || len(id) > MaxMessageIDLen || !strings.Contains(id, "@") {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

// ParseMessageIDs extracts the Message-IDs of a Message-ID, In-Reply-To or References
// header, in order and without angle brackets. Bracketed IDs are taken as written; a header
// without brackets is split at white space. Invalid IDs (see ValidMessageID) and comments are
// skipped; duplicates are kept once. At most max IDs are returned (the first and the last
// max-1 when there are more: the root and the most recent messages are what threading needs).
func ParseMessageIDs(header string, max int) []string {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if ValidMessageID(id) && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if strings.Contains(header, "<") {
		rest := header
		for {
			open := strings.IndexByte(rest, '<')
			if open < 0 {
				break
			}
			end := strings.IndexByte(rest[open:], '>')
			if end < 0 {
				break
			}
			add(strings.TrimSpace(rest[open+1 : open+end]))
			rest = rest[open+end+1:]
		}
	} else {
		for _, f := range strings.Fields(header) {
			add(f)
		}
	}
	if max > 0 && len(ids) > max {
		ids = append(ids[:1], ids[len(ids)-max+1:]...)
	}
	return ids
}

// FormatMessageIDs formats IDs for an In-Reply-To or References header: each in angle
// brackets, separated by spaces.
func FormatMessageIDs(ids []string) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("<" + id + ">")
	}
	return b.String()
}

// wordDecoder decodes RFC 2047 encoded words in any charset golang.org/x/text knows (the
// WHATWG list); an unknown charset leaves the encoded word as written.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(input), nil
}}
