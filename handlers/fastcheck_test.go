package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2/middleware/encryptcookie"
)

func TestFastChecksMatchTheRegexps(t *testing.T) {
	cases := []string{"", "ab", "abc", "acme", "ACME", "acme1", "a-b", "acme\n", "\nacme", "é12", strings.Repeat("a", 30),
		strings.Repeat("a", 31), strings.Repeat("A", 43), strings.Repeat("_", 43), strings.Repeat("-", 42) + "=",
		strings.Repeat("a", 42), strings.Repeat("a", 44), newToken(), newToken() + "\n", "x" + newToken()[1:42] + "/"}
	for _, s := range cases {
		if got, want := isUsername(s), usernameRE.MatchString(s); got != want {
			t.Errorf("isUsername(%q) = %v, regexp says %v", s, got, want)
		}
		if got, want := isToken(s), tokenRE.MatchString(s); got != want {
			t.Errorf("isToken(%q) = %v, regexp says %v", s, got, want)
		}
	}
}

func FuzzFastChecks(f *testing.F) {
	for _, s := range []string{"acme", newToken(), "a_b", strings.Repeat("z", 30)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if isUsername(s) != usernameRE.MatchString(s) {
			t.Errorf("isUsername(%q) disagrees with %s", s, usernameRE)
		}
		if isToken(s) != tokenRE.MatchString(s) {
			t.Errorf("isToken(%q) disagrees with %s", s, tokenRE)
		}
	})
}

func TestCookieCipherInteroperatesWithEncryptcookie(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	b64 := base64.StdEncoding.EncodeToString(key)
	cc, err := newCookieCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"", "session-id-1234", strings.Repeat("x", 1000)} {
		enc, err := cc.encrypt(v, b64)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := encryptcookie.DecryptCookie(enc, b64); err != nil || got != v {
			t.Errorf("Fiber decrypts ours of %.20q as %.20q, %v", v, got, err)
		}
		enc, err = encryptcookie.EncryptCookie(v, b64)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := cc.decrypt(enc, b64); err != nil || got != v {
			t.Errorf("we decrypt Fiber's of %.20q as %.20q, %v", v, got, err)
		}
	}
	enc, _ := cc.encrypt("value", b64)
	raw, _ := base64.StdEncoding.DecodeString(enc)
	raw[len(raw)-1] ^= 1
	for _, bad := range []string{base64.StdEncoding.EncodeToString(raw), "not base64!", "", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if got, err := cc.decrypt(bad, b64); err == nil {
			t.Errorf("decrypt(%q) = %q, want an error", bad, got)
		}
	}
}

// newToken makes a customer token as the desk does: 256 random bits, unpadded base64url.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
