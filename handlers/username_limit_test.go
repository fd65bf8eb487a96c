package handlers

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzCheckNewUsername: with a server limit below 30 (a Turso host name leaves room for
// fewer characters), an accepted username is one checkUsername accepts and no longer than the
// limit; every such username is accepted; a refusal for its length states the limit. The
// committed corpus is under testdata/fuzz/FuzzCheckNewUsername.
func FuzzCheckNewUsername(f *testing.F) {
	for _, s := range []string{"acme", "abc", "ab", strings.Repeat("a", 20), strings.Repeat("a", 21),
		strings.Repeat("a", 31), "admin", "Acme", "a-b"} {
		for _, limit := range []uint8{3, 12, 20, 30, 40} {
			f.Add(s, limit)
		}
	}
	f.Fuzz(func(t *testing.T, s string, l uint8) {
		limit := int(l)
		if limit < 3 {
			return // the server refuses to start with fewer than 3
		}
		msg := checkNewUsername(s, limit)
		valid := checkUsername(s) == "" && len(s) <= limit
		if (msg == "") != valid {
			t.Fatalf("checkNewUsername(%q, %d) = %q; checkUsername says %q", s, limit, msg, checkUsername(s))
		}
		if limit < 30 && len(s) > limit && usernameCharsOnly(s) && !reservedUsernames[s] && !strings.Contains(msg, "3–"+strconv.Itoa(limit)) {
			t.Fatalf("checkNewUsername(%q, %d) = %q does not state the limit", s, limit, msg)
		}
	})
}

func usernameCharsOnly(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}
