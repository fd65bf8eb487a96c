package webhook

// Fuzz targets. `go test` runs each on its seeds (f.Add and the committed corpus under
// testdata/fuzz/<Target>/); `go test -fuzz=FuzzX -fuzztime=30s -tags libsqlite3
// ./handlers/webhook` explores further, and a failing input it finds is written to
// testdata/fuzz and then replays as a normal test.

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzValidateURL, accepted ⇒ valid: an accepted URL is short, printable ASCII, http or
// https, with a host that is a DNS name or an allowed IP address in standard form, without
// user information or fragment; its string form is accepted again as the same URL.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x?y=1", "http://127.0.0.1:8080/", "http://[::1]/", "http://localhost/",
		"http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/",
		"https://user:pw@x.example/", "https://x.example:0/", "https://x.example/#f", "javascript:alert(1)", "//x", "http:x",
		"https://[fe80::1%25en0]/", "http://a.b.c.d.e.f/", "http://1.2.3.4.example/", "http://x.example:65535", "http://x.example./",
		"http://%6c%6fcalhost/", "http://x.example%2f@y/", "http://[64:ff9b::a00:1]/"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, allowPrivate bool) {
		u, err := ValidateURL(raw, allowPrivate)
		if err != nil {
			if e, ok := err.(*URLError); !ok || e.Field != URLField || e.Kind == "" {
				t.Fatalf("ValidateURL(%q) error %#v", raw, err)
			}
			return
		}
		if len(raw) > MaxURLLength || u.Scheme != "http" && u.Scheme != "https" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("accepted %q as %#v", raw, u)
		}
		for i := 0; i < len(raw); i++ {
			if raw[i] <= ' ' || raw[i] >= 0x7f || raw[i] == '\\' {
				t.Fatalf("accepted %q with byte %#x", raw, raw[i])
			}
		}
		host := u.Hostname()
		if a, err := netip.ParseAddr(host); err == nil {
			if checkAddr(a, allowPrivate) != nil {
				t.Fatalf("accepted %q, whose address %s is refused", raw, a)
			}
		} else if !dnsName(host) {
			t.Fatalf("accepted %q with host %q", raw, host)
		} else if last := host[strings.LastIndexByte(strings.TrimSuffix(host, "."), '.')+1:]; last[0] >= '0' && last[0] <= '9' {
			t.Fatalf("accepted %q, whose name ends in a numeric label", raw)
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				t.Fatalf("accepted %q with port %q", raw, p)
			}
		}
		again, err := ValidateURL(u.String(), allowPrivate)
		if err != nil || again.String() != u.String() {
			t.Fatalf("%q → %q → %v, %v", raw, u.String(), again, err)
		}
	})
}

// FuzzURLValid, valid ⇒ accepted: a URL built from valid parts (scheme, a DNS name, a port,
// a path, a query) is accepted and parses back into those parts.
func FuzzURLValid(f *testing.F) {
	f.Add(true, []byte("hooks.example.com"), uint16(0), "/x", "a=1")
	f.Add(false, []byte("a-b_c.d9.example"), uint16(8443), "", "")
	f.Add(true, []byte("receiver"), uint16(65535), "/a/b/c.json", "q=%20&x")
	f.Fuzz(func(t *testing.T, https bool, name []byte, port uint16, path, query string) {
		// Make a DNS name from the bytes: labels of the allowed characters.
		const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
		var b strings.Builder
		for _, c := range name {
			b.WriteByte(alphabet[int(c)%len(alphabet)])
		}
		var labels []string
		for _, l := range strings.Split(b.String(), ".") {
			l = strings.Trim(l, "-")
			if l != "" && len(l) <= 63 {
				labels = append(labels, l)
			}
		}
		labels = append(labels, "example")
		host := strings.Join(labels, ".")
		if len(host) > 253 {
			return
		}
		scheme := "http"
		if https {
			scheme = "https"
		}
		raw := scheme + "://" + host
		if port != 0 {
			raw += ":" + strconv.Itoa(int(port))
		}
		// Path and query of plain characters only: escaping is the browser's business.
		clean := func(s, extra string) string {
			return strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(extra, r) {
					return r
				}
				return -1
			}, s)
		}
		p, q := clean(path, "/-._~"), clean(query, "=&-._~")
		if p != "" {
			raw += "/" + strings.TrimLeft(p, "/")
		}
		if q != "" {
			raw += "?" + q
		}
		if len(raw) > MaxURLLength {
			return
		}
		u, err := ValidateURL(raw, false)
		if err != nil {
			t.Fatalf("ValidateURL(%q) = %v", raw, err)
		}
		wantPort := ""
		if port != 0 {
			wantPort = strconv.Itoa(int(port))
		}
		if u.Scheme != scheme || u.Hostname() != host || u.Port() != wantPort || u.RawQuery != q {
			t.Fatalf("ValidateURL(%q) parsed to %#v", raw, u)
		}
	})
}

// FuzzParseSignature, accepted ⇒ valid: an accepted header has one timestamp and one to eight
// signatures, and formatting it reads back as the same value.
func FuzzParseSignature(f *testing.F) {
	for _, s := range []string{vectorHeader, "t=1,v1=" + strings.Repeat("0", 64), "t=1", "v1=" + strings.Repeat("a", 64),
		"t=1,t=2,v1=" + strings.Repeat("a", 64), "t=-1,v1=" + strings.Repeat("a", 64), "t=1,v1=" + strings.Repeat("g", 64),
		" t=1 , v1=" + strings.Repeat("A", 64) + " ,v0=x", "t=999999999999999999,v1=" + strings.Repeat("f", 64),
		"t=9999999999999999999,v1=" + strings.Repeat("f", 64), "t=1,,v1=" + strings.Repeat("f", 64), "", ",", "="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		s, err := ParseSignature(h)
		if err != nil {
			if err != ErrMalformed {
				t.Fatalf("ParseSignature(%q) error %v", h, err)
			}
			return
		}
		if s.Timestamp < 0 || len(s.V1) < 1 || len(s.V1) > maxV1 || len(h) > maxSignatureHeader {
			t.Fatalf("accepted %q as %+v", h, s)
		}
		again, err := ParseSignature(s.String())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("%q → %+v → %q → %+v, %v", h, s, s.String(), again, err)
		}
	})
}

// FuzzSignatureValid, valid ⇒ accepted: any timestamp and signatures format to a header that
// parses back to the same value; and a body signed with any secret at any time verifies with
// that secret and no other, and not once a byte of it changes.
func FuzzSignatureValid(f *testing.F) {
	f.Add(int64(1700000000), []byte{1, 2, 3}, "whsec_x", []byte(`{"a":1}`))
	f.Add(int64(0), []byte{}, "", []byte{})
	f.Fuzz(func(t *testing.T, ts int64, sigs []byte, secret string, body []byte) {
		if ts < 0 {
			ts = -(ts + 1)
		}
		ts %= 1e18
		s := Signature{Timestamp: ts}
		for i := 0; i < len(sigs) && len(s.V1) < maxV1; i += 4 {
			var v [sha256.Size]byte
			binary.BigEndian.PutUint32(v[:], uint32(i)^uint32(sigs[i]))
			v[31] = sigs[i]
			s.V1 = append(s.V1, v)
		}
		if len(s.V1) == 0 {
			s.V1 = append(s.V1, [sha256.Size]byte{})
		}
		got, err := ParseSignature(s.String())
		if err != nil || !reflect.DeepEqual(got, s) {
			t.Fatalf("%+v → %q → %+v, %v", s, s.String(), got, err)
		}

		if secret == "" {
			secret = "whsec_"
		}
		at := time.Unix(ts%4e9, 0)
		header := Sign(secret, at, body)
		if err := Verify(secret, header, body, at, 0); err != nil {
			t.Fatalf("Verify of a fresh signature: %v", err)
		}
		if err := Verify(secret+"x", header, body, at, 0); err != ErrMismatch {
			t.Fatalf("Verify with another secret: %v", err)
		}
		if len(body) > 0 {
			changed := append([]byte(nil), body...)
			changed[len(changed)/2] ^= 1
			if err := Verify(secret, header, changed, at, 0); err != ErrMismatch {
				t.Fatalf("Verify of a changed body: %v", err)
			}
		}
	})
}
