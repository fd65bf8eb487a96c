// Package apitoken makes and reads the organizations' API tokens.
//
// A token names its organization and proves that this server made it:
//
//	tdk_<organization id>_<54 characters: base64url of 24 random bytes and a 16-byte tag>
//
// The tag is an HMAC-SHA256 (cut to 16 bytes) of everything before it, keyed with a key the
// server derives from its secret. A request's token therefore picks its organization (the
// fourth way a tenant is chosen, beside the session, the customer's ticket token and the
// email address mail is sent to), and a token that was never made here — guessed, altered,
// or moved to another organization's id — fails the tag check in memory, before any database
// is opened. A token that passes is then looked up, by its SHA-256, in that organization's own
// database, where alone it is stored (hashed): it cannot reach any other tenant, and revoking
// it there ends it.
package apitoken

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// Prefix starts every token, so that people and secret scanners recognise one.
const Prefix = "tdk_"

const (
	randomSize = 24
	tagSize    = 16
	// secretLen is the length of the part after the organization id: base64url without
	// padding of randomSize+tagSize bytes.
	secretLen = (8*(randomSize+tagSize) + 5) / 6
	// maxIDDigits bounds the organization id: a positive int64 has at most 19 digits.
	maxIDDigits = 19
	// MaxLength is the length of the longest token.
	MaxLength = len(Prefix) + maxIDDigits + 1 + secretLen
)

// ErrMalformed is a string that is not a token's shape.
var ErrMalformed = errors.New("apitoken: malformed token")

// Token is a parsed token: the organization it names, its random part and its tag.
type Token struct {
	OrgID  int64
	Random [randomSize]byte
	Tag    [tagSize]byte
}

// Key derives the tag key from the server's secret key material (32 bytes or more), with a
// label of its own, so that it never equals a key used for anything else.
func Key(master []byte) ([]byte, error) {
	if len(master) < 16 {
		return nil, errors.New("apitoken: key material must be at least 16 bytes")
	}
	return hkdf.Key(sha256.New, master, nil, "tenantdesk api tokens v1", 32)
}

// New makes a token for organization orgID (positive), tagged with key.
func New(key []byte, orgID int64) string {
	t := Token{OrgID: orgID}
	rand.Read(t.Random[:]) // never fails (crypto/rand crashes the program rather than return an error)
	t.Tag = t.tag(key)
	return t.String()
}

// head is what the tag covers: the prefix, the organization id and the random part.
func (t Token) head() []byte {
	b := []byte(Prefix + strconv.FormatInt(t.OrgID, 10) + "_")
	return append(b, t.Random[:]...)
}

func (t Token) tag(key []byte) [tagSize]byte {
	m := hmac.New(sha256.New, key)
	m.Write(t.head())
	var out [tagSize]byte
	copy(out[:], m.Sum(nil))
	return out
}

// Valid reports whether t's tag is the one key gives it (in constant time).
func (t Token) Valid(key []byte) bool {
	want := t.tag(key)
	return t.OrgID > 0 && hmac.Equal(want[:], t.Tag[:])
}

// String formats t as a token.
func (t Token) String() string {
	var raw [randomSize + tagSize]byte
	copy(raw[:], t.Random[:])
	copy(raw[randomSize:], t.Tag[:])
	return Prefix + strconv.FormatInt(t.OrgID, 10) + "_" + base64.RawURLEncoding.EncodeToString(raw[:])
}

// Parse reads a token: Prefix, the organization id in plain decimal (positive, no sign, no
// leading zero), "_", and exactly 54 characters of canonical unpadded base64url. Anything else
// is ErrMalformed. Parse does not check the tag (Valid does).
func Parse(s string) (Token, error) {
	var t Token
	if len(s) > MaxLength {
		return t, ErrMalformed
	}
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return t, ErrMalformed
	}
	i := strings.IndexByte(rest, '_')
	if i <= 0 || i > maxIDDigits || len(rest)-i-1 != secretLen {
		return t, ErrMalformed
	}
	digits := rest[:i]
	for j := 0; j < len(digits); j++ {
		if digits[j] < '0' || digits[j] > '9' {
			return t, ErrMalformed
		}
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id <= 0 || digits[0] == '0' {
		return t, ErrMalformed
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(rest[i+1:])
	if err != nil || len(raw) != randomSize+tagSize {
		return t, ErrMalformed
	}
	t.OrgID = id
	copy(t.Random[:], raw[:randomSize])
	copy(t.Tag[:], raw[randomSize:])
	return t, nil
}

// Hash is how a token is stored and looked up: its SHA-256.
func Hash(token string) [32]byte { return sha256.Sum256([]byte(token)) }
