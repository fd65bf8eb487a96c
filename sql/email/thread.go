package email

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// MaxSubjectRunes bounds the subject text we compose (the reference comes on top).
const MaxSubjectRunes = 200

// refPattern finds a ticket reference "[#1042]" anywhere in a subject.
var refPattern = regexp.MustCompile(`\[#([1-9][0-9]{0,17})\]`)

// replyPrefix matches one reply or forward prefix as mail clients write them in many
// languages ("Re:", "RE[2]:", "Fwd:", "AW:", "SV:", "回复:" …), or one ticket reference, at
// the start of a subject.
var replyPrefix = regexp.MustCompile(`^(?i:(?:re|fwd?|aw|wg|sv|vs|antw|odp|rif|r|tr|réf|ref|enc|res|doorst|vl|ynt|përgjigje|回复|回覆|答复|转发|轉寄)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]|\[#[0-9]+\])\s*`)

// BaseSubject strips reply and forward prefixes and ticket references from the start of a
// subject, cleans it to one line and cuts it to MaxSubjectRunes: the subject a ticket's
// emails share.
func BaseSubject(subject string) string {
	s := CleanLine(subject)
	for {
		loc := replyPrefix.FindStringIndex(s)
		if loc == nil || loc[1] == 0 {
			break
		}
		s = s[loc[1]:]
	}
	return strings.TrimSpace(truncateRunes(strings.TrimSpace(s), MaxSubjectRunes))
}

// ThreadSubject is the subject of every email about ticket ref: "[#ref] " and the base
// subject. Built from a subject that already carries prefixes or the reference (a reply's),
// it gives the same string, so a thread never grows "Re: Re:".
func ThreadSubject(ref int64, subject string) string {
	base := BaseSubject(subject)
	tag := fmt.Sprintf("[#%d]", ref)
	if base == "" {
		return tag
	}
	return tag + " " + base
}

// SubjectRef finds the first ticket reference "[#n]" in a subject; ok is false without one.
func SubjectRef(subject string) (ref int64, ok bool) {
	m := refPattern.FindStringSubmatch(subject)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// Recipient is an address in our mail domain, split RFC 5233-style into the mailbox (before
// the first "+") and the tag after it: "acme@d" is mailbox "acme"; the per-ticket reply
// address "acme+k3x…@d" is mailbox "acme" with tag "k3x…". Both are lower case.
type Recipient struct {
	Address string // the whole address, lower case
	Mailbox string
	Tag     string
}

// maxMailboxLen and maxTagLen bound the two parts of a local part (64 bytes in all).
const (
	maxMailboxLen = 40
	maxTagLen     = 40
)

// ReplyAddress is the address for mailbox with a tag in domain: "mailbox+tag@domain".
// Mailbox and tag must be lower-case letters, digits and hyphens (the tag may also hold
// underscores), which survives every mail system's case folding; an empty tag gives
// "mailbox@domain".
func ReplyAddress(mailbox, tag, domain string) (string, error) {
	if !validPart(mailbox, maxMailboxLen, false) {
		return "", fmt.Errorf("%w: mailbox %q", ErrAddress, mailbox)
	}
	if tag != "" && !validPart(tag, maxTagLen, true) {
		return "", fmt.Errorf("%w: tag %q", ErrAddress, tag)
	}
	if err := ValidDomain(domain); err != nil {
		return "", err
	}
	local := mailbox
	if tag != "" {
		local += "+" + tag
	}
	return local + "@" + strings.ToLower(domain), nil
}

// SplitRecipient parses an envelope recipient in domain (compared case-insensitively) into a
// Recipient. ok is false for an address in another domain or whose parts do not have the
// shape ReplyAddress makes.
func SplitRecipient(addr, domain string) (r Recipient, ok bool) {
	addr = NormalizeAddress(addr)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || addr[at+1:] != strings.ToLower(domain) || ValidDomain(domain) != nil {
		return Recipient{}, false
	}
	local := addr[:at]
	mailbox, tag, hasTag := strings.Cut(local, "+")
	if !validPart(mailbox, maxMailboxLen, false) || hasTag && !validPart(tag, maxTagLen, true) {
		return Recipient{}, false
	}
	return Recipient{Address: addr, Mailbox: mailbox, Tag: tag}, true
}

func validPart(s string, max int, underscore bool) bool {
	if s == "" || len(s) > max || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || underscore && c == '_') {
			return false
		}
	}
	return true
}
