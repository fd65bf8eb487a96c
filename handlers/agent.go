package handlers

import (
	"strconv"
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
	email := strings.ToLower(strings.Clone(strings.TrimSpace(formValue(c, "email"))))
	pw := formValue(c, "password")
	p := &loginPage{Page: Page{Title: "Agent log in · " + org.Name}, Action: agentURL(org.Username, "login"),
		OrgName: org.Name, Email: email}
	if email == "" || pw == "" {
		p.Errors = FieldErrors{}
		if email == "" {
			p.Errors["email"] = "Email is required."
		}
		if pw == "" {
			p.Errors["password"] = "Password is required."
		}
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/login", p)
	}
	agent, err := s.desk.AgentByEmail(c.UserContext(), org, desk.AsSystem(), email)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	if len(pw) > 256 || !s.checkPassword(agent.PasswordHash, pw) {
		s.log.Info("login failed", "role", roleAgent, "tenant", org.Username, "ip", s.clientIP(c))
		p.Error = "Wrong email or password."
		return s.page(c, fiber.StatusUnauthorized, "pages/login", p)
	}
	if s.initialPasswordExpired(&agent) {
		s.log.Info("login refused: one-time password expired", "role", roleAgent, "tenant", org.Username, "agent_id", agent.ID)
		p.Error = "Your one-time password has expired. Ask your organization for a new one."
		return s.page(c, fiber.StatusUnauthorized, "pages/login", p)
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
	Errors FieldErrors
}

// agentPasswordForm handles GET /agent/:org/password.
func (s *Server) agentPasswordForm(c *fiber.Ctx) error {
	return s.page(c, fiber.StatusOK, "pages/agent_password", &agentPasswordPage{Page: Page{Title: "Choose your password"},
		Action: agentURL(currentOrg(c).Username, "password")})
}

// agentSetPassword handles POST /agent/:org/password: the agent replaces its password.
func (s *Server) agentSetPassword(c *fiber.Ctx) error {
	org, agent := currentOrg(c), currentAgent(c)
	f := newForm(c)
	pw := f.password("password")
	if formValue(c, "password_repeat") != pw {
		f.fail("password_repeat", "The passwords do not match.")
	}
	if f.ok() && s.checkPassword(agent.PasswordHash, pw) {
		f.fail("password", "Choose a new password, not the initial one.")
	}
	if !f.ok() {
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/agent_password", &agentPasswordPage{
			Page: Page{Title: "Choose your password"}, Action: agentURL(org.Username, "password"), Errors: f.Errors})
	}
	hash, err := s.hashPassword(pw)
	if err != nil {
		return err
	}
	if err := s.desk.SetAgentPassword(c.UserContext(), org, actor(c), agent.ID, hash); err != nil {
		return err
	}
	// A new session id after a credential change.
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
	Counts  desk.TicketCounts
	Waiting listing
	Mine    listing
	// LiveURL is what the live region polls: the lists as long as they are now, and the
	// version they show (Version), so that an unchanged dashboard answers 204.
	LiveURL string
	Version uint64
}

// agentDash handles GET /agent/:org/dash: tickets nobody engaged yet, and this agent's own.
// With HX-Request it answers only the live region (partials/agent_live), or 204 when the
// tickets did not change since the version the poll names.
func (s *Server) agentDash(c *fiber.Ctx) error {
	org, a := currentOrg(c), actor(c)
	version := s.desk.Version(org)
	if unchanged(c, version) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	ctx := c.UserContext()
	p := &agentDashPage{Page: Page{Title: "Agent dashboard · " + org.Name}, OrgUser: org.Username, Version: version}
	var err error
	if p.Counts, err = s.desk.Counts(ctx, org, a); err != nil {
		return err
	}
	if p.Waiting, err = s.listing(c, shownParam(c, "waiting"), desk.ListQuery{Status: desk.StatusOpen}); err != nil {
		return err
	}
	if p.Mine, err = s.listing(c, shownParam(c, "mine"), desk.ListQuery{Mine: true}); err != nil {
		return err
	}
	path := agentURL(org.Username, "dash")
	keys, lists := []string{"waiting", "mine"}, []*listing{&p.Waiting, &p.Mine}
	moreURLs(path, keys, lists)
	p.LiveURL = liveURL(path, keys, lists, version)
	return s.render(c, fiber.StatusOK, "pages/agent_dash", "partials/agent_live", p)
}

// engage handles POST /agent/:org/tickets/:ticketId/engage.
func (s *Server) engage(c *fiber.Ctx) error {
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	org := currentOrg(c)
	convID, err := s.desk.Engage(c.UserContext(), org, actor(c), id)
	if err != nil {
		return err
	}
	return redirect(c, agentURL(org.Username, "talk", strconv.FormatInt(convID, 10)))
}

// closeTicket handles POST /agent/:org/tickets/:ticketId/close.
func (s *Server) closeTicket(c *fiber.Ctx) error {
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	org := currentOrg(c)
	t, err := s.desk.CloseTicket(c.UserContext(), org, actor(c), id)
	if err != nil {
		return err
	}
	s.setFlash(c, "Ticket closed. The customer can now rate the service.")
	return redirect(c, agentURL(org.Username, "talk", strconv.FormatInt(t.ConversationID, 10)))
}

type talkPage struct {
	Page
	OrgUser string
	Chat    Chat
}

func (s *Server) talkURL(c *fiber.Ctx, convID int64) string {
	return agentURL(currentOrg(c).Username, "talk", strconv.FormatInt(convID, 10))
}

func (s *Server) renderTalk(c *fiber.Ctx, convID int64, draft, sendErr string, status int) error {
	ch, err := s.chat(c, convID, s.talkURL(c, convID), "agent")
	if err != nil {
		return err
	}
	ch.CanSend, ch.Draft, ch.SendError = ch.Ticket.Status == desk.StatusEngaged, draft, sendErr
	return s.page(c, status, "pages/talk", &talkPage{Page: Page{Title: "Talking with " + ch.Ticket.CustomerName},
		OrgUser: currentOrg(c).Username, Chat: ch})
}

// talk handles GET /agent/:org/talk/:conversationId: a conversation the agent may see (the
// desk answers 404 for any other, whether it exists or not).
func (s *Server) talk(c *fiber.Ctx) error {
	id, err := paramID(c, "conversationId")
	if err != nil {
		return err
	}
	return s.renderTalk(c, id, "", "", fiber.StatusOK)
}

// agentPoll handles GET /agent/:org/talk/:conversationId/messages.
func (s *Server) agentPoll(c *fiber.Ctx) error {
	id, err := paramID(c, "conversationId")
	if err != nil {
		return err
	}
	return s.pollMessages(c, id)
}

// agentSend handles POST /agent/:org/talk/:conversationId/messages.
func (s *Server) agentSend(c *fiber.Ctx) error {
	id, err := paramID(c, "conversationId")
	if err != nil {
		return err
	}
	return s.sendMessage(c, id, s.talkURL(c, id), func(draft, msg string, status int) error {
		return s.renderTalk(c, id, draft, msg, status)
	})
}
