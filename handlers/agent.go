package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

func agentURL(org string, parts ...string) string {
	return "/agent/" + org + "/" + strings.Join(parts, "/")
}

// agentLoginForm handles GET /agent/:org/login.
func (s *Server) agentLoginForm(c *fiber.Ctx) error {
	org := currentOrg(c)
	return s.page(c, fiber.StatusOK, "pages/login", &loginPage{Page: Page{Title: "Agent log in · " + org.Name},
		Action: agentURL(org.Username, "login"), OrgName: org.Name})
}

// agentLogin handles POST /agent/:org/login.
func (s *Server) agentLogin(c *fiber.Ctx) error {
	org := currentOrg(c)
	typed := strings.Clone(strings.TrimSpace(formValue(c, "email")))
	pw := formValue(c, "password")
	p := &loginPage{Page: Page{Title: "Agent log in · " + org.Name}, Action: agentURL(org.Username, "login"),
		OrgName: org.Name, Email: typed}
	// Validated and normalised before the lookup, as the failure counter keys it (login.go).
	email, valid := loginEmail(typed)
	if !valid || pw == "" {
		p.Errors = loginErrors(typed, valid, pw)
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/login", p)
	}
	agent, err := s.desk.AgentByEmail(c.UserContext(), org, desk.AsSystem(), email)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	if len(pw) > 256 || !s.checkPassword(agent.PasswordHash, pw) {
		s.log.Info("login failed", "role", roleAgent, "tenant", org.Username, "ip", s.clientIP(c))
		reason := "password"
		if agent.ID == 0 {
			reason = "unknown_account"
		}
		s.recordLogin(c, org, desk.LoginAttempt{AgentID: agent.ID, Name: agent.FullName, Reason: reason})
		p.Error = "Wrong email or password."
		return s.page(c, fiber.StatusUnauthorized, "pages/login", p)
	}
	if s.initialPasswordExpired(&agent) {
		s.log.Info("login refused: one-time password expired", "role", roleAgent, "tenant", org.Username, "agent_id", agent.ID)
		s.recordLogin(c, org, desk.LoginAttempt{AgentID: agent.ID, Name: agent.FullName, Reason: "expired"})
		p.Error = "Your one-time password has expired. Ask your organization for a new one."
		return s.page(c, fiber.StatusUnauthorized, "pages/login", p)
	}
	// A login that cannot be recorded does not happen.
	if err := s.desk.RecordLogin(c.UserContext(), org, desk.AsSystem(), desk.LoginAttempt{AgentID: agent.ID,
		Name: agent.FullName, OK: true}); err != nil {
		return err
	}
	if err := s.startSession(c, login{Role: roleAgent, OrgID: org.ID, AgentID: agent.ID,
		Epoch: credentialEpoch(agent.PasswordHash)}, ""); err != nil {
		return err
	}
	s.log.Info("login", "role", roleAgent, "tenant", org.Username, "agent_id", agent.ID)
	if agent.MustChangePassword {
		return redirect(c, agentURL(org.Username, "password"))
	}
	return redirect(c, agentURL(org.Username, "dash"))
}

type agentPasswordPage struct {
	Page
	Action string
	// AskCurrent asks for the current password: always, except while the agent holds the
	// one-time password it logged in with.
	AskCurrent bool
	Errors     FieldErrors
}

func (s *Server) renderAgentPassword(c *fiber.Ctx, status int, errs FieldErrors) error {
	org, agent := currentOrg(c), currentAgent(c)
	title := "Change your password"
	if agent.MustChangePassword {
		title = "Choose your password"
	}
	return s.page(c, status, "pages/agent_password", &agentPasswordPage{Page: Page{Title: title},
		Action: agentURL(org.Username, "password"), AskCurrent: !agent.MustChangePassword, Errors: errs})
}

// agentPasswordForm handles GET /agent/:org/password.
func (s *Server) agentPasswordForm(c *fiber.Ctx) error {
	return s.renderAgentPassword(c, fiber.StatusOK, nil)
}

// agentSetPassword handles POST /agent/:org/password: the agent replaces its password. Once
// its one-time password is gone it must prove it knows the current one (ASVS 7.5.1: a stolen
// session alone cannot take the account over); a wrong one is counted like a failed login
// (passwordLimit). Every other session of the agent ends; this one continues on a new id.
func (s *Server) agentSetPassword(c *fiber.Ctx) error {
	org, agent := currentOrg(c), currentAgent(c)
	current := ""
	if !agent.MustChangePassword {
		current = formValue(c, "current_password")
		if current == "" || len(current) > 256 || !s.checkPassword(agent.PasswordHash, current) {
			s.log.Info("password change refused: wrong current password", "role", roleAgent, "tenant", org.Username,
				"agent_id", agent.ID, "request_id", requestID(c))
			return s.renderAgentPassword(c, fiber.StatusUnauthorized, FieldErrors{"current_password": "Wrong password."})
		}
	}
	f := newForm(c)
	pw := f.password("password")
	if formValue(c, "password_repeat") != pw {
		f.fail("password_repeat", "The passwords do not match.")
	}
	if f.ok() && s.checkPassword(agent.PasswordHash, pw) {
		f.fail("password", "Choose a new password, not the one you have.")
	}
	if !f.ok() {
		return s.renderAgentPassword(c, fiber.StatusUnprocessableEntity, f.Errors)
	}
	hash, err := s.hashPassword(pw)
	if err != nil {
		return err
	}
	if err := s.desk.SetAgentPassword(c.UserContext(), org, actor(c), agent.ID, hash); err != nil {
		return err
	}
	// A new session id after a credential change; sessions on the old hash end (requireAgent).
	if err := s.startSession(c, login{Role: roleAgent, OrgID: org.ID, AgentID: agent.ID, Epoch: credentialEpoch(hash)},
		"Your password is set."); err != nil {
		return err
	}
	s.log.Info("agent password set", "tenant", org.Username, "agent_id", agent.ID)
	return redirect(c, agentURL(org.Username, "dash"))
}

type agentDashPage struct {
	Page
	OrgUser string
	Queue   Queue
	// MailOn offers the choice of new-ticket emails; NewTicketEmails is the agent's.
	MailOn, NewTicketEmails bool
}

// agentDash handles GET /agent/:org/dash?view=&tag=&priority=: the queues. With HX-Request it
// answers only the queue (partials/queue), or 204 when the tickets did not change since the
// version the poll names.
func (s *Server) agentDash(c *fiber.Ctx) error {
	org := currentOrg(c)
	version, err := s.liveVersion(c, org)
	if err != nil {
		return err
	}
	if unchanged(c, version) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	p := &agentDashPage{Page: Page{Title: "Agent dashboard · " + org.Name}, OrgUser: org.Username}
	if p.Queue, err = s.queue(c, agentURL(org.Username, "dash"), desk.ViewUnassigned, "agent", version); err != nil {
		return err
	}
	if p.MailOn = s.desk.MailOn(); p.MailOn && !isHTMX(c) {
		if p.NewTicketEmails, err = s.desk.NewTicketEmails(c.UserContext(), org, actor(c)); err != nil {
			return err
		}
	}
	return s.render(c, fiber.StatusOK, "pages/agent_dash", "partials/queue", p)
}
