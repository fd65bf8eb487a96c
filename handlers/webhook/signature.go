// Package webhook delivers signed webhook requests to organizations' own endpoints, and gives
// receivers the means to check them.
//
// Every delivery is a POST of a JSON body with two headers: EventIDHeader, the event's id
// (receivers deduplicate on it: deliveries are at least once), and SignatureHeader,
//
//	Tenantdesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>
//
// which Verify checks. Deliveries go through a Client that refuses to connect to loopback,
// private, link-local, metadata and other special addresses (checked on the address actually
// connected to, so a name that resolves differently later gains nothing), follows no
// redirects, gives up after 10 s and keeps at most 1 KB of the answer.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The headers of a delivery.
const (
	SignatureHeader = "Tenantdesk-Signature"
	EventIDHeader   = "Tenantdesk-Event-Id"
)

// DefaultTolerance is how far a signature's timestamp may be from the receiver's clock.
const DefaultTolerance = 5 * time.Minute

// SecretPrefix starts every secret NewSecret makes, so that secret scanners and people
// recognize one.
const SecretPrefix = "whsec_"

// Limits of the signature header.
const (
	maxSignatureHeader = 1024
	maxV1              = 8 // signatures in one header, e.g. during a change of secret
)

// Errors of ParseSignature and Verify.
var (
	ErrMalformed = errors.New("webhook: malformed signature header")
	ErrStale     = errors.New("webhook: signature timestamp outside the tolerance")
	ErrMismatch  = errors.New("webhook: signature does not match")
)

// NewSecret returns a new signing secret: SecretPrefix and 32 random bytes in unpadded
// base64url. Show it once and store it: deliveries are signed with it.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand crashes the program rather than return an error)
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// mac is HMAC-SHA256 of "<t>.<body>" keyed with the secret as given (its bytes, prefix
// included).
func mac(secret string, t int64, body []byte) [sha256.Size]byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(strconv.FormatInt(t, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := t.Unix()
	return Signature{Timestamp: ts, V1: [][sha256.Size]byte{mac(secret, ts, body)}}.String()
}

// Signature is a parsed SignatureHeader.
type Signature struct {
	Timestamp int64               // unix seconds, as signed
	V1        [][sha256.Size]byte // HMAC-SHA256 values; any one of them may match
}

// String formats s as a header value: "t=<seconds>,v1=<hex>[,v1=<hex>…]".
func (s Signature) String() string {
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(strconv.FormatInt(s.Timestamp, 10))
	for _, v := range s.V1 {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(v[:]))
	}
	return b.String()
}

// ParseSignature parses a SignatureHeader value: comma-separated key=value elements, with
// spaces or tabs around them allowed; exactly one t (decimal unix seconds, at most 18 digits),
// one to eight v1 (64 hex digits each), and any other elements with a lower-case
// alphanumeric key ignored, so that new schemes can be added beside v1. The error is
// ErrMalformed.
func ParseSignature(header string) (Signature, error) {
	var s Signature
	if len(header) > maxSignatureHeader {
		return s, ErrMalformed
	}
	seenT := false
	for part := range strings.SplitSeq(header, ",") {
		part = strings.Trim(part, " \t")
		key, value, ok := strings.Cut(part, "=")
		if !ok || !lowerAlnum(key) || len(key) > 16 {
			return Signature{}, ErrMalformed
		}
		switch key {
		case "t":
			if seenT || len(value) == 0 || len(value) > 18 || !decimal(value) {
				return Signature{}, ErrMalformed
			}
			seenT = true
			s.Timestamp, _ = strconv.ParseInt(value, 10, 64) // 18 digits always fit
		case "v1":
			var v [sha256.Size]byte
			if len(value) != 2*sha256.Size || len(s.V1) == maxV1 {
				return Signature{}, ErrMalformed
			}
			if _, err := hex.Decode(v[:], []byte(value)); err != nil {
				return Signature{}, ErrMalformed
			}
			s.V1 = append(s.V1, v)
		default:
			for i := 0; i < len(value); i++ {
				if value[i] <= ' ' || value[i] >= 0x7f {
					return Signature{}, ErrMalformed
				}
			}
		}
	}
	if !seenT || len(s.V1) == 0 {
		return Signature{}, ErrMalformed
	}
	return s, nil
}

func lowerAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9') {
			return false
		}
	}
	return s != ""
}

func decimal(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Verify checks a delivery as a receiver does: header is the SignatureHeader value as
// received, body the request body as received (before any parsing), now the receiver's
// clock. One v1 value must equal the HMAC computed with secret (compared in constant time)
// and the timestamp must be within tolerance of now, either way; a tolerance of zero or less
// means DefaultTolerance. An empty secret verifies nothing. Errors are ErrMalformed,
// ErrMismatch or ErrStale.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	s, err := ParseSignature(header)
	if err != nil {
		return err
	}
	if secret == "" {
		return ErrMismatch
	}
	want := mac(secret, s.Timestamp, body)
	ok := false
	for _, v := range s.V1 {
		ok = hmac.Equal(v[:], want[:]) || ok
	}
	if !ok {
		return ErrMismatch
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Unix() - s.Timestamp; d > int64(tolerance/time.Second) || -d > int64(tolerance/time.Second) {
		return ErrStale
	}
	return nil
}
