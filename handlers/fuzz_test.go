package handlers

// Fuzz targets for every parser of outside input. `go test` runs each on its seeds (f.Add and
// the committed corpus under testdata/fuzz/<Target>/); `go test -fuzz=FuzzX -fuzztime=1m
// -tags libsqlite3 ./handlers` explores further, and a failing input it finds is written to
// testdata/fuzz and then replays as a normal test.

import (
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// FuzzCheckUsername: an accepted username is 3–30 lower-case ASCII letters or digits, is not
// reserved, matches what loadOrg accepts in URLs, and makes a valid database and file name
// that stays inside the data directory (ASVS 2.2.1, 5.3.2).
func FuzzCheckUsername(f *testing.F) {
	for _, s := range []string{"acme", "acme2", "abc", "ab", strings.Repeat("a", 30), strings.Repeat("a", 31),
		"admin", "dash", "Acme", "../x", "a/b", ":memory:", "CON", "аcme"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Valid ⇒ accepted: 3–30 lower-case ASCII letters and digits, not reserved.
		valid := len(s) >= 3 && len(s) <= 30 && !reservedUsernames[s] &&
			strings.IndexFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) < 0
		if accepted := checkUsername(s) == ""; accepted != valid {
			t.Fatalf("checkUsername(%q) accepted %v, but the rule says %v", s, accepted, valid)
		}
		if !valid {
			return
		}
		if n := len(s); n < 3 || n > 30 {
			t.Fatalf("accepted %q of %d bytes", s, n)
		}
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
				t.Fatalf("accepted %q with %q", s, r)
			}
		}
		if reservedUsernames[s] || !usernameRE.MatchString(s) {
			t.Fatalf("accepted reserved or unroutable %q", s)
		}
		name := "tenantdesk-" + s
		if err := tenantdb.ValidateName(name); err != nil {
			t.Fatalf("accepted %q, but its database name is invalid: %v", s, err)
		}
		if p := filepath.Join("/data", name+".db"); filepath.Dir(p) != "/data" {
			t.Fatalf("accepted %q, whose file %s leaves the data directory", s, p)
		}
	})
}

// FuzzCheckEmail: an accepted address is one plain address (no display name, brackets,
// comments, spaces or control characters), lower-case, with a dotted domain.
func FuzzCheckEmail(f *testing.F) {
	for _, s := range []string{"a@b.co", "name@example.com", "a@b", "<a@b.co>", "Ann <a@b.co>", "a@b.co (c)",
		`"a b"@x.co`, "a@[127.0.0.1]", "a@b.co\n", "a@@b.co", "@b.co", "a@.co"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := strings.ToLower(strings.TrimSpace(s))
		if checkText(v, "Email", 1, 254) != "" || checkEmail(v) != "" {
			return
		}
		at := strings.LastIndexByte(v, '@')
		if at <= 0 || !strings.Contains(v[at:], ".") {
			t.Fatalf("accepted %q without a local part or a dotted domain", v)
		}
		if strings.ContainsAny(v, "<>()[]\\,; \t\r\n\"") {
			t.Fatalf("accepted %q with a special character", v)
		}
		for _, r := range v {
			if unicode.IsControl(r) || unicode.IsSpace(r) {
				t.Fatalf("accepted %q with %U", v, r)
			}
		}
		// A login finds the account however the address is typed, under the same key.
		if got, ok := loginEmail("  " + strings.ToUpper(v) + "\t"); !ok || got != strings.ToLower(strings.ToUpper(v)) {
			t.Fatalf("loginEmail of %q in upper case = %q, %v", v, got, ok)
		}
	})
}

// FuzzValidEmailAccepted: the other direction of FuzzCheckEmail. An ordinary address built
// from the input (dot-atom local part, dotted domain of letters, digits and dashes) is accepted
// as it is, and a login normalises any spelling of it to it.
func FuzzValidEmailAccepted(f *testing.F) {
	for _, s := range []string{"ann", "a.b+tag", "x_y-z", "", "..", "ÄÖ", "\x00"} {
		f.Add(s, "example")
	}
	f.Fuzz(func(t *testing.T, local, domain string) {
		keep := func(s, allowed string) string {
			return strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(allowed, r) {
					return r
				}
				return -1
			}, strings.ToLower(s))
		}
		var parts []string
		for _, p := range strings.Split(keep(local, "._+-"), ".") {
			if p != "" {
				parts = append(parts, p)
			}
		}
		label := strings.Trim(keep(domain, "-"), "-")
		if len(parts) == 0 || label == "" {
			return
		}
		addr := strings.Join(parts, ".") + "@" + label + ".example"
		if len(addr) > 254 || len(label) > 63 {
			return
		}
		if msg := checkEmail(addr); msg != "" || checkText(addr, "Email", 1, 254) != "" {
			t.Fatalf("a valid address %q was refused: %s", addr, msg)
		}
		if got, ok := loginEmail(" " + strings.ToUpper(addr) + " "); !ok || got != addr {
			t.Fatalf("loginEmail(%q in upper case) = %q, %v", addr, got, ok)
		}
	})
}

// FuzzCheckText: an accepted field is valid UTF-8 of min–max characters, one line when short.
func FuzzCheckText(f *testing.F) {
	f.Add("Ann", 1, 100)
	f.Add("", 0, 200)
	f.Add("two\nlines", 1, 100)
	f.Add("nul\x00", 1, 100)
	f.Add("\xff\xfe", 1, 100)
	f.Add(strings.Repeat("é", 101), 1, 100)
	f.Add("long\r\ntext", 1, 5000)
	f.Add("tab\tok", 1, 100)
	f.Add("bell\x07", 1, 5000)
	f.Add("c1\u0085", 1, 5000)
	f.Fuzz(func(t *testing.T, s string, min, max int) {
		min, max = min%300, max%6000
		if min < 0 || max < min {
			return
		}
		// Valid ⇒ accepted: the rule, written out once more.
		n := utf8.RuneCountInString(s)
		controls := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && !strings.ContainsRune("\t\n\r", r) }) >= 0
		valid := utf8.ValidString(s) && !controls && n >= min && n <= max && (max > 200 || !strings.ContainsAny(s, "\r\n"))
		if accepted := checkText(s, "Field", min, max) == ""; accepted != valid {
			t.Fatalf("checkText(%q, %d, %d) accepted %v, but the rule says %v", s, min, max, accepted, valid)
		}
		if !valid {
			return
		}
		n = utf8.RuneCountInString(s)
		if !utf8.ValidString(s) || n < min || n > max {
			t.Fatalf("accepted %q (%d characters) for %d–%d", s, n, min, max)
		}
		if max <= 200 && strings.ContainsAny(s, "\x00\r\n") {
			t.Fatalf("accepted multi-line %q for a single-line field", s)
		}
		if strings.ContainsRune(s, 0) {
			t.Fatalf("accepted a NUL in %q", s)
		}
	})
}

// FuzzCheckName: an accepted name holds no control, format (bidi, zero-width), variation
// selector or other invisible character; and a name of letters, digits, punctuation and
// single spaces, in any script, is accepted as given.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"Alpha Org", "Ålpha — Zürich", "北京 ☕", "Alpha\u202eOrg", "Alpha\u200bOrg", "Alpha\u2066Org",
		"x\u3164y", "a\ufe0fb", "a\u00adb", "a\U000e0041b", "\u2800", "نص عربي", "Ann\tAgent", "O'Brien & Co."} {
		f.Add(s)
	}
	invisible := func(r rune) bool {
		return unicode.Is(unicode.Cf, r) || unicode.IsControl(r) || unicode.Is(unicode.Variation_Selector, r) ||
			unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Co, unicode.Cs) ||
			r == '\u2800' || r == '\t' || r == utf8.RuneError
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkName(s, "Name", 1, 100) == "" {
			if n := utf8.RuneCountInString(s); n < 1 || n > 100 || !utf8.ValidString(s) {
				t.Fatalf("accepted %q (%d characters)", s, n)
			}
			for _, r := range s {
				if invisible(r) {
					t.Fatalf("accepted %q with the invisible %U", s, r)
				}
			}
		}
		// Valid ⇒ accepted, unchanged: keep the input's visible letters, digits, punctuation
		// and symbols, with single spaces between words.
		var b strings.Builder
		for _, word := range strings.Fields(s) {
			w := strings.Map(func(r rune) rune {
				if invisible(r) || !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r)) {
					return -1
				}
				return r
			}, word)
			if w != "" && utf8.RuneCountInString(b.String())+1+utf8.RuneCountInString(w) <= 100 {
				if b.Len() > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(w)
			}
		}
		name := b.String()
		if name == "" {
			return
		}
		if msg := checkName(name, "Name", 1, 100); msg != "" {
			t.Fatalf("a visible name %q was refused: %s", name, msg)
		}
	})
}

// FuzzCheckWebsite: an accepted website is an absolute http(s) URL with a host.
func FuzzCheckWebsite(f *testing.F) {
	for _, s := range []string{"https://acme.example", "http://x", "javascript:alert(1)", "//evil.example",
		"https:///path", "HTTPS://X.EXAMPLE", "data:text/html,x", "https://a b"} {
		f.Add(s)
	}
	for _, s := range []string{"https://alpha.test@evil.example", "https://:80", "https://-x.example", "https://bücher.de",
		"https://[::1]:8080/x", "http://192.0.2.1/", "https://a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkWebsite(s) == "" {
			lower := strings.ToLower(s)
			if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
				t.Fatalf("accepted %q, which is not an http(s) URL", s)
			}
			u, err := url.Parse(s)
			if err != nil || u.User != nil {
				t.Fatalf("accepted %q: %v, user %v", s, err, u.User)
			}
			host := u.Hostname()
			if _, err := netip.ParseAddr(host); err != nil {
				for _, label := range strings.Split(host, ".") {
					if label == "" || strings.Trim(label, "-") != label || strings.IndexFunc(label, func(r rune) bool {
						return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
					}) >= 0 {
						t.Fatalf("accepted %q, whose host %q is neither an address nor a DNS name", s, host)
					}
				}
			}
		}
		// Valid ⇒ accepted: https:// + a DNS name built from the input + a path.
		label := strings.Trim(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
				return r
			}
			return -1
		}, strings.ToLower(s)), "-")
		if label == "" || len(label) > 63 {
			return
		}
		site := "https://" + label + ".example/" + url.PathEscape(label)
		if msg := checkWebsite(site); msg != "" {
			t.Fatalf("a valid website %q was refused", site)
		}
		if u, err := url.Parse(site); err != nil || u.Hostname() != label+".example" {
			t.Fatalf("%q parses to host %q, %v", site, u.Hostname(), err)
		}
	})
}

// FuzzPasswordProblem: an accepted password is 8–64 characters and at most 72 bytes (bcrypt
// sees all of it), and not on the block list.
func FuzzPasswordProblem(f *testing.F) {
	for _, s := range []string{"correct horse battery", "password", "PassWord", "1234567", strings.Repeat("é", 36),
		strings.Repeat("é", 37), strings.Repeat("x", 64), strings.Repeat("x", 65), "\x00\x00\x00\x00\x00\x00\x00\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := utf8.RuneCountInString(s)
		valid := n >= 8 && n <= 64 && len(s) <= 72 && !isCommonPassword(s)
		if accepted := passwordProblem(s) == ""; accepted != valid {
			t.Fatalf("passwordProblem(%q) accepted %v, but the rule says %v", s, accepted, valid)
		}
		if !valid {
			return
		}
		if n := utf8.RuneCountInString(s); n < 8 || n > 64 || len(s) > 72 {
			t.Fatalf("accepted a password of %d characters, %d bytes", n, len(s))
		}
		if isCommonPassword(s) {
			t.Fatalf("accepted the common password %q", s)
		}
	})
}

// FuzzCheckMessage: an accepted message is trimmed, valid UTF-8 without NUL or CRLF, 1–limit
// characters; checking it again changes nothing.
func FuzzCheckMessage(f *testing.F) {
	for _, s := range []string{"hello", "  padded  ", "", " \t\n", "a\r\nb", "\x00", "\xff", "<img src=x onerror=alert(1)>",
		`<div hx-get="/admin" hx-trigger="load">`, "{{.}}", strings.Repeat("é", 5000), strings.Repeat("é", 5001)} {
		f.Add(s)
	}
	const limit = 5000
	f.Fuzz(func(t *testing.T, raw string) {
		body, fail := checkMessage(raw, limit)
		// Valid ⇒ accepted: the normalised text is valid UTF-8 of 1–limit characters with no
		// control character but tab and newline.
		want := strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(raw), "\r\n", "\n"), "\r", "\n")
		n := utf8.RuneCountInString(want)
		valid := utf8.ValidString(want) && n >= 1 && n <= limit &&
			strings.IndexFunc(want, func(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' }) < 0
		if (fail == "") != valid || body != want {
			t.Fatalf("checkMessage(%q) = %q, %q; the rule says valid %v, body %q", raw, body, fail, valid, want)
		}
		if fail != "" {
			return
		}
		n = utf8.RuneCountInString(body)
		if !utf8.ValidString(body) || strings.ContainsRune(body, 0) || n < 1 || n > limit {
			t.Fatalf("accepted %q (%d characters)", body, n)
		}
		if strings.TrimSpace(body) != body || strings.Contains(body, "\r") {
			t.Fatalf("accepted %q untrimmed or with a CR", body)
		}
		if again, fail := checkMessage(body, limit); again != body || fail != "" {
			t.Fatalf("checking %q again gave %q, %q", body, again, fail)
		}
	})
}

// FuzzParseRating: only 1 to 5.
func FuzzParseRating(f *testing.F) {
	for _, s := range []string{"1", "5", "0", "6", "-1", " 4 ", "+3", "03", "1e0", "٣", "4.5", "9223372036854775808", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := parseRating(s)
		if ok != (r >= 1 && r <= 5) {
			t.Fatalf("parseRating(%q) = %d, %v", s, r, ok)
		}
		// Both ways: accepted exactly when the trimmed field is one of "1" … "5", as that number.
		want, err := strconv.Atoi(strings.TrimSpace(s))
		valid := err == nil && strings.TrimSpace(s) == strconv.Itoa(want) && want >= 1 && want <= 5
		if ok != valid || (ok && r != want) {
			t.Fatalf("parseRating(%q) = %d, %v; want %d, %v", s, r, ok, want, valid)
		}
		// Every rating a form sends parses to itself.
		k := len(s)%5 + 1
		if got, ok := parseRating(strconv.Itoa(k)); !ok || got != k {
			t.Fatalf("parseRating(%q) = %d, %v", strconv.Itoa(k), got, ok)
		}
	})
}

// FuzzParseAfter: the poll cursor is a non-negative id; absent means 0.
func FuzzParseAfter(f *testing.F) {
	for _, s := range []string{"", "0", "17", "-1", "1e3", "+5", " 1", "9223372036854775807", "9223372036854775808", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		after, ok := parseAfter(s)
		// Valid ⇒ accepted: any message id, as the page writes it, parses to itself.
		id := int64(len(s)) * 7919
		for _, c := range []byte(s) {
			id = id*31 + int64(c)
		}
		if id < 0 {
			id = -(id + 1)
		}
		if got, ok := parseAfter(strconv.FormatInt(id, 10)); !ok || got != id {
			t.Fatalf("parseAfter(%d) = %d, %v", id, got, ok)
		}
		if !ok {
			return
		}
		if after < 0 {
			t.Fatalf("parseAfter(%q) = %d", s, after)
		}
		if s == "" && after != 0 {
			t.Fatalf("absent cursor = %d", after)
		}
		if v, err := strconv.ParseInt(s, 10, 64); s != "" && (err != nil || v != after || strconv.FormatInt(v, 10) != s) {
			t.Fatalf("parseAfter(%q) = %d: not the decimal form of a message id", s, after)
		}
	})
}

// FuzzParseID: route ids are positive decimal int64s.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "1e3", "01", "+1", "9223372036854775807", "9223372036854775808", "x", " 1", "1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := parseID(s)
		if ok && (id <= 0 || strconv.FormatInt(id, 10) != s) {
			t.Fatalf("parseID(%q) = %d: not the decimal form of a positive id", s, id)
		}
		// Both ways: every positive id, as URLs carry it, parses to itself.
		if v, err := strconv.ParseInt(s, 10, 64); err == nil && v > 0 && strconv.FormatInt(v, 10) == s && (!ok || id != v) {
			t.Fatalf("parseID(%q) = %d, %v; want %d", s, id, ok, v)
		}
		want := int64(len(s))*104729 + 1
		for _, c := range []byte(s) {
			want = want*131 + int64(c)
		}
		if want <= 0 {
			want = want/2 + (1 << 62)
		}
		if got, ok := parseID(strconv.FormatInt(want, 10)); !ok || got != want {
			t.Fatalf("parseID(%d) = %d, %v", want, got, ok)
		}
	})
}

// FuzzParseShown: a list size from the query string is always a multiple of listLimit
// between listLimit and maxListed (a huge value once overflowed into a negative LIMIT, which
// SQLite reads as no limit at all).
func FuzzParseShown(f *testing.F) {
	for _, s := range []string{"", "50", "51", "100", "500", "501", "-50", "9223372036854775807", "abc", "1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := parseShown(s)
		if n < listLimit || n > maxListed || n%listLimit != 0 {
			t.Fatalf("parseShown(%q) = %d", s, n)
		}
		// Valid ⇒ accepted: every size a "Load more" link carries parses to itself.
		k := (len(s)%(maxListed/listLimit) + 1) * listLimit
		if got := parseShown(strconv.Itoa(k)); got != k {
			t.Fatalf("parseShown(%d) = %d", k, got)
		}
	})
}

// FuzzValidToken: an accepted customer token is exactly what newToken makes — 43 characters
// of unpadded base64url, 32 random bytes — so nothing else reaches the database lookup.
func FuzzValidToken(f *testing.F) {
	f.Add(newToken())
	f.Add(newToken())
	for _, s := range []string{"", "abc", strings.Repeat("A", 42), strings.Repeat("A", 44), strings.Repeat("A", 42) + "=",
		strings.Repeat("A", 41) + "..", "..%2F..%2Fcatalog" + strings.Repeat("A", 26), strings.Repeat("/", 43), strings.Repeat("+", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Valid ⇒ accepted: any 32 bytes, encoded as newToken encodes them.
		sum := sha256.Sum256([]byte(s))
		if tok := base64.RawURLEncoding.EncodeToString(sum[:]); !validToken(tok) {
			t.Fatalf("the token of 32 bytes %q was refused", tok)
		}
		if !validToken(s) {
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 || len(s) != 43 {
			t.Fatalf("accepted %q: %d bytes, %v", s, len(b), err)
		}
	})
}

// FuzzRedactPath: no customer token survives request-log redaction — neither in the token
// slot of /customer/{org}/t/{token} (any case, as Fiber routes) nor anywhere token-shaped — and
// other paths pass unchanged.
func FuzzRedactPath(f *testing.F) {
	tok := newToken()
	for _, s := range []string{"/customer/acme/t/" + tok, "/customer/acme/t/" + tok + "/messages", "/customer/acme/t/x",
		"/customer//t/" + tok, "/dash", "/agent/acme/talk/1", "/customer/acme/t/", "/CUSTOMER/acme/T/" + tok,
		"/customer/acme/t/" + tok + "/../x", "/x/" + tok, "/customer/acme/t/short-guess/rating"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		out := redactPath(path)
		in, got := strings.Split(path, "/"), strings.Split(out, "/")
		if len(in) != len(got) {
			t.Fatalf("redactPath(%q) = %q: segments changed", path, out)
		}
		for i, seg := range got {
			if validToken(seg) {
				t.Fatalf("redactPath(%q) = %q keeps a token", path, out)
			}
			slot := i == 4 && strings.EqualFold(in[1], "customer") && strings.EqualFold(in[3], "t") && in[4] != ""
			switch {
			case slot && seg != redactedToken:
				t.Fatalf("redactPath(%q) = %q keeps the token slot", path, out)
			case !slot && !validToken(in[i]) && seg != in[i]:
				t.Fatalf("redactPath(%q) = %q changed segment %q", path, out, in[i])
			}
		}
	})
}

// FuzzForwardedClient: behind trusted proxies, the client is an address from the
// X-Forwarded-For header or the peer, never a trusted proxy while an untrusted hop stands to
// its right, and nothing a client prepends to the header can change it once a proxy appended
// the client's real address.
func FuzzForwardedClient(f *testing.F) {
	proxies, err := parseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][2]string{
		{"198.51.100.1", "203.0.113.9, 10.1.2.3"}, {"", "203.0.113.9"}, {"x", "10.0.0.1"},
		{"1.2.3.4:80", "[2001:db8::5]:443, 192.0.2.1"}, {"::ffff:203.0.113.9", "::ffff:10.0.0.1"},
		{"", ""}, {"203.0.113.9,,", " 10.0.0.7 "}, {"unknown", "2001:db9::1"},
	} {
		f.Add(s[0], s[1])
	}
	peer := netip.MustParseAddr("192.0.2.1")
	f.Fuzz(func(t *testing.T, spoof, appended string) {
		hops := strings.Split(appended, ",")
		got := forwardedClient(peer, hops, proxies)
		if got != peer {
			found := false
			for _, h := range hops {
				if a, ok := parseHop(h); ok && a == got {
					found = true
				}
			}
			if !found {
				t.Fatalf("forwardedClient(%q) = %v: neither the peer nor a hop", appended, got)
			}
		}
		if !proxies.has(got) {
			// A real client was found: whatever the client prepends leaves it unchanged.
			all := append(strings.Split(spoof, ","), hops...)
			if again := forwardedClient(peer, all, proxies); again != got {
				t.Fatalf("prepending %q changed the client from %v to %v", spoof, got, again)
			}
		}
		outside := netip.MustParseAddr("203.0.113.50")
		if c := forwardedClient(outside, hops, proxies); c != outside {
			t.Fatalf("an untrusted peer's header was believed: %v", c)
		}
		// Valid ⇒ found: a client outside the proxies, appended by a trusted proxy (and passed
		// on by another), is the client whatever the client prepended.
		sum := sha256.Sum256([]byte(spoof + "|" + appended))
		client := netip.AddrFrom4([4]byte{198, 51, 100, sum[0]})
		chain := append(strings.Split(spoof, ","), client.String(), "10.9.8.7")
		if got := forwardedClient(peer, chain, proxies); got != client {
			t.Fatalf("forwardedClient(%q) = %v, want the appended client %v", chain, got, client)
		}
	})
}
