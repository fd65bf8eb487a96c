package tenantdb

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzRetryAfter: the Platform API's Retry-After is outside input that sets how long a call
// sleeps. Whatever it says, the wait is between 0 and the cap; a valid header (delay-seconds,
// or an HTTP date in the future) gives exactly the wait it asks for, capped. The committed
// corpus is under testdata/fuzz/FuzzRetryAfter.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"", "0", "1", "30", "3600", "99999999999999999999999", "-1", "1.5", " 2 ", "+3",
		"Sat, 01 Aug 2026 12:00:05 GMT", "Saturday, 01-Aug-26 12:00:05 GMT", "Sat Aug  1 12:00:05 2026",
		"Sat, 01 Aug 2026 11:59:00 GMT", "tomorrow", "0x10", "1e3"} {
		f.Add(s)
	}
	const limit = 10 * time.Second
	f.Fuzz(func(t *testing.T, h string) {
		got := retryAfter(h, now, limit)
		if got < 0 || got > limit {
			t.Fatalf("retryAfter(%q) = %v, outside [0, %v]", h, got, limit)
		}
		v := strings.TrimSpace(h)
		if len(h) > 64 {
			if got != 0 {
				t.Fatalf("retryAfter of a %d-byte header = %v, want 0", len(h), got)
			}
			return
		}
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			want := limit
			if n < uint64(limit/time.Second) {
				want = time.Duration(n) * time.Second
			}
			if got != want {
				t.Fatalf("retryAfter(%q) = %v, want %v", h, got, want)
			}
			return
		}
		if at, err := http.ParseTime(v); err == nil {
			if want := min(max(at.Sub(now), 0), limit); got != want {
				t.Fatalf("retryAfter(%q) = %v, want %v", h, got, want)
			}
			return
		}
		if got != 0 && got != limit {
			t.Fatalf("retryAfter(%q) = %v for a header that is neither seconds nor a date", h, got)
		}
		if got == limit && (v == "" || v[0] < '0' || v[0] > '9') {
			t.Fatalf("retryAfter(%q) = %v for a header that is neither seconds nor a date", h, got)
		}
	})
}

// TestRetryAfterValues pins the two forms and the cap.
func TestRetryAfterValues(t *testing.T) {
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"2", 2 * time.Second}, {"3600", 10 * time.Second},
		{"99999999999999999999999", 10 * time.Second}, {"-1", 0}, {"soon", 0},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second},
		{now.Add(time.Hour).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(c.h, now, 10*time.Second); got != c.want {
			t.Errorf("retryAfter(%q) = %v, want %v", c.h, got, c.want)
		}
	}
}

// FuzzTokenTimes: a database token's claims come from the Platform API and only schedule
// its renewal. Any input is read without panicking; what is accepted has sane times, and a
// token made from given times gives exactly those back. The committed corpus is under
// testdata/fuzz/FuzzTokenTimes.
func FuzzTokenTimes(f *testing.F) {
	for _, s := range []string{"", "a.b.c", "x..y", `{"iat":1,"exp":2}`, `{"exp":1790000000}`, `{"iat":"1"}`,
		`{"exp":-5}`, `{"exp":1e3}`, `{"exp":17900000000000000000000}`, `[]`, `null`, `{"iat":1790000000,"exp":1790000100,"a":"rw"}`} {
		f.Add(s, int64(1790000000), int64(1792592000))
	}
	f.Fuzz(func(t *testing.T, payload string, iat, exp int64) {
		jwt := "eyJhbGciOiJFZERTQSJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
		gotIat, gotExp, ok := tokenTimes(jwt)
		if ok {
			for _, tm := range []time.Time{gotIat, gotExp} {
				if !tm.IsZero() && (tm.Unix() <= 0 || tm.Unix() > 1<<40) {
					t.Fatalf("tokenTimes(%q) accepted %v", payload, tm)
				}
			}
		}
		if iat <= 0 || exp <= 0 || iat > 1<<40 || exp > 1<<40 {
			return
		}
		claims := `{"a":"rw","iat":` + strconv.FormatInt(iat, 10) + `,"exp":` + strconv.FormatInt(exp, 10) + `}`
		gotIat, gotExp, ok = tokenTimes("h." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".s")
		if !ok || gotIat.Unix() != iat || gotExp.Unix() != exp {
			t.Fatalf("tokenTimes of iat %d exp %d = %v %v %v", iat, exp, gotIat, gotExp, ok)
		}
	})
}

// TestExpiration pins the token expiration parameter.
func TestExpiration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * 24 * time.Hour: "30d", 4 * time.Second: "4s", 90 * time.Minute: "1h30m",
		26*time.Hour + 61*time.Second: "1d2h1m1s", 0: "1s", 500 * time.Millisecond: "1s",
	} {
		if got := expiration(d); got != want {
			t.Errorf("expiration(%v) = %q, want %q", d, got, want)
		}
	}
}

// FuzzValidHost: the Platform API's Hostname becomes the host of a database URL. What is
// accepted is lower-case DNS labels with an optional port, and goes into a URL as its host
// unchanged; every such name is accepted. The committed corpus is under
// testdata/fuzz/FuzzValidHost.
func FuzzValidHost(f *testing.F) {
	for _, s := range []string{"db-org.aws-eu-west-1.turso.io", "db-org.localhost:8080", "", ".", "a..b", "-a.b", "a-.b",
		"A.b", "a.b:0", "a.b:65536", "a.b:080", "a b", "a/b", "a@b", "a?b", "a#b", `a\b`, "[::1]:80", "a.b:", "ü.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !validHost(host) {
			name := host
			if i := strings.LastIndexByte(host, ':'); i >= 0 {
				if n, err := strconv.Atoi(host[i+1:]); err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == host[i+1:] {
					name = host[:i]
				}
			}
			if len(name) > 0 && len(name) <= 253 && allLabels(name) {
				t.Fatalf("refused the valid host %q", host)
			}
			return
		}
		u, err := url.Parse("libsql://" + host)
		if err != nil || u.Host != host || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("accepted %q, which is not a URL host: %+v %v", host, u, err)
		}
		if !allLabels(u.Hostname()) {
			t.Fatalf("accepted %q with host name %q", host, u.Hostname())
		}
	})
}

// allLabels is the definition validHost is checked against, written out by hand.
func allLabels(name string) bool {
	for _, label := range strings.Split(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
