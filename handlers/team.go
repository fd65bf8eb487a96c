package handlers

// Managing the organization — its agents and their roles, canned replies, settings — is for
// the owner and for agents with the admin role. The owner does it from /dash; an admin from
// its team page; both post to the same routes, which take the organization from the session.

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// requireManager lets through the organization's owner and its admin agents; the organization
// comes from the session. Anyone else is sent to log in, or answered 403 when logged in as an
// agent without the admin role.
func (s *Server) requireManager(c *fiber.Ctx) error {
	l, err := s.currentLogin(c)
	if err != nil {
		return err
	}
	switch l.Role {
	case roleOrg:
		return s.requireOrg(c)
	case roleAgent:
		org, err := s.catalog.LookupID(c.UserContext(), l.OrgID)
		if err != nil {
			if apperr.Is(err, apperr.NotFound) {
				_ = s.endSession(c)
				return loginRedirect(c, "/login")
			}
			return err
		}
		c.Locals(orgLocal, org)
		if ok, err := s.checkAgent(c); !ok {
			return err
		}
		if !currentAgent(c).Admin() {
			return apperr.New(apperr.Forbidden, desk.CodeForbidden)
		}
		return c.Next()
	}
	return loginRedirect(c, "/login")
}

// managed is a page that shows the agents section (the owner's dashboard, an admin's team
// page).
type managed interface {
	pageData
	section() *AgentsSection
	template() string
}

// AgentsSection is the agents part of a page.
type AgentsSection struct {
	Agents   []desk.Agent
	AgentNew agentForm
	// NewAgent is set right after onboarding or a reset: its one-time password, shown once.
	NewAgent *newAgent
	OrgUser  string
	// RoleError is the refusal of a role form, shown beside that agent's role field.
	RoleError struct {
		Agent   int64
		Message string
	}
}

func (p *dashPage) section() *AgentsSection { return &p.AgentsSection }
func (p *dashPage) template() string        { return "pages/dash" }

// teamPage is an admin agent's page of the team.
type teamPage struct {
	Page
	AgentsSection
}

func (p *teamPage) section() *AgentsSection { return &p.AgentsSection }
func (p *teamPage) template() string        { return "pages/team" }

// managePage loads the page the request's manager manages agents on.
func (s *Server) managePage(c *fiber.Ctx) (managed, error) {
	if actor(c).Kind == desk.Owner {
		return s.dashData(c, true)
	}
	org := currentOrg(c)
	p := &teamPage{Page: Page{Title: "Team · " + org.Name}, AgentsSection: AgentsSection{OrgUser: org.Username}}
	var err error
	p.Agents, err = s.desk.Agents(c.UserContext(), org, actor(c), 500)
	return p, err
}

func (s *Server) renderManage(c *fiber.Ctx, status int, p managed) error {
	return s.page(c, status, p.template(), p)
}

// team handles GET /agent/:org/team: an admin's page of the team.
func (s *Server) team(c *fiber.Ctx) error {
	if !currentAgent(c).Admin() {
		return apperr.New(apperr.Forbidden, desk.CodeForbidden)
	}
	p, err := s.managePage(c)
	if err != nil {
		return err
	}
	return s.renderManage(c, fiber.StatusOK, p)
}

// setRole handles POST /agents/:agentId/role: role agent or admin.
func (s *Server) setRole(c *fiber.Ctx) error {
	id, err := paramID(c, "agentId")
	if err != nil {
		return err
	}
	role := formValue(c, "role")
	org := currentOrg(c)
	a, err := s.desk.SetRole(c.UserContext(), org, actor(c), id, role)
	if apperr.Is(err, apperr.Invalid) {
		p, perr := s.managePage(c)
		if perr != nil {
			return perr
		}
		p.section().RoleError.Agent, p.section().RoleError.Message = id, "Choose the role agent or admin."
		return s.renderManage(c, fiber.StatusUnprocessableEntity, p)
	}
	if err != nil {
		return err
	}
	s.log.Info("agent role set", "tenant", org.Username, "agent_id", id, "role", role, "request_id", requestID(c))
	s.setFlash(c, a.FullName+" is now "+map[string]string{desk.RoleAdmin: "an admin", desk.RoleAgent: "an agent"}[role]+".")
	return redirect(c, s.managerHome(c))
}

// managerHome is where a manager's actions lead back to.
func (s *Server) managerHome(c *fiber.Ctx) string {
	if actor(c).Kind == desk.Owner {
		return "/dash"
	}
	return agentURL(currentOrg(c).Username, "team")
}

// cannedPage lists the canned replies and, for managers, the form to add one.
type cannedPage struct {
	Page
	Canned []desk.Canned
	Action string // where the forms post: /dash/canned or /agent/{org}/canned
	Values struct{ Title, Body string }
	Errors FieldErrors
	Manage bool
	Back   string
}

func (s *Server) cannedURL(c *fiber.Ctx) string {
	if actor(c).Kind == desk.Owner {
		return "/dash/canned"
	}
	return agentURL(currentOrg(c).Username, "canned")
}

func (s *Server) renderCanned(c *fiber.Ctx, status int, p *cannedPage) error {
	org := currentOrg(c)
	list, err := s.desk.CannedReplies(c.UserContext(), org, actor(c))
	if err != nil {
		return err
	}
	p.Page.Title, p.Canned, p.Action = "Canned replies · "+org.Name, list, s.cannedURL(c)
	p.Manage, p.Back = mayManage(actor(c)), s.seat(c).Dash()
	return s.page(c, status, "pages/canned", p)
}

func mayManage(a desk.Actor) bool {
	return a.Kind == desk.Owner || (a.Kind == desk.AgentActor && a.Role == desk.RoleAdmin)
}

// cannedList handles GET /dash/canned and /agent/:org/canned.
func (s *Server) cannedList(c *fiber.Ctx) error {
	return s.renderCanned(c, fiber.StatusOK, &cannedPage{})
}

// cannedCreate handles POST /dash/canned and /agent/:org/canned: title and body.
func (s *Server) cannedCreate(c *fiber.Ctx) error {
	f := newForm(c)
	p := &cannedPage{}
	p.Values.Title = f.text("title", "Title", 1, desk.MaxCannedTitle)
	p.Values.Body = normalizeNewlines(f.text("body", "Text", 1, desk.MaxCannedBody))
	if !f.ok() {
		p.Errors = f.Errors
		return s.renderCanned(c, fiber.StatusUnprocessableEntity, p)
	}
	if _, err := s.desk.CreateCanned(c.UserContext(), currentOrg(c), actor(c), p.Values.Title, p.Values.Body); err != nil {
		return err
	}
	s.setFlash(c, "The canned reply is saved.")
	return redirect(c, s.cannedURL(c))
}

// cannedDelete handles POST /dash/canned/:id/delete and /agent/:org/canned/:id/delete.
func (s *Server) cannedDelete(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := s.desk.DeleteCanned(c.UserContext(), currentOrg(c), actor(c), id); err != nil {
		return err
	}
	s.setFlash(c, "The canned reply is deleted.")
	return redirect(c, s.cannedURL(c))
}

// settingsPage is the organization's settings.
type settingsPage struct {
	Page
	TimeZone string
	Zones    []string
	Errors   FieldErrors
	Back     string
	// SLA is the service-level form (sla_settings.go).
	SLA slaForm
}

// settingsPage loads the settings page as the settings are.
func (s *Server) settingsPage(c *fiber.Ctx) (*settingsPage, error) {
	st, err := s.desk.Settings(c.UserContext(), currentOrg(c))
	if err != nil {
		return nil, err
	}
	return &settingsPage{Page: Page{Title: "Settings"}, TimeZone: st.TimeZone, Zones: commonZones, Back: s.seat(c).Dash(),
		SLA: newSLAForm(st.SLA)}, nil
}

// commonZones are offered first; any IANA name may be typed.
var commonZones = []string{"UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York",
	"America/Chicago", "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney"}

// settings handles GET /dash/settings.
func (s *Server) settings(c *fiber.Ctx) error {
	p, err := s.settingsPage(c)
	if err != nil {
		return err
	}
	return s.page(c, fiber.StatusOK, "pages/settings", p)
}

// saveSettings handles POST /dash/settings: time_zone.
func (s *Server) saveSettings(c *fiber.Ctx) error {
	tz := strings.TrimSpace(formValue(c, "time_zone"))
	err := s.desk.SetTimeZone(c.UserContext(), currentOrg(c), actor(c), tz)
	if apperr.Is(err, apperr.Invalid) {
		p, perr := s.settingsPage(c)
		if perr != nil {
			return perr
		}
		p.TimeZone, p.Errors = tz, FieldErrors{"time_zone": "Enter a time zone by its name, such as Europe/Berlin or America/New_York."}
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/settings", p)
	}
	if err != nil {
		return err
	}
	s.setFlash(c, "Settings saved. Times are now shown in "+tz+" ("+time.Now().In(mustZone(tz)).Format("MST")+").")
	return redirect(c, "/dash/settings")
}

func mustZone(tz string) *time.Location {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

// newOneTimePassword is an agent's one-time password: 26 base32 characters, 130 random bits.
func newOneTimePassword() string { return rand.Text() }
