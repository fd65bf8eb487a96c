package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// loginPage is a login form (organization or agent); the password is never echoed.
type loginPage struct {
	Page
	Action string
	Email  string
	Errors FieldErrors
	Error  string
	// OrgName is set on an organization's agent login page.
	OrgName string
}

// loginForm handles GET /login.
func (s *Server) loginForm(c *fiber.Ctx) error {
	return s.page(c, fiber.StatusOK, "pages/login", &loginPage{Page: Page{Title: "Log in"}, Action: "/login"})
}

// login handles POST /login for organizations. The email is validated and normalised before
// anything uses it (loginEmail): the failure counter in front of this handler keys on the
// same value the lookup uses.
func (s *Server) login(c *fiber.Ctx) error {
	typed := strings.Clone(strings.TrimSpace(formValue(c, "email")))
	pw := formValue(c, "password")
	p := &loginPage{Page: Page{Title: "Log in"}, Action: "/login", Email: typed}
	email, valid := loginEmail(typed)
	if !valid || pw == "" || len(pw) > 256 {
		if p.Errors = loginErrors(typed, valid, pw); len(p.Errors) == 0 {
			p.Error = "Wrong email or password."
			return s.page(c, fiber.StatusUnauthorized, "pages/login", p)
		}
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/login", p)
	}
	org, err := s.catalog.ByEmail(c.UserContext(), email)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	if !s.checkPassword(org.PasswordHash, pw) {
		s.log.Info("login failed", "role", roleOrg, "ip", s.clientIP(c))
		if org.ID != 0 {
			s.recordLogin(c, &org, desk.LoginAttempt{Owner: true, Reason: "password"})
		}
		p.Error = "Wrong email or password."
		return s.page(c, fiber.StatusUnauthorized, "pages/login", p)
	}
	// A login that cannot be recorded does not happen.
	if err := s.desk.RecordLogin(c.UserContext(), &org, desk.AsSystem(), desk.LoginAttempt{Owner: true, OK: true}); err != nil {
		return err
	}
	if err := s.startSession(c, login{Role: roleOrg, OrgID: org.ID, Epoch: credentialEpoch(org.PasswordHash)}, ""); err != nil {
		return err
	}
	s.log.Info("login", "role", roleOrg, "tenant", org.Username)
	return redirect(c, "/dash")
}

// loginErrors are a login form's field errors before any lookup: a missing or invalid email
// and a missing password. None for a valid email with an overlong password, which answers
// like a wrong one.
func loginErrors(typed string, valid bool, pw string) FieldErrors {
	errs := FieldErrors{}
	switch {
	case typed == "":
		errs["email"] = "Email is required."
	case !valid:
		errs["email"] = "Enter a valid email address, like name@example.com."
	}
	if pw == "" {
		errs["password"] = "Password is required."
	}
	return errs
}

// logout handles POST /logout for organizations and agents alike.
func (s *Server) logout(c *fiber.Ctx) error {
	l, err := s.currentLogin(c)
	if err != nil {
		return err
	}
	dest := "/"
	if l.Role == roleAgent {
		if org, err := s.catalog.ByID(c.UserContext(), l.OrgID); err == nil {
			dest = "/agent/" + org.Username + "/login"
		}
	}
	if err := s.endSession(c); err != nil {
		return err
	}
	return redirect(c, dest)
}

// recordLogin records a refused login in org's audit log. A failure to record it is logged:
// the answer stays the refusal.
func (s *Server) recordLogin(c *fiber.Ctx, org *catalog.Organization, l desk.LoginAttempt) {
	if err := s.desk.RecordLogin(c.UserContext(), org, desk.AsSystem(), l); err != nil {
		s.log.Warn("audit: record a refused login", "tenant", org.Username, "request_id", requestID(c), "err", err)
	}
}
