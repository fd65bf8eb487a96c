package handlers

// Cross-site request forgery: every state-changing request (an action route) must carry a
// token that only a page of ours could have given the browser, and must not come from another
// site. Tokens are derived, not stored — an HMAC of what the browser's forms belong to — so
// showing a page writes nothing:
//
//   - a logged-in user's forms are bound to the session id (which changes at login, so a
//     token planted before it is worthless);
//   - anyone else's forms (login, registration, opening a ticket, a customer's ticket page)
//     are bound to a random value in a cookie of their own, set the first time a page needs
//     it.
//
// The token is read from the X-CSRF-Token header (htmx) or the _csrf field of the body (plain
// forms; a streamed upload's first field), never from the query string, where it would leak
// into logs and Referer headers. As
// a second layer, a request whose Sec-Fetch-Site says cross-site, or whose Origin is present
// and not ours (PUBLIC_URL's origin when set, the request's own host otherwise), is refused
// whatever token it carries.

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

const csrfLocal = "csrf"

// csrfKey derives the token key from the cookie key.
func csrfKey(cookieKey []byte) []byte {
	m := hmac.New(sha256.New, cookieKey)
	m.Write([]byte("tenantdesk csrf key"))
	return m.Sum(nil)
}

// originOf returns the origin (scheme://host[:port]) of PUBLIC_URL, or "" when it is unset.
func originOf(publicURL string) (string, error) {
	if publicURL == "" {
		return "", nil
	}
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("PUBLIC_URL %q must be an http(s) URL such as https://help.example.com", publicURL)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// anonCookieMaxAge is how long the cookie binding anonymous forms lives.
const anonCookieMaxAge = 7 * 24 * time.Hour

// csrfBinding names what the request's forms belong to (see the package comment above);
// issue sets the anonymous cookie when it is missing. "" means the request has no binding.
func (s *Server) csrfBinding(c *fiber.Ctx, issue bool) string {
	if l, err := s.currentLogin(c); err == nil && l.Role != "" {
		if sess, err := s.sessions.Get(c); err == nil {
			return "s:" + sess.ID()
		}
	}
	name := s.cookieName("csrf")
	v := c.Cookies(name)
	if v == "" && issue {
		v = rand.Text()
		c.Cookie(&fiber.Cookie{Name: name, Value: v, Path: "/", MaxAge: int(anonCookieMaxAge.Seconds()),
			Secure: s.cfg.SecureCookies, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
	}
	if v == "" {
		return ""
	}
	return "a:" + v
}

func (s *Server) sign(binding string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfToken is the token the request's page puts into its forms.
func (s *Server) csrfToken(c *fiber.Ctx) string {
	if t, ok := c.Locals(csrfLocal).(string); ok {
		return t
	}
	b := s.csrfBinding(c, true)
	if b == "" {
		return ""
	}
	t := s.sign(b)
	c.Locals(csrfLocal, t)
	return t
}

var (
	errCrossSite   = errors.New("cross-site request")
	errOrigin      = errors.New("request from another origin")
	errNoToken     = errors.New("no CSRF token")
	errWrongToken  = errors.New("CSRF token does not match")
	errNoBinding   = errors.New("nothing to bind a CSRF token to (no session or cookie)")
	csrfHeaderName = "X-CSRF-Token"
)

// verifyCSRF lets through a state-changing request only from our own pages.
func (s *Server) verifyCSRF(c *fiber.Ctx) error {
	if err := s.checkOrigin(c); err != nil {
		return s.csrfFailed(c, err)
	}
	got := c.Get(csrfHeaderName)
	if got == "" && routeKind(c).upload && isStreamedUpload(c) {
		// A streamed upload's token is its form's first field: its handler checks it before
		// it reads anything else (reading it here would buffer the whole body).
		c.Locals(csrfDeferredLocal, true)
		return c.Next()
	}
	if got == "" {
		got = bodyValue(c, "_csrf")
	}
	if err := s.checkCSRFToken(c, got); err != nil {
		return s.csrfFailed(c, err)
	}
	return c.Next()
}

// checkCSRFToken reports whether got is the token of the request's forms.
func (s *Server) checkCSRFToken(c *fiber.Ctx, got string) error {
	if got == "" {
		return errNoToken
	}
	b := s.csrfBinding(c, false)
	if b == "" {
		return errNoBinding
	}
	if !hmac.Equal([]byte(got), []byte(s.sign(b))) {
		return errWrongToken
	}
	return nil
}

// checkOrigin refuses a request a browser marks as cross-site, or whose Origin is another one.
func (s *Server) checkOrigin(c *fiber.Ctx) error {
	if strings.EqualFold(c.Get("Sec-Fetch-Site"), "cross-site") {
		return errCrossSite
	}
	o := c.Get(fiber.HeaderOrigin)
	if o == "" {
		return nil // not sent by every client; the token still decides
	}
	if s.origin != "" {
		if !strings.EqualFold(o, s.origin) {
			return errOrigin
		}
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, string(c.Request().Host())) {
		return errOrigin
	}
	return nil
}

// bodyValue returns a form field from the request body only (urlencoded or multipart), never
// from the query string: c.FormValue would take either.
func bodyValue(c *fiber.Ctx, key string) string {
	ct := c.Request().Header.ContentType()
	if bytes.HasPrefix(ct, []byte(fiber.MIMEMultipartForm)) {
		f, err := c.MultipartForm()
		if err != nil || len(f.Value[key]) == 0 {
			return ""
		}
		return f.Value[key][0]
	}
	return string(c.Request().PostArgs().Peek(key))
}

// formValue is a form field of the request body (see bodyValue): every handler reads its
// fields with it, so a value in the query string never stands in for one in the form.
func formValue(c *fiber.Ctx, key string) string { return bodyValue(c, key) }
