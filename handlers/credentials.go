package handlers

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// credentialEpoch fingerprints a password hash. A session stores the fingerprint of its
// user's hash at login, and every request compares it with the hash loaded from the database
// (requireOrg, requireAgent load that row anyway): a password change, a reset or a removal
// changes the hash, so every session bound to the old one ends at its next request — without
// an index from users to session ids. bcrypt salts each hash, so setting the same password
// again still changes the epoch. The fingerprint is not reversible to the hash.
func credentialEpoch(hash string) string {
	if hash == "" {
		return "" // no credential (a removed agent): no session may match it
	}
	sum := sha256.Sum256([]byte("tenantdesk credential epoch\x00" + hash))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// sessionCurrent reports whether a session that recorded epoch at login still belongs to the
// credential hash now holds.
func sessionCurrent(epoch, hash string) bool {
	return epoch != "" && epoch == credentialEpoch(hash)
}

//go:embed common_passwords.txt
var commonPasswordsFile string

// commonPasswords is the block list (ASVS 6.2.4), lower-case; see common_passwords.txt.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 10000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			m[line] = struct{}{}
		}
	}
	return m
})

// isCommonPassword reports whether pw, ignoring case, is on the block list.
func isCommonPassword(pw string) bool {
	_, ok := commonPasswords()[strings.ToLower(pw)]
	return ok
}

// passwordProblem is the rule every new password passes (registration, an agent's own
// password, a password change), as the message shown beside the field, or "" when it is
// acceptable: 8–64 characters, at most bcrypt's 72 bytes (nothing is silently truncated), and
// not one of the most common passwords.
func passwordProblem(pw string) string {
	switch n := utf8.RuneCountInString(pw); {
	case n == 0:
		return "Password is required."
	case n < 8:
		return "Password must be at least 8 characters."
	case n > 64:
		return "Password must be at most 64 characters."
	case len(pw) > 72:
		return "Password is too long in bytes; use at most 72 bytes (fewer accented or special characters)."
	case isCommonPassword(pw):
		return "This password is one of the most common ones and easy to guess; choose another."
	}
	return ""
}

// initialPasswordExpired reports whether an agent still holds a one-time password that was
// issued longer ago than the configured lifetime.
func (s *Server) initialPasswordExpired(a *desk.Agent) bool {
	return a.MustChangePassword && time.Since(a.UpdatedAt) > s.cfg.InitialPasswordTTL
}
