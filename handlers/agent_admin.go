package handlers

import (
	"github.com/gofiber/fiber/v2"
)

// removeAgent handles POST /agents/:agentId/remove: the organization removes one of its
// agents. Its credential is revoked, so its sessions end at their next request (ASVS 7.4.2);
// its conversations stay readable and its engaged tickets go back to the queue. Another
// tenant's agent id is unknown in this tenant's database (404).
func (s *Server) removeAgent(c *fiber.Ctx) error {
	id, err := paramID(c, "agentId")
	if err != nil {
		return err
	}
	org := currentOrg(c)
	a, err := s.desk.RemoveAgent(c.UserContext(), org, actor(c), id)
	if err != nil {
		return err
	}
	s.log.Info("agent removed", "tenant", org.Username, "agent_id", id, "request_id", requestID(c))
	s.setFlash(c, a.FullName+" was removed and logged out. Their open tickets are back in the queue.")
	return redirect(c, s.managerHome(c))
}

// resetAgentPassword handles POST /agents/:agentId/reset-password: the organization issues a
// new one-time password (also to a removed agent, which restores it). The old password and
// every session on it stop working; the new password is shown once, like at onboarding, and
// never logged.
func (s *Server) resetAgentPassword(c *fiber.Ctx) error {
	id, err := paramID(c, "agentId")
	if err != nil {
		return err
	}
	pw := newOneTimePassword()
	hash, err := s.hashPassword(pw)
	if err != nil {
		return err
	}
	org := currentOrg(c)
	a, err := s.desk.ResetAgentPassword(c.UserContext(), org, actor(c), id, hash)
	if err != nil {
		return err
	}
	s.log.Info("agent password reset", "tenant", org.Username, "agent_id", id, "request_id", requestID(c))
	p, err := s.managePage(c)
	if err != nil {
		return err
	}
	p.section().NewAgent = &newAgent{FullName: a.FullName, Email: a.Email, Password: pw, LoginURL: agentURL(org.Username, "login"), Reset: true}
	return s.renderManage(c, fiber.StatusOK, p)
}
