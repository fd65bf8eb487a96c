package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// registerPage is the registration form; Values never holds passwords.
type registerPage struct {
	Page
	Values registerValues
	Errors FieldErrors
	Error  string
}

type registerValues struct {
	Name, Website, Username, Email string
}

// registerForm handles GET /register.
func (s *Server) registerForm(c *fiber.Ctx) error {
	return s.page(c, fiber.StatusOK, "pages/register", &registerPage{Page: Page{Title: "Register your organization"}})
}

// register handles POST /register: validate, create the tenant database and the catalog row
// (all or nothing), log the organization in.
func (s *Server) register(c *fiber.Ctx) error {
	f := newForm(c)
	v := registerValues{
		Name:     f.name("name", "Organization name", 1, 100),
		Website:  f.website("website"),
		Username: f.username("username", s.cfg.MaxUsernameLength),
		Email:    f.email("email"),
	}
	pw := f.password("password")
	if formValue(c, "password_repeat") != pw {
		f.fail("password_repeat", "The passwords do not match.")
	}
	p := &registerPage{Page: Page{Title: "Register your organization"}, Values: v, Errors: f.Errors}
	if !f.ok() {
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/register", p)
	}
	hash, err := s.hashPassword(pw)
	if err != nil {
		return err
	}
	org := catalog.Organization{
		Name: v.Name, Website: v.Website, Username: v.Username, Email: v.Email,
		PasswordHash: hash, DBName: s.cfg.AppName + "-" + v.Username,
	}
	if err := s.desk.Register(c.UserContext(), &org); err != nil {
		switch {
		case apperr.Is(err, apperr.Conflict) && f.addError(err):
			if f.Errors["email"] != "" {
				f.Errors["email"] = "An organization with this email already exists."
			}
			return s.page(c, fiber.StatusConflict, "pages/register", p)
		case apperr.Is(err, apperr.Unavailable):
			e, _ := apperr.As(err)
			p.Error = sentence(e)
			c.Set(fiber.HeaderRetryAfter, "5")
			return s.page(c, fiber.StatusServiceUnavailable, "pages/register", p)
		}
		return err
	}
	s.log.Info("organization registered", "tenant", org.Username, "db", org.DBName)
	if err := s.startSession(c, login{Role: roleOrg, OrgID: org.ID, Epoch: credentialEpoch(hash)}, "Welcome to tenantdesk! Your helpdesk is ready."); err != nil {
		return err
	}
	return redirect(c, "/dash")
}
