// Package smtpout sends composed email through an SMTP server named by a URL (SMTP_URL, or an
// organization's own server) with github.com/wneessen/go-mail, and classifies every failure as
// temporary (retry later), a configuration problem (retry, and tell the owner) or permanent
// (this message will never be accepted).
package smtpout

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/email"
)

// Security is how the connection to the server is protected.
type Security int

// The three URL schemes.
const (
	// StartTLSIfOffered (smtp://) upgrades with STARTTLS when the server offers it and
	// otherwise sends in the clear; it never sends a password in the clear.
	StartTLSIfOffered Security = iota
	// StartTLSRequired (smtp+starttls://) fails unless the server offers STARTTLS.
	StartTLSRequired
	// ImplicitTLS (smtps://) speaks TLS from the first byte (port 465).
	ImplicitTLS
)

var schemes = map[string]Security{"smtp": StartTLSIfOffered, "smtp+starttls": StartTLSRequired, "smtps": ImplicitTLS}

// Scheme is the URL scheme of s.
func (s Security) Scheme() string {
	switch s {
	case StartTLSRequired:
		return "smtp+starttls"
	case ImplicitTLS:
		return "smtps"
	}
	return "smtp"
}

// Config is a parsed SMTP_URL plus what a URL cannot carry.
type Config struct {
	Security Security
	Host     string
	Port     int
	// Username and Password authenticate with SMTP AUTH when Username is set.
	Username string
	Password email.Secret
	// HELO is the name given in EHLO; empty uses the machine's host name.
	HELO string
	// Timeout bounds connecting and each SMTP command; zero means 30 s.
	Timeout time.Duration
	// RootCAs verifies the server's certificate; nil uses the system's roots. (Tests trust a
	// self-signed certificate through it.)
	RootCAs *x509.CertPool
}

// ErrConfig is the error kind of an unusable SMTP_URL; its text never contains the password.
var ErrConfig = errors.New("smtpout: invalid SMTP URL")

// ParseURL parses an SMTP URL: smtp://, smtp+starttls:// or smtps://, an optional
// user:password (percent-encoded), a host and an optional port (587 for smtp and
// smtp+starttls, 465 for smtps). A path other than "/", a query or a fragment is refused. The
// error never repeats the URL, so it cannot leak the password.
func ParseURL(raw string) (Config, error) {
	var c Config
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return c, fmt.Errorf("%w: want smtp://, smtp+starttls:// or smtps://", ErrConfig)
	}
	sec, ok := schemes[strings.ToLower(scheme)]
	if !ok {
		return c, fmt.Errorf("%w: scheme %q is none of smtp, smtp+starttls, smtps", ErrConfig, clip(scheme))
	}
	c.Security = sec
	u, err := url.Parse(strings.ToLower(scheme) + "://" + rest)
	if err != nil {
		// url's errors quote the URL, password included: none of it is repeated.
		return c, fmt.Errorf("%w: malformed URL (percent-encode special characters in the user name and password)", ErrConfig)
	}
	if u.Opaque != "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return c, fmt.Errorf("%w: no path, query or fragment allowed", ErrConfig)
	}
	c.Host = u.Hostname()
	if err := validHost(c.Host); err != nil {
		return c, err
	}
	c.Port = 587
	if sec == ImplicitTLS {
		c.Port = 465
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return c, fmt.Errorf("%w: port must be 1 to 65535", ErrConfig)
		}
		c.Port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return c, fmt.Errorf("%w: empty port", ErrConfig)
	}
	if u.User != nil {
		c.Username = u.User.Username()
		p, ok := u.User.Password()
		if c.Username == "" || !ok || p == "" {
			return c, fmt.Errorf("%w: give both a user name and a password, or neither", ErrConfig)
		}
		if strings.ContainsAny(c.Username+p, "\x00\r\n") {
			return c, fmt.Errorf("%w: control characters in the user name or password", ErrConfig)
		}
		c.Password = email.Secret(p)
	}
	return c, nil
}

// validHost accepts a DNS name (letters, digits, hyphens, dots, underscores, at most 253
// bytes) or an IP address.
func validHost(h string) error {
	if h == "" {
		return fmt.Errorf("%w: no host", ErrConfig)
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return fmt.Errorf("%w: host name longer than 253 bytes", ErrConfig)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%w: the host is not a DNS name or an IP address", ErrConfig)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%w: the host is not a DNS name or an IP address", ErrConfig)
			}
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// URL formats the configuration back as an SMTP URL, password included: for storing it
// sealed, never for showing. ParseURL(c.URL()) gives c back (less HELO, Timeout and RootCAs).
func (c Config) URL() string {
	u := url.URL{Scheme: c.Security.Scheme(), Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port))}
	if c.Username != "" {
		u.User = url.UserPassword(c.Username, c.Password.Reveal())
	}
	return u.String()
}

// String is the URL with the password replaced by "***": safe to log and show.
func (c Config) String() string {
	u := url.URL{Scheme: c.Security.Scheme(), Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port))}
	if c.Username != "" {
		u.User = url.UserPassword(c.Username, "***")
	}
	return u.String()
}

// LogValue logs the configuration as String does.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GoString keeps %#v from printing the fields.
func (c Config) GoString() string { return "smtpout.Config(" + c.String() + ")" }

func (c Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 30 * time.Second
	}
	return c.Timeout
}

func (c Config) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: c.Host, RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}
}
