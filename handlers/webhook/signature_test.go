package webhook

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// The vector was computed outside Go:
//
//	printf '%s' '1700000000.{"event":"ticket.created","id":"evt_1"}' | openssl dgst -sha256 -hmac 'whsec_MfJ1dUy2xQ'
const (
	vectorSecret = "whsec_MfJ1dUy2xQ"
	vectorBody   = `{"event":"ticket.created","id":"evt_1"}`
	vectorHeader = "t=1700000000,v1=742224cf22dbd3d7cb2553a0542832127173dfa8b29559653408345675ed7768"
)

func TestSignKnownVector(t *testing.T) {
	if got := Sign(vectorSecret, time.Unix(1700000000, 999), []byte(vectorBody)); got != vectorHeader {
		t.Fatalf("Sign = %q, want %q", got, vectorHeader)
	}
}

func TestVerify(t *testing.T) {
	signedAt := time.Unix(1700000000, 0)
	body := []byte(vectorBody)
	other := Sign("whsec_other", signedAt, body)
	_, otherV1, _ := strings.Cut(other, ",")
	tests := []struct {
		name      string
		secret    string
		header    string
		body      string
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"valid", vectorSecret, vectorHeader, vectorBody, signedAt, 0, nil},
		{"valid, 5 minutes late", vectorSecret, vectorHeader, vectorBody, signedAt.Add(5 * time.Minute), 0, nil},
		{"valid, 5 minutes early", vectorSecret, vectorHeader, vectorBody, signedAt.Add(-5 * time.Minute), 0, nil},
		{"too old", vectorSecret, vectorHeader, vectorBody, signedAt.Add(5*time.Minute + time.Second), 0, ErrStale},
		{"from the future", vectorSecret, vectorHeader, vectorBody, signedAt.Add(-5*time.Minute - time.Second), 0, ErrStale},
		{"a wider tolerance", vectorSecret, vectorHeader, vectorBody, signedAt.Add(time.Hour), 2 * time.Hour, nil},
		{"body changed", vectorSecret, vectorHeader, vectorBody + " ", signedAt, 0, ErrMismatch},
		{"timestamp changed", vectorSecret, strings.Replace(vectorHeader, "t=1700000000", "t=1700000001", 1), vectorBody, signedAt, 0, ErrMismatch},
		{"wrong secret", "whsec_other", vectorHeader, vectorBody, signedAt, 0, ErrMismatch},
		{"empty secret", "", Sign("", signedAt, body), vectorBody, signedAt, 0, ErrMismatch},
		{"upper-case hex", vectorSecret, "v1=" + strings.ToUpper(vectorHeader[16:]) + "," + vectorHeader[:12], vectorBody, signedAt, 0, nil},
		{"a second signature, the first wrong", vectorSecret, "t=1700000000," + otherV1 + "," + vectorHeader[13:], vectorBody, signedAt, 0, nil},
		{"an unknown scheme beside v1", vectorSecret, vectorHeader + ",v2=abc", vectorBody, signedAt, 0, nil},
		{"spaces around elements", vectorSecret, " t=1700000000 ,\tv1=742224cf22dbd3d7cb2553a0542832127173dfa8b29559653408345675ed7768 ", vectorBody, signedAt, 0, nil},
		{"no v1", vectorSecret, "t=1700000000", vectorBody, signedAt, 0, ErrMalformed},
		{"no t", vectorSecret, vectorHeader[13:], vectorBody, signedAt, 0, ErrMalformed},
		{"two t", vectorSecret, "t=1700000000," + vectorHeader, vectorBody, signedAt, 0, ErrMalformed},
		{"negative t", vectorSecret, strings.Replace(vectorHeader, "t=", "t=-", 1), vectorBody, signedAt, 0, ErrMalformed},
		{"short v1", vectorSecret, vectorHeader[:len(vectorHeader)-2], vectorBody, signedAt, 0, ErrMalformed},
		{"empty", vectorSecret, "", vectorBody, signedAt, 0, ErrMalformed},
		{"spaces inside", vectorSecret, "t = 1700000000, v1 = x", vectorBody, signedAt, 0, ErrMalformed},
		{"nine signatures", vectorSecret, "t=1700000000" + strings.Repeat(","+vectorHeader[13:], 9), vectorBody, signedAt, 0, ErrMalformed},
		{"upper-case key", vectorSecret, strings.Replace(vectorHeader, "t=", "T=", 1), vectorBody, signedAt, 0, ErrMalformed},
	}
	for _, tt := range tests {
		if err := Verify(tt.secret, tt.header, []byte(tt.body), tt.now, tt.tolerance); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: Verify = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := NewSecret()
		if !strings.HasPrefix(s, SecretPrefix) || len(s) != len(SecretPrefix)+43 {
			t.Fatalf("NewSecret = %q", s)
		}
		raw, err := base64.RawURLEncoding.DecodeString(s[len(SecretPrefix):])
		if err != nil || len(raw) != 32 {
			t.Fatalf("NewSecret = %q: %d bytes, %v", s, len(raw), err)
		}
		if seen[s] {
			t.Fatalf("NewSecret repeated %q", s)
		}
		seen[s] = true
	}
}
