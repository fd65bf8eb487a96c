package handlers

import (
	"github.com/gofiber/fiber/v2"
)

// orgPasswordPage is the organization's change-password form; it never echoes a password.
type orgPasswordPage struct {
	Page
	Errors FieldErrors
}

func (s *Server) renderOrgPassword(c *fiber.Ctx, status int, errs FieldErrors) error {
	return s.page(c, status, "pages/org_password", &orgPasswordPage{Page: Page{Title: "Change your password"}, Errors: errs})
}

// orgPasswordForm handles GET /dash/password.
func (s *Server) orgPasswordForm(c *fiber.Ctx) error {
	return s.renderOrgPassword(c, fiber.StatusOK, nil)
}

// changeOrgPassword handles POST /dash/password: the organization proves it knows the current
// password (ASVS 7.5.1: a stolen session alone cannot take the account over), then sets a new
// one. Every other session of the organization ends; this one continues on a new session id.
func (s *Server) changeOrgPassword(c *fiber.Ctx) error {
	org := currentOrg(c)
	current := formValue(c, "current_password")
	if current == "" || len(current) > 256 || !s.checkPassword(org.PasswordHash, current) {
		s.log.Info("password change refused: wrong current password", "role", roleOrg, "tenant", org.Username,
			"request_id", requestID(c))
		return s.renderOrgPassword(c, fiber.StatusUnauthorized, FieldErrors{"current_password": "Wrong password."})
	}
	f := newForm(c)
	pw := f.password("password")
	if formValue(c, "password_repeat") != pw {
		f.fail("password_repeat", "The passwords do not match.")
	}
	if f.ok() && pw == current {
		f.fail("password", "Choose a new password, not the current one.")
	}
	if !f.ok() {
		return s.renderOrgPassword(c, fiber.StatusUnprocessableEntity, f.Errors)
	}
	hash, err := s.hashPassword(pw)
	if err != nil {
		return err
	}
	if err := s.catalog.SetPassword(c.UserContext(), org.ID, hash); err != nil {
		return err
	}
	// The catalog holds the password, the tenant its audit log: two databases, so the entry
	// follows the change (logged if it cannot be written; the change stands).
	if err := s.desk.RecordOwnerPassword(c.UserContext(), org, actor(c)); err != nil {
		s.log.Warn("audit: record a password change", "tenant", org.Username, "request_id", requestID(c), "err", err)
	}
	// A new session id and epoch for this browser; every other session holds the old epoch.
	if err := s.startSession(c, login{Role: roleOrg, OrgID: org.ID, Epoch: credentialEpoch(hash)},
		"Your password is changed. Every other session was logged out."); err != nil {
		return err
	}
	s.log.Info("organization password changed", "tenant", org.Username, "request_id", requestID(c))
	return redirect(c, "/dash")
}
