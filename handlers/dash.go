package handlers

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/crm"
)

// listLimit bounds every list a page renders.
const listLimit = 50

// dashPage is an organization's dashboard.
type dashPage struct {
	Page
	OrgUser  string
	Counts   crm.TicketCounts
	Open     []crm.Ticket
	Engaged  []crm.Ticket
	Closed   []crm.Ticket
	Agents   []crm.Agent
	Limit    int
	AgentNew agentForm
	// NewAgent is set right after onboarding: its initial password is shown this once.
	NewAgent *newAgent
}

type agentForm struct {
	FullName, Email string
	Errors          FieldErrors
}

type newAgent struct {
	FullName, Email, Password, LoginURL string
}

// dash handles GET /dash.
func (s *Server) dash(c *fiber.Ctx) error {
	p, err := s.dashData(c)
	if err != nil {
		return err
	}
	return s.page(c, fiber.StatusOK, "pages/dash", p)
}

func (s *Server) dashData(c *fiber.Ctx) (*dashPage, error) {
	org := currentOrg(c)
	store, err := s.crm(c)
	if err != nil {
		return nil, err
	}
	ctx := c.UserContext()
	p := &dashPage{Page: Page{Title: org.Name + " dashboard"}, OrgUser: org.Username, Limit: listLimit}
	if p.Counts, err = store.Counts(ctx); err != nil {
		return nil, err
	}
	if p.Open, err = store.Tickets(ctx, crm.StatusOpen, listLimit); err != nil {
		return nil, err
	}
	if p.Engaged, err = store.Tickets(ctx, crm.StatusEngaged, listLimit); err != nil {
		return nil, err
	}
	if p.Closed, err = store.Tickets(ctx, crm.StatusClosed, listLimit); err != nil {
		return nil, err
	}
	if p.Agents, err = store.Agents(ctx, 500); err != nil {
		return nil, err
	}
	return p, nil
}

// createAgent handles POST /agents: onboard an agent and show its one-time initial password.
// The password is stored only as a hash and never logged.
func (s *Server) createAgent(c *fiber.Ctx) error {
	f := newForm(c)
	name := f.text("full_name", "Full name", 1, 100)
	email := f.email("email")
	var created *newAgent
	if f.ok() {
		store, err := s.crm(c)
		if err != nil {
			return err
		}
		pw := rand.Text() // 26 base32 characters: 130 random bits
		hash, err := s.hashPassword(pw)
		if err != nil {
			return err
		}
		a, err := store.CreateAgent(c.UserContext(), name, email, hash)
		if err != nil && !f.addError(err) {
			return err
		}
		if err == nil {
			org := currentOrg(c)
			s.log.Info("agent onboarded", "tenant", org.Username, "agent_id", a.ID)
			created = &newAgent{FullName: name, Email: email, Password: pw, LoginURL: "/agent/" + org.Username + "/login"}
		}
	}
	p, err := s.dashData(c)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created != nil {
		p.NewAgent = created
	} else {
		p.AgentNew = agentForm{FullName: name, Email: email, Errors: f.Errors}
		status = fiber.StatusUnprocessableEntity
		if _, dup := f.Errors["email"]; dup && f.Errors["email"] == "An agent with this email already exists." {
			status = fiber.StatusConflict
		}
	}
	return s.page(c, status, "pages/dash", p)
}

// export handles GET /dash/export: the organization's whole database as one SQLite file, a
// consistent snapshot taken with VACUUM INTO (never a copy of the live file).
func (s *Server) export(c *fiber.Ctx) error {
	org := currentOrg(c)
	if _, err := s.crm(c); err != nil {
		return err
	}
	h := c.Locals(tenantLocal).(interface{ Snapshot(string) error })
	dir, err := os.MkdirTemp("", "tenantdesk-export-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "export.db")
	if err := h.Snapshot(path); err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s.log.Info("export", "tenant", org.Username, "bytes", len(data))
	name := fmt.Sprintf("%s-%s.sqlite", org.Username, time.Now().UTC().Format("20060102-150405"))
	c.Set(fiber.HeaderContentType, "application/vnd.sqlite3")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Send(data)
}
