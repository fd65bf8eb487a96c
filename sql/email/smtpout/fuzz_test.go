package smtpout_test

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/smtpout"
)

// FuzzParseURL: an accepted URL is a valid configuration that formats back to itself; a URL
// built from valid parts is accepted with those parts; no error ever shows the password.
func FuzzParseURL(f *testing.F) {
	f.Add("smtp://u:p@mail.example.com:587", 0, "user", "pass:word", "mail.example.com", 25)
	f.Add("smtps://[::1]", 2, "a@b", "%zz", "127.0.0.1", 465)
	f.Add("smtp+starttls://x", 1, "", "", "h", 0)
	f.Fuzz(func(t *testing.T, raw string, sec int, user, pass, host string, port int) {
		if c, err := smtpout.ParseURL(raw); err == nil {
			if c.Host == "" || c.Port < 1 || c.Port > 65535 || (c.Username == "") != (c.Password == "") {
				t.Fatalf("ParseURL(%q) accepted %+v", raw, c)
			}
			back, err := smtpout.ParseURL(c.URL())
			if err != nil || back != c {
				t.Fatalf("%q → %+v → %q → %+v, %v", raw, c, c.URL(), back, err)
			}
			if c.Password != "" && !redacted(c.String()) {
				t.Fatalf("String() %q shows the password", c.String())
			}
		} else if !errors.Is(err, smtpout.ErrConfig) {
			t.Fatalf("error %v is not ErrConfig", err)
		} else if u, perr := url.Parse(raw); perr == nil && u.User != nil {
			if p, ok := u.User.Password(); ok && len(p) >= 4 && strings.Contains(err.Error(), p) {
				t.Fatalf("error %q shows the password %q", err, p)
			}
		}

		// Valid parts ⇒ accepted with the same values.
		if sec < 0 || sec > 2 || port < 1 || port > 65535 || user == "" != (pass == "") ||
			strings.ContainsAny(user+pass, "\x00\r\n") || !plainHost(host) {
			return
		}
		want := smtpout.Config{Security: smtpout.Security(sec), Host: host, Port: port, Username: user, Password: email.Secret(pass)}
		u := url.URL{Scheme: want.Security.Scheme(), Host: net.JoinHostPort(host, strconv.Itoa(port))}
		if user != "" {
			u.User = url.UserPassword(user, pass)
		}
		got, err := smtpout.ParseURL(u.String())
		if err != nil || got != want {
			t.Fatalf("valid %+v as %q parsed to %+v, %v", want, u.String(), got, err)
		}
		if user != "" && !redacted(got.String()) {
			t.Fatalf("String() %q shows the password", got.String())
		}
	})
}

// plainHost is a host name of letters, digits and inner hyphens, or an IPv4 address.
func plainHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.To4() != nil && ip.String() == h
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// redacted reports whether the URL's password is "***".
func redacted(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return false
	}
	p, _ := u.User.Password()
	return p == "***"
}
