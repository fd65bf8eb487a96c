package handlers

import (
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// FieldErrors maps a form field to the message shown beside it.
type FieldErrors map[string]string

// form reads and validates one form's fields. Each action binds only the fields it names into
// its own struct, so extra fields (sender, role, status…) are never read.
type form struct {
	c      *fiber.Ctx
	Errors FieldErrors
}

func newForm(c *fiber.Ctx) *form { return &form{c: c, Errors: FieldErrors{}} }

func (f *form) fail(field, msg string) {
	if _, ok := f.Errors[field]; !ok {
		f.Errors[field] = msg
	}
}

// ok reports whether every field passed.
func (f *form) ok() bool { return len(f.Errors) == 0 }

// text returns a trimmed single-line field, checked for presence and length in characters.
func (f *form) text(field, label string, min, max int) string {
	v := strings.TrimSpace(formValue(f.c, field))
	v = strings.Clone(v)
	if msg := checkText(v, label, min, max); msg != "" {
		f.fail(field, msg)
	}
	return v
}

// checkText is text's rule for a trimmed value, as the message shown beside the field ("" when
// it is acceptable): valid UTF-8 without control characters other than tab and newlines
// (input.go), whatever the length, min–max characters, and a single line when max is at most
// 200 characters.
func checkText(v, label string, min, max int) string {
	n := utf8.RuneCountInString(v)
	switch {
	case !utf8.ValidString(v) || hasForbiddenControl(v):
		return label + " contains invalid characters."
	case n == 0 && min > 0:
		return label + " is required."
	case n < min:
		return label + " must be at least " + strconv.Itoa(min) + " characters."
	case n > max:
		return label + " must be at most " + strconv.Itoa(max) + " characters."
	case strings.ContainsAny(v, "\r\n") && max <= 200:
		return label + " must be a single line."
	}
	return ""
}

// email returns a lower-cased email address.
func (f *form) email(field string) string {
	v := strings.ToLower(f.text(field, "Email", 1, 254))
	if _, bad := f.Errors[field]; bad {
		return v
	}
	if msg := checkEmail(v); msg != "" {
		f.fail(field, msg)
	}
	return v
}

// checkEmail accepts a bare, lower-case address with a dot in its domain, exactly as
// net/mail parses it (no display name, comments or angle brackets), with no domain literal
// like a@[127.0.0.1] and no control, format or space characters (net/mail lets some through).
func checkEmail(v string) string {
	addr, err := mail.ParseAddress(v)
	if err != nil || addr.Address != v || strings.ContainsAny(v, "[]") ||
		strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 ||
		!strings.Contains(v[strings.LastIndexByte(v, '@'):], ".") {
		return "Enter a valid email address, like name@example.com."
	}
	return ""
}

// password returns a new password field as typed (never trimmed), checked by passwordProblem:
// 8–64 characters, at most bcrypt's 72 bytes (nothing is silently truncated), not a common
// password.
func (f *form) password(field string) string {
	v := formValue(f.c, field)
	v = strings.Clone(v)
	if msg := passwordProblem(v); msg != "" {
		f.fail(field, msg)
	}
	return v
}

// website returns an optional http(s) URL.
func (f *form) website(field string) string {
	v := f.text(field, "Website", 0, 200)
	if v == "" {
		return v
	}
	if msg := checkWebsite(v); msg != "" {
		f.fail(field, msg)
	}
	return v
}

// checkWebsite accepts an absolute http(s) URL whose host is a DNS name (ASCII labels of
// letters, digits and dashes) or an IP address, with no user name or password before it
// (https://alpha.test@evil.example would show alpha.test and lead to evil.example).
func checkWebsite(v string) string {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.User != nil ||
		!websiteHost(u.Hostname()) || strings.ContainsAny(v, " \t\\") {
		return "Enter a full web address starting with https://."
	}
	return ""
}

// websiteHost reports whether h is an IP address or a DNS name of 1–63-character labels of
// ASCII letters, digits and inner dashes (an internationalised name in its xn-- form).
func websiteHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// reservedUsernames would collide with the site's own paths.
var reservedUsernames = map[string]bool{
	"register": true, "login": true, "logout": true, "dash": true, "agent": true, "agents": true,
	"customer": true, "customers": true, "assets": true, "healthz": true, "readyz": true,
	"conversation": true, "metrics": true, "admin": true, "api": true, "static": true,
	"www": true, "catalog": true, "sessions": true, "favicon": true, "robots": true,
	"tenantdesk": true, "root": true, "support": true, "help": true,
}

// maxUsernameLength is the longest username any server accepts (usernameRE).
const maxUsernameLength = 30

// username returns a new organization's username: 3 to limit (at most 30) lower-case letters
// and digits, not reserved.
func (f *form) username(field string, limit int) string {
	v := formValue(f.c, field)
	v = strings.Clone(strings.TrimSpace(v))
	if msg := checkNewUsername(v, limit); msg != "" {
		f.fail(field, msg)
	}
	return v
}

// checkNewUsername is checkUsername with this server's length limit, which a tenant backend
// may set below 30; the message then states that limit.
func checkNewUsername(v string, limit int) string {
	msg := checkUsername(v)
	if limit >= maxUsernameLength {
		return msg
	}
	if msg == usernameRule || (msg == "" && len(v) > limit) {
		return fmt.Sprintf("Use 3–%d lower-case letters and digits only.", limit)
	}
	return msg
}

// usernameRule is checkUsername's message for a username of the wrong characters or length.
const usernameRule = "Use 3–30 lower-case letters and digits only."

// checkUsername is the rule for a new organization's username, which becomes part of URLs and
// of its database's file name: 3–30 lower-case ASCII letters and digits, not reserved.
func checkUsername(v string) string {
	switch {
	case v == "":
		return "Username is required."
	case !usernameRE.MatchString(v):
		return usernameRule
	case reservedUsernames[v]:
		return "This username is reserved; choose another."
	}
	return ""
}

// addError records an apperr field error from a store on the form; it reports whether err
// was such an error.
func (f *form) addError(err error) bool {
	e, ok := apperr.As(err)
	if !ok || e.Field == "" {
		return false
	}
	f.fail(e.Field, sentence(e))
	return true
}

// hashPassword hashes a validated password with bcrypt.
func (s *Server) hashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), s.cfg.BcryptCost)
	return string(h), err
}

// checkPassword reports whether pw matches hash ("" means no such account). For a missing
// account it compares against a dummy hash of the configured cost, so that a login takes as
// long for an unknown email as for a wrong password.
func (s *Server) checkPassword(hash, pw string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(pw))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// paramID parses a positive integer route parameter; anything else is 404.
func paramID(c *fiber.Ctx, name string) (int64, error) {
	id, ok := parseID(c.Params(name))
	if !ok {
		return 0, fiber.ErrNotFound
	}
	return id, nil
}

// parseID parses a database id from a URL: a positive int64 in plain decimal (no sign, no
// leading zeros: one id has one URL), nothing else.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, false
	}
	return id, true
}
