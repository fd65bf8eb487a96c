package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// deleteOrg handles POST /dash/delete: after the owner types its username and password, the
// organization, its database and its sessions are removed. What remains is one log line.
func (s *Server) deleteOrg(c *fiber.Ctx) error {
	org := currentOrg(c)
	confirm := formValue(c, "confirm_name")
	pw := formValue(c, "password")
	var field, msg string
	status := fiber.StatusUnprocessableEntity
	switch {
	case confirm != org.Username:
		field, msg = "confirm_name", "Type your organization's username exactly to confirm."
	case pw == "" || len(pw) > 256 || !s.checkPassword(org.PasswordHash, pw):
		field, msg, status = "delete_password", "Wrong password.", fiber.StatusUnauthorized
	}
	if field != "" {
		p, err := s.dashData(c, true)
		if err != nil {
			return err
		}
		p.DeleteErrors, p.DeleteConfirm = FieldErrors{field: msg}, confirm
		return s.page(c, status, "pages/dash", p)
	}
	if err := s.desk.DeleteTenant(c.UserContext(), org, actor(c)); err != nil {
		return err
	}
	s.log.Info("organization deleted", "tenant", org.Username, "db", org.DBName, "at", time.Now().UTC().Format(time.RFC3339))
	if err := s.endSession(c); err != nil {
		s.log.Warn("end session after deletion", "err", err)
	}
	return redirect(c, "/")
}
