package desk

// A customer's access to its ticket is the private token of the link it got when it opened
// the ticket; only the token's hash is stored. Emails sent later carry what can be made again
// without the token:
//
//   - a signed link, "e1.<ticket>.<access version>.<expiry>.<mac>" in place of the token in
//     the customer's page URL: an HMAC over the organization, the ticket, its access version
//     and an expiry (linkTTL), with a key derived from the server's secret;
//   - a reply address, "<org>+c<ticket>-<mac>@MAIL_DOMAIN" for the customer and
//     "<org>+a<ticket>-<agent>-<mac>@MAIL_DOMAIN" for an agent's notifications, whose MAC
//     binds the organization, the ticket (and its access version, or the agent).
//
// Rotating a ticket's access (RotateAccess) replaces the token and moves the access version:
// the old link, every signed link and the customer's reply address stop working at once.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// linkTTL is how long a signed link in an email opens the ticket. After it the customer asks
// for a new one on the organization's my-tickets page.
const linkTTL = 90 * 24 * time.Hour

// linkPrefix starts a signed link's token (a customer token never has a dot).
const linkPrefix = "e1."

// SignedLink is what a signed link names.
type SignedLink struct {
	Ticket, Access int64
	Expires        int64 // Unix seconds
	MAC            string
}

// maxLinkLen bounds a signed link's token.
const maxLinkLen = 120

// linkMACLen is the length of a signed link's MAC: 32 base64url characters, 192 bits.
const linkMACLen = 32

// FormatSignedLink writes l as a token.
func FormatSignedLink(l SignedLink) string {
	return linkPrefix + strconv.FormatInt(l.Ticket, 10) + "." + strconv.FormatInt(l.Access, 10) + "." +
		strconv.FormatInt(l.Expires, 10) + "." + l.MAC
}

// ParseSignedLink reads a signed link's token: "e1.", three decimal numbers (the ticket and
// the expiry positive, the access version not negative, no leading zeros) separated by dots,
// a dot and a 32-character base64url MAC. It checks the shape only, not the MAC.
func ParseSignedLink(token string) (SignedLink, bool) {
	rest, ok := strings.CutPrefix(token, linkPrefix)
	if !ok || len(token) > maxLinkLen {
		return SignedLink{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return SignedLink{}, false
	}
	var l SignedLink
	var ok1, ok2, ok3 bool
	l.Ticket, ok1 = decimal(parts[0], false)
	l.Access, ok2 = decimal(parts[1], true)
	l.Expires, ok3 = decimal(parts[2], false)
	l.MAC = parts[3]
	if !ok1 || !ok2 || !ok3 || len(l.MAC) != linkMACLen {
		return SignedLink{}, false
	}
	for i := 0; i < len(l.MAC); i++ {
		if c := l.MAC[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return SignedLink{}, false
		}
	}
	return l, true
}

// decimal parses a plain decimal number without sign or leading zeros, at most 18 digits;
// zero only when zero is allowed.
func decimal(s string, zero bool) (int64, bool) {
	if s == "" || len(s) > 18 || s[0] == '0' && (len(s) > 1 || !zero) {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// IsSignedLink reports whether a token in a customer URL has a signed link's shape.
func IsSignedLink(token string) bool { return strings.HasPrefix(token, linkPrefix) }

// linkMAC is the MAC of a signed link of org.
func (m *mailer) linkMAC(org *catalog.Organization, l SignedLink) string {
	h := hmac.New(sha256.New, m.linkKey)
	h.Write([]byte("link\x00" + strconv.FormatInt(org.ID, 10) + "\x00" + org.DBName + "\x00" +
		strconv.FormatInt(l.Ticket, 10) + "\x00" + strconv.FormatInt(l.Access, 10) + "\x00" + strconv.FormatInt(l.Expires, 10)))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))[:linkMACLen]
}

// signedLink returns the path of a signed link that opens ticket's page (at access version
// access) until now+linkTTL.
func (m *mailer) signedLink(org *catalog.Organization, ticket, access int64, now time.Time) string {
	l := SignedLink{Ticket: ticket, Access: access, Expires: now.Add(linkTTL).Unix()}
	l.MAC = m.linkMAC(org, l)
	return "/customer/" + org.Username + "/t/" + FormatSignedLink(l)
}

// LinkActor returns the customer a signed link of org's proves (see access.go): the customer
// of its ticket at its access version. A link of another organization, altered, expired, or
// with email off, is NotFound; a link whose ticket's access was rotated since passes here
// and is refused by every operation (allow).
func (s *Service) LinkActor(org *catalog.Organization, token string) (Actor, error) {
	l, ok := ParseSignedLink(token)
	if !ok || s.mail == nil || s.now().Unix() > l.Expires ||
		!hmac.Equal([]byte(s.mail.linkMAC(org, l)), []byte(l.MAC)) {
		return Actor{}, notFound(CodeConversationNotFound)
	}
	return Actor{Kind: Customer, ticket: l.Ticket, access: l.Access}, nil
}

// Reply tags: the part of a reply address after "+".

// ReplyTag is what a reply address's tag names: the customer of Ticket (Agent zero), or
// agent Agent on Ticket.
type ReplyTag struct {
	Ticket, Agent int64
	MAC           string
}

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Bounds of a reply tag's MAC: a local part holds 64 bytes, the organization's username and
// "+" come first, so the MAC gets what is left, at most maxTagMAC characters (130 bits) and
// at least minTagMAC (80 bits).
const (
	maxLocalPart = 64
	maxTagMAC    = 26
	minTagMAC    = 16
)

// FormatReplyTag writes t as a tag: "c<ticket>-<mac>" or "a<ticket>-<agent>-<mac>".
func FormatReplyTag(t ReplyTag) string {
	return tagPrefix(t) + "-" + t.MAC
}

func tagPrefix(t ReplyTag) string {
	if t.Agent != 0 {
		return "a" + strconv.FormatInt(t.Ticket, 10) + "-" + strconv.FormatInt(t.Agent, 10)
	}
	return "c" + strconv.FormatInt(t.Ticket, 10)
}

// ParseReplyTag reads a reply tag: "c", a ticket id, "-" and a MAC of minTagMAC to maxTagMAC
// lower-case base32 characters; or "a", a ticket id, "-", an agent id, "-" and the MAC. Ids
// are positive decimals without leading zeros. It checks the shape only, not the MAC.
func ParseReplyTag(tag string) (ReplyTag, bool) {
	if len(tag) < 3 || len(tag) > maxLocalPart {
		return ReplyTag{}, false
	}
	parts := strings.Split(tag[1:], "-")
	var t ReplyTag
	var ok bool
	switch {
	case tag[0] == 'c' && len(parts) == 2:
		t.Ticket, ok = decimal(parts[0], false)
	case tag[0] == 'a' && len(parts) == 3:
		var ok2 bool
		t.Ticket, ok = decimal(parts[0], false)
		t.Agent, ok2 = decimal(parts[1], false)
		ok = ok && ok2
	}
	if !ok {
		return ReplyTag{}, false
	}
	t.MAC = parts[len(parts)-1]
	if len(t.MAC) < minTagMAC || len(t.MAC) > maxTagMAC {
		return ReplyTag{}, false
	}
	for i := 0; i < len(t.MAC); i++ {
		if c := t.MAC[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return ReplyTag{}, false
		}
	}
	return t, true
}

// tagMAC is the MAC of t for org, as long as the address leaves room for (0: too little).
func (m *mailer) tagMAC(org *catalog.Organization, t ReplyTag, access int64) string {
	n := min(maxTagMAC, maxLocalPart-len(org.Username)-1-len(tagPrefix(t))-1)
	if n < minTagMAC {
		return ""
	}
	h := hmac.New(sha256.New, m.replyKey)
	h.Write([]byte("reply\x00" + strconv.FormatInt(org.ID, 10) + "\x00" + org.DBName + "\x00" + tagPrefix(t) + "\x00" +
		strconv.FormatInt(access, 10)))
	return lowerBase32.EncodeToString(h.Sum(nil))[:n]
}

// replyAddress is the reply address of t (the customer's at access version access), or ""
// when replies cannot reach the app (no receiver) or the address would be too long.
func (m *mailer) replyAddress(org *catalog.Organization, t ReplyTag, access int64) string {
	if !m.cfg.Inbound {
		return ""
	}
	if t.Agent != 0 {
		access = 0
	}
	t.MAC = m.tagMAC(org, t, access)
	if t.MAC == "" {
		return ""
	}
	return org.Username + "+" + FormatReplyTag(t) + "@" + m.cfg.Domain
}

// RotateAccess replaces the customer's token of a ticket and moves its access version: the
// customer's link, the signed links of earlier emails and its reply address stop working.
// The customer gets a new link with the next email, or from the my-tickets page. Every
// member of the team may do it (it changes the ticket like its status).
func (s *Service) RotateAccess(ctx context.Context, org *catalog.Organization, a Actor, ticketID int64) error {
	_, err := s.changeTicket(ctx, org, a, ticketID, opChange, ChangedAccess, func(tx *sql.Tx, _ *store, cur ticketState, now time.Time) (*Activity, error) {
		h := sha256.Sum256([]byte(newToken()))
		if _, err := tx.ExecContext(ctx, `UPDATE tickets SET token_hash = ?, access_version = access_version + 1,
			updated_at = ? WHERE id = ?`, h[:], now.Unix(), cur.TicketID); err != nil {
			return nil, err
		}
		return &Activity{Kind: "access", By: a.Name}, nil
	})
	if err == nil {
		s.log.Info("customer access rotated", "tenant", org.Username, "ticket_id", ticketID, "by", a.String())
	}
	return err
}

// errNoMail is the refusal of what needs email when the server has none.
var errNoMail = apperr.New(apperr.Conflict, CodeEmailOff)
