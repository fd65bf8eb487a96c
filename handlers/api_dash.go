package handlers

// The API tokens page: the owner and admins make tokens (shown once), see when each was last
// used and revoke them.

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/handlers/apitoken"
	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// apiTokensPage lists the tokens and holds the form to make one.
type apiTokensPage struct {
	Page
	Tokens []desk.APIToken
	// Agents are who a new token may act as; AsOrg offers the organization itself (the owner
	// only).
	Agents []desk.Agent
	AsOrg  bool
	Name   string
	Acting string
	Errors FieldErrors
	// NewToken is set right after a token was made: shown only this once.
	NewToken string
	NewName  string
	Back     string
}

func (s *Server) renderAPITokens(c *fiber.Ctx, status int, p *apiTokensPage) error {
	org, a := currentOrg(c), actor(c)
	var err error
	if p.Tokens, err = s.desk.APITokens(c.UserContext(), org, a); err != nil {
		return err
	}
	agents, err := s.desk.Agents(c.UserContext(), org, a, 500)
	if err != nil {
		return err
	}
	p.Agents = p.Agents[:0]
	for _, ag := range agents {
		if !ag.Removed() {
			p.Agents = append(p.Agents, ag)
		}
	}
	p.AsOrg = a.Kind == desk.Owner
	p.Page.Title, p.Back = "API tokens · "+org.Name, s.seat(c).Dash()
	return s.page(c, status, "pages/api_tokens", p)
}

// apiTokens handles GET /dash/api.
func (s *Server) apiTokens(c *fiber.Ctx) error {
	return s.renderAPITokens(c, fiber.StatusOK, &apiTokensPage{})
}

// createAPIToken handles POST /dash/api: name, agent_id (empty: the organization). The token
// is shown once, in id="api-token"; only its hash is kept.
func (s *Server) createAPIToken(c *fiber.Ctx) error {
	f := newForm(c)
	p := &apiTokensPage{}
	p.Name = f.text("name", "Name", 1, desk.MaxTokenName)
	p.Acting = strings.Clone(formValue(c, "agent_id"))
	var agentID int64
	if p.Acting != "" {
		id, ok := parseID(p.Acting)
		if !ok {
			f.fail("agent_id", "Choose who the token acts as.")
		}
		agentID = id
	} else if actor(c).Kind != desk.Owner {
		f.fail("agent_id", "Choose the agent the token acts as.")
	}
	if !f.ok() {
		p.Errors = f.Errors
		return s.renderAPITokens(c, fiber.StatusUnprocessableEntity, p)
	}
	org := currentOrg(c)
	token := apitoken.New(s.apiKey, org.ID)
	t, err := s.desk.CreateAPIToken(c.UserContext(), org, actor(c), p.Name, agentID, apitoken.Hash(token))
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
		p.Errors = FieldErrors{"agent_id": "Choose an agent of the team."}
		if e.Field == "name" {
			p.Errors = FieldErrors{"name": "Name must be 1–100 characters."}
		}
		return s.renderAPITokens(c, fiber.StatusUnprocessableEntity, p)
	}
	if err != nil {
		return err
	}
	s.log.Info("api token created", "tenant", org.Username, "token_id", t.ID, "request_id", requestID(c))
	return s.renderAPITokens(c, fiber.StatusOK, &apiTokensPage{NewToken: token, NewName: t.Name})
}

// revokeAPIToken handles POST /dash/api/:id/revoke.
func (s *Server) revokeAPIToken(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	org := currentOrg(c)
	if err := s.desk.RevokeAPIToken(c.UserContext(), org, actor(c), id); err != nil {
		return err
	}
	s.log.Info("api token revoked", "tenant", org.Username, "token_id", id, "request_id", requestID(c))
	s.setFlash(c, "The token is revoked: requests with it are refused from now on.")
	return redirect(c, "/dash/api")
}
