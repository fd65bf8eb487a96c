package handlers

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/crm"
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
	typed := strings.Clone(strings.TrimSpace(c.FormValue("email")))
	pw := c.FormValue("password")
	p := &loginPage{Page: Page{Title: "Agent log in · " + org.Name}, Action: agentURL(org.Username, "login"),
		OrgName: org.Name, Email: typed}
	// Validated and normalised before the lookup, as the failure counter keys it (login.go).
	email, valid := loginEmail(typed)
	if !valid || pw == "" {
		p.Errors = loginErrors(typed, valid, pw)
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/login", p)
	}
	store, err := s.crm(c)
	if err != nil {
		return err
	}
	agent, err := store.AgentByEmail(c.UserContext(), email)
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
		current = c.FormValue("current_password")
		if current == "" || len(current) > 256 || !s.checkPassword(agent.PasswordHash, current) {
			s.log.Info("password change refused: wrong current password", "role", roleAgent, "tenant", org.Username,
				"agent_id", agent.ID, "request_id", requestID(c))
			return s.renderAgentPassword(c, fiber.StatusUnauthorized, FieldErrors{"current_password": "Wrong password."})
		}
	}
	f := newForm(c)
	pw := f.password("password")
	if c.FormValue("password_repeat") != pw {
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
	store, err := s.crm(c)
	if err != nil {
		return err
	}
	if err := store.SetAgentPassword(c.UserContext(), agent.ID, hash); err != nil {
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
	Counts  crm.TicketCounts
	Waiting listing
	Mine    listing
	// LiveURL is what the lists poll (as long as they are now).
	LiveURL string
}

// agentDash handles GET /agent/:org/dash: tickets nobody engaged yet, and this agent's own.
func (s *Server) agentDash(c *fiber.Ctx) error {
	org, agent := currentOrg(c), currentAgent(c)
	store, err := s.crm(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	p := &agentDashPage{Page: Page{Title: "Agent dashboard · " + org.Name}, OrgUser: org.Username}
	if p.Counts, err = store.Counts(ctx); err != nil {
		return err
	}
	if p.Waiting, err = fetchTickets(ctx, store, crm.StatusOpen, shownParam(c, "waiting")); err != nil {
		return err
	}
	p.Mine, err = fetchListing(shownParam(c, "mine"), func(limit int) ([]crm.Ticket, error) {
		return store.AgentTickets(ctx, agent.ID, limit)
	})
	if err != nil {
		return err
	}
	path := agentURL(org.Username, "dash")
	keys, lists := []string{"waiting", "mine"}, []*listing{&p.Waiting, &p.Mine}
	moreURLs(path, keys, lists)
	p.LiveURL = pageURL(path, keys, lists)
	return s.page(c, fiber.StatusOK, "pages/agent_dash", p)
}

// engage handles POST /agent/:org/tickets/:ticketId/engage.
func (s *Server) engage(c *fiber.Ctx) error {
	org, agent := currentOrg(c), currentAgent(c)
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	store, err := s.crm(c)
	if err != nil {
		return err
	}
	convID, err := store.Engage(c.UserContext(), id, agent.ID)
	if err != nil {
		return err
	}
	return redirect(c, agentURL(org.Username, "talk", strconv.FormatInt(convID, 10)))
}

// closeTicket handles POST /agent/:org/tickets/:ticketId/close.
func (s *Server) closeTicket(c *fiber.Ctx) error {
	org, agent := currentOrg(c), currentAgent(c)
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	store, err := s.crm(c)
	if err != nil {
		return err
	}
	if err := store.CloseTicket(c.UserContext(), id, agent.ID); err != nil {
		return err
	}
	t, err := store.Ticket(c.UserContext(), id)
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

// agentConversation loads the route's conversation, which must be the current agent's: any
// other id is 404, whether it exists or not.
func (s *Server) agentConversation(c *fiber.Ctx) (*crm.Store, crm.Ticket, error) {
	id, err := paramID(c, "conversationId")
	if err != nil {
		return nil, crm.Ticket{}, err
	}
	store, err := s.crm(c)
	if err != nil {
		return nil, crm.Ticket{}, err
	}
	t, err := store.ConversationTicket(c.UserContext(), id)
	if err != nil {
		return nil, t, err
	}
	if t.AgentID != currentAgent(c).ID {
		return nil, t, apperr.New(apperr.NotFound, "Conversation not found.")
	}
	return store, t, nil
}

func (s *Server) talkURL(c *fiber.Ctx, convID int64) string {
	return agentURL(currentOrg(c).Username, "talk", strconv.FormatInt(convID, 10))
}

func (s *Server) renderTalk(c *fiber.Ctx, store *crm.Store, t crm.Ticket, draft, sendErr string, status int) error {
	ch, err := s.chat(c, store, t, s.talkURL(c, t.ConversationID), "agent")
	if err != nil {
		return err
	}
	ch.CanSend, ch.Draft, ch.SendError = t.Status == crm.StatusEngaged, draft, sendErr
	return s.page(c, status, "pages/talk", &talkPage{Page: Page{Title: "Talking with " + t.CustomerName},
		OrgUser: currentOrg(c).Username, Chat: ch})
}

// talk handles GET /agent/:org/talk/:conversationId.
func (s *Server) talk(c *fiber.Ctx) error {
	store, t, err := s.agentConversation(c)
	if err != nil {
		return err
	}
	return s.renderTalk(c, store, t, "", "", fiber.StatusOK)
}

// agentPoll handles GET /agent/:org/talk/:conversationId/messages.
func (s *Server) agentPoll(c *fiber.Ctx) error {
	st, err := s.agentPollState(c)
	if err != nil {
		return err
	}
	return s.pollMessages(c, st)
}

// agentPollState is the poll state of the route's conversation when it is the logged-in
// agent's; any other conversation is NotFound.
func (s *Server) agentPollState(c *fiber.Ctx) (crm.PollState, error) {
	id, err := paramID(c, "conversationId")
	if err != nil {
		return crm.PollState{}, err
	}
	st, err := s.conversationPoll(c, id)
	if err != nil {
		return crm.PollState{}, err
	}
	if st.AgentID != currentAgent(c).ID {
		return crm.PollState{}, apperr.New(apperr.NotFound, "Conversation not found.")
	}
	return st, nil
}

// agentSend handles POST /agent/:org/talk/:conversationId/messages.
//
// Whose conversation it is comes from the poll state (hotcache.go: in memory while nothing
// else was written), not from loading the whole ticket: sends are frequent and queue on the
// tenant's one connection. The page, when a send fails, loads it all.
func (s *Server) agentSend(c *fiber.Ctx) error {
	st, err := s.agentPollState(c)
	if err != nil {
		return err
	}
	store, err := s.crm(c)
	if err != nil {
		return err
	}
	t := crm.Ticket{ID: st.TicketID, Status: st.Status, ConversationID: st.ConversationID, AgentID: st.AgentID}
	return s.sendMessage(c, store, t, crm.SenderAgent, currentAgent(c).ID, s.talkURL(c, t.ConversationID),
		func(draft, msg string, status int) error {
			store, t, err := s.agentConversation(c)
			if err != nil {
				return err
			}
			return s.renderTalk(c, store, t, draft, msg, status)
		})
}
