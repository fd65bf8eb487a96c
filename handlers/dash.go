package handlers

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// dashPage is an organization's dashboard: its queues, its agents, its data.
type dashPage struct {
	Page
	AgentsSection
	Queue Queue
	// DeleteErrors are the delete-organization form's field errors; DeleteConfirm what its
	// confirmation field held, kept when the form is refused.
	DeleteErrors  FieldErrors
	DeleteConfirm string
	// Storage is what the organization stores (the whole page only).
	Storage *storageFigure
}

// storageFigure words an organization's storage: its files (and their quota) and its whole
// database.
type storageFigure struct {
	Files                      int64
	FileBytes, Quota, Database string
	// Percent is the share of the quota the files use (0 without a quota).
	Percent int64
}

func storageOf(st desk.Storage) *storageFigure {
	f := &storageFigure{Files: st.Files, FileBytes: fileSize(st.FileBytes), Database: fileSize(st.DatabaseBytes)}
	if st.QuotaBytes > 0 {
		f.Quota = fileSize(st.QuotaBytes)
		f.Percent = min(100, st.FileBytes*100/st.QuotaBytes)
	}
	return f
}

type agentForm struct {
	FullName, Email string
	Errors          FieldErrors
}

type newAgent struct {
	FullName, Email, Password, LoginURL string
	// Reset marks a new one-time password for an existing agent (not an onboarding).
	Reset bool
}

// unchanged reports whether a queue poll (htmx, with ?v=) names the version the tickets are at
// now: then there is nothing to render.
func unchanged(c *fiber.Ctx, version uint64) bool {
	v := c.Query("v")
	return v != "" && isHTMX(c) && v == strconv.FormatUint(version, 10)
}

// dash handles GET /dash?view=&tag=&priority=. With HX-Request it answers only the queue
// (partials/queue), or 204 when the tickets did not change since the version the poll names.
func (s *Server) dash(c *fiber.Ctx) error {
	version, err := s.liveVersion(c, currentOrg(c))
	if err != nil {
		return err
	}
	if unchanged(c, version) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	p, err := s.dashData(c, !isHTMX(c))
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "pages/dash", "partials/queue", p)
}

// dashData loads the dashboard: the queue, and the agents when withAgents (the whole page; the
// live region does not show them).
func (s *Server) dashData(c *fiber.Ctx, withAgents bool) (*dashPage, error) {
	org := currentOrg(c)
	p := &dashPage{Page: Page{Title: org.Name + " dashboard"}, AgentsSection: AgentsSection{OrgUser: org.Username}}
	version, err := s.liveVersion(c, org)
	if err != nil {
		return nil, err
	}
	if p.Queue, err = s.queue(c, "/dash", desk.ViewAll, "org", version); err != nil {
		return nil, err
	}
	if withAgents {
		if p.Agents, err = s.desk.Agents(c.UserContext(), org, actor(c), 500); err != nil {
			return nil, err
		}
		st, err := s.desk.Storage(c.UserContext(), org, actor(c))
		if err != nil {
			return nil, err
		}
		p.Storage = storageOf(st)
	}
	return p, nil
}

// createAgent handles POST /agents: onboard an agent and show its one-time initial password.
// The password is stored only as a hash and never logged.
func (s *Server) createAgent(c *fiber.Ctx) error {
	f := newForm(c)
	name := f.name("full_name", "Full name", 1, 100)
	email := f.email("email")
	var created *newAgent
	conflict := false
	if f.ok() {
		pw := newOneTimePassword()
		hash, err := s.hashPassword(pw)
		if err != nil {
			return err
		}
		a, err := s.desk.CreateAgent(c.UserContext(), currentOrg(c), actor(c), name, email, hash)
		if apperr.Is(err, apperr.Conflict) && apperr.CodeOf(err) == apperr.CodeTaken {
			f.fail("email", "An agent with this email already exists.")
			conflict = true
		} else if err != nil {
			return err
		}
		if err == nil {
			org := currentOrg(c)
			s.log.Info("agent onboarded", "tenant", org.Username, "agent_id", a.ID)
			created = &newAgent{FullName: name, Email: email, Password: pw, LoginURL: "/agent/" + org.Username + "/login"}
		}
	}
	p, err := s.managePage(c)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created != nil {
		p.section().NewAgent = created
	} else {
		p.section().AgentNew = agentForm{FullName: name, Email: email, Errors: f.Errors}
		status = fiber.StatusUnprocessableEntity
		if conflict {
			status = fiber.StatusConflict
		}
	}
	return s.renderManage(c, status, p)
}

// export handles GET /dash/export: the organization's whole database as one SQLite file, a
// consistent snapshot taken with VACUUM INTO (never a copy of the live file).
func (s *Server) export(c *fiber.Ctx) error {
	org := currentOrg(c)
	dir, err := os.MkdirTemp("", "tenantdesk-export-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "export.db")
	if err := s.desk.Export(c.UserContext(), org, actor(c), path); err != nil {
		return err
	}
	// Streamed from the file, not read into memory: with its attachments an organization's
	// database may be large. The file stays readable once the deferred RemoveAll unlinks it,
	// until the answer is sent and the stream closed.
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	s.log.Info("export", "tenant", org.Username, "bytes", st.Size())
	name := fmt.Sprintf("%s-%s.sqlite", org.Username, time.Now().UTC().Format("20060102-150405"))
	c.Set(fiber.HeaderContentType, "application/vnd.sqlite3")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Response().SetBodyStream(f, int(st.Size()))
	return nil
}
