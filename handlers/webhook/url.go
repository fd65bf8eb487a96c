package webhook

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// URLKind names what is wrong with an endpoint URL; the handler picks the words.
type URLKind string

// The kinds of URLError.
const (
	URLRequired URLKind = "required" // empty
	URLTooLong  URLKind = "too_long" // longer than MaxURLLength
	URLSyntax   URLKind = "syntax"   // not a URL, or spaces, control or non-ASCII characters, backslashes
	URLScheme   URLKind = "scheme"   // not http or https
	URLUserinfo URLKind = "userinfo" // carries user:password@
	URLHost     URLKind = "host"     // no host, or not a DNS name or an IP address in standard form
	URLPort     URLKind = "port"     // a port outside 1–65535
	URLFragment URLKind = "fragment" // carries #fragment, which is never sent
	URLAddress  URLKind = "address"  // an IP address deliveries may not go to
)

// URLField is the form field of an endpoint URL.
const URLField = "url"

// MaxURLLength bounds an endpoint URL, in bytes.
const MaxURLLength = 2048

// URLError is a refused endpoint URL: the field and the kind of fault.
type URLError struct {
	Field string
	Kind  URLKind
}

// Error returns "webhook: url: <kind>" for logs.
func (e *URLError) Error() string { return "webhook: " + e.Field + ": " + string(e.Kind) }

func urlErr(k URLKind) error { return &URLError{Field: URLField, Kind: k} }

// ValidateURL checks an endpoint URL from outside input and returns it parsed: an absolute
// http or https URL of at most MaxURLLength ASCII bytes, without user information or
// fragment, whose host is a DNS name or an IP address in standard notation (so no "2130706433",
// "0177.0.0.1" or "127.1", which some resolvers read as addresses); an IP address must be one
// deliveries may go to (see Client). A DNS name is checked only for form here: the address it
// resolves to is checked at each connection. Errors are *URLError.
func ValidateURL(raw string, allowPrivate bool) (*url.URL, error) {
	switch {
	case raw == "":
		return nil, urlErr(URLRequired)
	case len(raw) > MaxURLLength:
		return nil, urlErr(URLTooLong)
	}
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b <= ' ' || b >= 0x7f || b == '\\' {
			return nil, urlErr(URLSyntax)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, urlErr(URLSyntax)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, urlErr(URLScheme)
	case u.Opaque != "":
		return nil, urlErr(URLHost)
	case u.User != nil:
		return nil, urlErr(URLUserinfo)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, urlErr(URLFragment)
	case u.Host == "":
		return nil, urlErr(URLHost)
	case strings.HasSuffix(u.Host, ":"):
		return nil, urlErr(URLPort)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return nil, urlErr(URLPort)
		}
	}
	host := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return nil, urlErr(URLHost)
		}
		if checkAddr(a, allowPrivate) != nil {
			return nil, urlErr(URLAddress)
		}
		return u, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Is4() {
			return nil, urlErr(URLHost)
		}
		if checkAddr(a, allowPrivate) != nil {
			return nil, urlErr(URLAddress)
		}
		return u, nil
	}
	if !dnsName(host) {
		return nil, urlErr(URLHost)
	}
	return u, nil
}

// dnsName reports whether host is a DNS name: dot-separated labels of letters, digits,
// hyphens and underscores (container and service names have them), 1–63 bytes each, not
// starting or ending with a hyphen, at most 253 bytes in all, an optional final dot, and a
// last label that starts with a letter. No top-level domain starts otherwise, and the rule
// keeps out every numeric spelling of an IPv4 address (decimal, octal, hexadecimal, short).
func dnsName(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return false
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			b := l[i] | 0x20 // lower case for letters; digits, '-' and '_' checked as they are
			if !(b >= 'a' && b <= 'z' || l[i] >= '0' && l[i] <= '9' || l[i] == '-' || l[i] == '_') {
				return false
			}
		}
	}
	last := labels[len(labels)-1][0] | 0x20
	return last >= 'a' && last <= 'z'
}
