package handlers

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
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
	v := strings.TrimSpace(f.c.FormValue(field))
	v = strings.Clone(v)
	n := utf8.RuneCountInString(v)
	switch {
	case !utf8.ValidString(v):
		f.fail(field, label+" contains invalid characters.")
	case n == 0 && min > 0:
		f.fail(field, label+" is required.")
	case n < min:
		f.fail(field, label+" must be at least "+strconv.Itoa(min)+" characters.")
	case n > max:
		f.fail(field, label+" must be at most "+strconv.Itoa(max)+" characters.")
	case strings.ContainsAny(v, "\x00\r\n") && max <= 200:
		f.fail(field, label+" must be a single line.")
	}
	return v
}

// email returns a lower-cased email address.
func (f *form) email(field string) string {
	v := strings.ToLower(f.text(field, "Email", 1, 254))
	if _, bad := f.Errors[field]; bad {
		return v
	}
	addr, err := mail.ParseAddress(v)
	if err != nil || addr.Address != v || !strings.Contains(v[strings.LastIndexByte(v, '@'):], ".") {
		f.fail(field, "Enter a valid email address, like name@example.com.")
	}
	return v
}

// password returns a password field as typed (never trimmed). Length is counted in characters
// (8–64) and also bounded to bcrypt's 72 bytes, so nothing is silently truncated.
func (f *form) password(field string) string {
	v := f.c.FormValue(field)
	v = strings.Clone(v)
	switch n := utf8.RuneCountInString(v); {
	case n == 0:
		f.fail(field, "Password is required.")
	case n < 8:
		f.fail(field, "Password must be at least 8 characters.")
	case n > 64:
		f.fail(field, "Password must be at most 64 characters.")
	case len(v) > 72:
		f.fail(field, "Password is too long in bytes; use at most 72 bytes (fewer accented or special characters).")
	}
	return v
}

// website returns an optional http(s) URL.
func (f *form) website(field string) string {
	v := f.text(field, "Website", 0, 200)
	if v == "" {
		return v
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		f.fail(field, "Enter a full web address starting with https://.")
	}
	return v
}

// reservedUsernames would collide with the site's own paths.
var reservedUsernames = map[string]bool{
	"register": true, "login": true, "logout": true, "dash": true, "agent": true, "agents": true,
	"customer": true, "customers": true, "assets": true, "healthz": true, "readyz": true,
	"conversation": true, "metrics": true, "admin": true, "api": true, "static": true,
	"www": true, "catalog": true, "sessions": true, "favicon": true, "robots": true,
	"tenantdesk": true, "root": true, "support": true, "help": true,
}

// username returns an organization username: 3–30 lower-case letters and digits, not reserved.
func (f *form) username(field string) string {
	v := f.c.FormValue(field)
	v = strings.Clone(strings.TrimSpace(v))
	switch {
	case v == "":
		f.fail(field, "Username is required.")
	case !usernameRE.MatchString(v):
		f.fail(field, "Use 3–30 lower-case letters and digits only.")
	case reservedUsernames[v]:
		f.fail(field, "This username is reserved; choose another.")
	}
	return v
}

// addError records an apperr field error from a store on the form; it reports whether err
// was such an error.
func (f *form) addError(err error) bool {
	e, ok := apperr.As(err)
	if !ok || e.Field == "" {
		return false
	}
	f.fail(e.Field, e.Message)
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

// newToken returns a customer's private link token: 256 random bits, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how a token is stored and looked up: the token itself is never kept.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// paramID parses a positive integer route parameter; anything else is 404.
func paramID(c *fiber.Ctx, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Params(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, fiber.ErrNotFound
	}
	return id, nil
}
