package desk_test

import (
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// validMAC reports whether mac has a signed link's MAC shape (base64url, 32 characters).
func validLinkMAC(mac string) bool {
	if len(mac) != 32 {
		return false
	}
	for _, c := range mac {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Both ways: what ParseSignedLink accepts formats back to the same token, and every valid
// link is accepted and parses to what was given.
func FuzzParseSignedLink(f *testing.F) {
	mac := strings.Repeat("Ab-_", 8)
	f.Add("e1.42.0.1900000000."+mac, int64(42), int64(0), int64(1900000000), mac)
	f.Add("e1.1.7.1."+mac, int64(1), int64(7), int64(1), mac)
	f.Add("e1.01.0.1."+mac, int64(0), int64(-1), int64(0), "x")
	f.Add("e1..0.1.", int64(9), int64(1), int64(2), strings.Repeat("=", 32))
	f.Fuzz(func(t *testing.T, token string, ticket, access, expires int64, mac string) {
		if l, ok := desk.ParseSignedLink(token); ok {
			if back := desk.FormatSignedLink(l); back != token {
				t.Fatalf("ParseSignedLink(%q) = %+v, which formats as %q", token, l, back)
			}
			if l.Ticket <= 0 || l.Access < 0 || l.Expires <= 0 || !validLinkMAC(l.MAC) {
				t.Fatalf("ParseSignedLink(%q) accepted %+v", token, l)
			}
		}
		l := desk.SignedLink{Ticket: ticket, Access: access, Expires: expires, MAC: mac}
		valid := ticket > 0 && access >= 0 && expires > 0 && ticket < 1e18 && access < 1e18 && expires < 1e18 && validLinkMAC(mac)
		got, ok := desk.ParseSignedLink(desk.FormatSignedLink(l))
		if valid && (!ok || got != l) {
			t.Fatalf("valid %+v: parsed %+v, %v", l, got, ok)
		}
		if !valid && ok {
			t.Fatalf("invalid %+v accepted as %+v", l, got)
		}
	})
}

// Both ways for reply tags, as for signed links.
func FuzzParseReplyTag(f *testing.F) {
	f.Add("c42-"+strings.Repeat("a2", 8), int64(42), int64(0), strings.Repeat("a2", 8))
	f.Add("a42-7-"+strings.Repeat("z", 20), int64(42), int64(7), strings.Repeat("z", 20))
	f.Add("c042-"+strings.Repeat("a", 16), int64(-1), int64(0), "A")
	f.Add("a1-0-"+strings.Repeat("b", 26), int64(1), int64(1), strings.Repeat("8", 16))
	f.Fuzz(func(t *testing.T, tag string, ticket, agent int64, mac string) {
		if r, ok := desk.ParseReplyTag(tag); ok {
			if back := desk.FormatReplyTag(r); back != tag {
				t.Fatalf("ParseReplyTag(%q) = %+v, which formats as %q", tag, r, back)
			}
			if r.Ticket <= 0 || r.Agent < 0 || len(r.MAC) < 16 || len(r.MAC) > 26 {
				t.Fatalf("ParseReplyTag(%q) accepted %+v", tag, r)
			}
		}
		r := desk.ReplyTag{Ticket: ticket, Agent: agent, MAC: mac}
		validMAC := len(mac) >= 16 && len(mac) <= 26 && strings.Trim(mac, "abcdefghijklmnopqrstuvwxyz234567") == ""
		valid := ticket > 0 && ticket < 1e18 && agent >= 0 && agent < 1e18 && validMAC && len(desk.FormatReplyTag(r)) <= 64
		got, ok := desk.ParseReplyTag(desk.FormatReplyTag(r))
		if valid && (!ok || got != r) {
			t.Fatalf("valid %+v: parsed %+v, %v", r, got, ok)
		}
		if !valid && ok {
			t.Fatalf("invalid %+v accepted as %+v", r, got)
		}
	})
}
