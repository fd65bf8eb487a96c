package handlers

import (
	"crypto/rand"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/crm"
)

// orgAgent loads the agent the route names from the organization's own database; another
// tenant's agent id is simply unknown there (NotFound).
func (s *Server) orgAgent(c *fiber.Ctx) (*crm.Store, crm.Agent, error) {
	id, err := paramID(c, "agentId")
	if err != nil {
		return nil, crm.Agent{}, err
	}
	store, err := s.crm(c)
	if err != nil {
		return nil, crm.Agent{}, err
	}
	a, err := store.Agent(c.UserContext(), id)
	if err != nil {
		return nil, crm.Agent{}, err
	}
	return store, a, nil
}

// removeAgent handles POST /agents/:agentId/remove: the organization removes one of its
// agents. Its credential is revoked, so its sessions end at their next request (ASVS 7.4.2);
// its conversations stay readable and its engaged tickets go back to the queue.
func (s *Server) removeAgent(c *fiber.Ctx) error {
	store, a, err := s.orgAgent(c)
	if err != nil {
		return err
	}
	id := a.ID
	if err := store.RemoveAgent(c.UserContext(), id); err != nil {
		return err
	}
	s.log.Info("agent removed", "tenant", currentOrg(c).Username, "agent_id", id, "request_id", requestID(c))
	s.setFlash(c, a.FullName+" was removed and logged out. Their open conversations are back in the queue.")
	return redirect(c, "/dash")
}

// resetAgentPassword handles POST /agents/:agentId/reset-password: the organization issues a
// new one-time password (also to a removed agent, which restores it). The old password and
// every session on it stop working; the new password is shown once, like at onboarding, and
// never logged.
func (s *Server) resetAgentPassword(c *fiber.Ctx) error {
	store, a, err := s.orgAgent(c)
	if err != nil {
		return err
	}
	id := a.ID
	pw := rand.Text() // 26 base32 characters: 130 random bits
	hash, err := s.hashPassword(pw)
	if err != nil {
		return err
	}
	if err := store.ResetAgentPassword(c.UserContext(), id, hash); err != nil {
		return err
	}
	org := currentOrg(c)
	s.log.Info("agent password reset", "tenant", org.Username, "agent_id", id, "request_id", requestID(c))
	p, err := s.dashData(c)
	if err != nil {
		return err
	}
	p.NewAgent = &newAgent{FullName: a.FullName, Email: a.Email, Password: pw, LoginURL: agentURL(org.Username, "login"), Reset: true}
	return s.page(c, fiber.StatusOK, "pages/dash", p)
}
