package handlers

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// listLimit is how many rows a dashboard list shows at first, and how many more "Load more"
// adds; maxListed bounds a list however often "Load more" is used (the export has them all),
// so no page renders thousands of rows.
const (
	listLimit = 50
	maxListed = 500
)

// listing is one bounded dashboard list: the rows shown and the URL that shows more.
type listing struct {
	Tickets []desk.Ticket
	// Shown is how many rows were asked for (a multiple of listLimit, at most maxListed).
	Shown int
	// More reports that rows exist beyond Tickets; MoreURL shows listLimit more of them, and
	// is "" when the list reached maxListed.
	More    bool
	MoreURL string
}

// shownParam reads how many rows the list named key should show from the query string.
func shownParam(c *fiber.Ctx, key string) int {
	return parseShown(c.Query(key))
}

// parseShown reads a list size from the query string: a multiple of listLimit from listLimit
// to maxListed; anything else is listLimit.
func parseShown(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < listLimit {
		return listLimit
	}
	if n > maxListed {
		return maxListed
	}
	n = (n + listLimit - 1) / listLimit * listLimit
	return min(n, maxListed)
}

// listing fetches one list of a dashboard: one more row than it shows, to know whether there
// are more.
func (s *Server) listing(c *fiber.Ctx, n int, q desk.ListQuery) (listing, error) {
	q.Limit = n + 1
	rows, err := s.desk.Tickets(c.UserContext(), currentOrg(c), actor(c), q)
	if err != nil {
		return listing{}, err
	}
	l := listing{Tickets: rows, Shown: n}
	if len(rows) > n {
		l.Tickets, l.More = rows[:n], true
	}
	return l, nil
}

// moreURLs sets each listing's MoreURL: path with every list's current size, the one list
// grown by listLimit. keys and lists go in the same order.
func moreURLs(path string, keys []string, lists []*listing) {
	for i, l := range lists {
		if !l.More || l.Shown >= maxListed {
			continue
		}
		q := url.Values{}
		for j, k := range keys {
			n := lists[j].Shown
			if j == i {
				n += listLimit
			}
			if n != listLimit {
				q.Set(k, strconv.Itoa(n))
			}
		}
		l.MoreURL = path + "?" + q.Encode()
	}
}

// liveURL is what a dashboard's live region polls: path with every list's current size, so
// that it keeps what is shown, and the version it shows (v), so that an unchanged dashboard
// answers 204.
func liveURL(path string, keys []string, lists []*listing, version uint64) string {
	q := url.Values{}
	for j, k := range keys {
		if n := lists[j].Shown; n != listLimit {
			q.Set(k, strconv.Itoa(n))
		}
	}
	q.Set("v", strconv.FormatUint(version, 10))
	return path + "?" + q.Encode()
}

// unchanged reports whether a dashboard poll (htmx, with ?v=) names the version the tickets
// are at now: then there is nothing to render.
func unchanged(c *fiber.Ctx, version uint64) bool {
	v := c.Query("v")
	return v != "" && isHTMX(c) && v == strconv.FormatUint(version, 10)
}

// dashPage is an organization's dashboard.
type dashPage struct {
	Page
	OrgUser string
	Counts  desk.TicketCounts
	Open    listing
	Engaged listing
	Closed  listing
	Agents  []desk.Agent
	// LiveURL is what the ticket overview polls (the same lists, as long as they are now, at
	// Version).
	LiveURL  string
	Version  uint64
	AgentNew agentForm
	// NewAgent is set right after onboarding: its initial password is shown this once.
	NewAgent *newAgent
	// DeleteErrors are the delete-organization form's field errors.
	DeleteErrors FieldErrors
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

// dash handles GET /dash. With HX-Request it answers only the ticket overview
// (partials/dash_live), or 204 when the tickets did not change since the version the poll
// names.
func (s *Server) dash(c *fiber.Ctx) error {
	version := s.desk.Version(currentOrg(c))
	if unchanged(c, version) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	p, err := s.dashData(c, !isHTMX(c))
	if err != nil {
		return err
	}
	p.Version = version
	return s.render(c, fiber.StatusOK, "pages/dash", "partials/dash_live", p)
}

// dashData loads the dashboard: the ticket overview, and the agents when withAgents (the
// whole page; the live region does not show them).
func (s *Server) dashData(c *fiber.Ctx, withAgents bool) (*dashPage, error) {
	org, a := currentOrg(c), actor(c)
	ctx := c.UserContext()
	version := s.desk.Version(org)
	p := &dashPage{Page: Page{Title: org.Name + " dashboard"}, OrgUser: org.Username, Version: version}
	var err error
	if p.Counts, err = s.desk.Counts(ctx, org, a); err != nil {
		return nil, err
	}
	keys := []string{"open", "engaged", "closed"}
	lists := []*listing{&p.Open, &p.Engaged, &p.Closed}
	for i, status := range []string{desk.StatusOpen, desk.StatusEngaged, desk.StatusClosed} {
		if *lists[i], err = s.listing(c, shownParam(c, keys[i]), desk.ListQuery{Status: status}); err != nil {
			return nil, err
		}
	}
	moreURLs("/dash", keys, lists)
	p.LiveURL = liveURL("/dash", keys, lists, version)
	if withAgents {
		if p.Agents, err = s.desk.Agents(ctx, org, a, 500); err != nil {
			return nil, err
		}
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
	conflict := false
	if f.ok() {
		pw := rand.Text() // 26 base32 characters: 130 random bits
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
	p, err := s.dashData(c, true)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created != nil {
		p.NewAgent = created
	} else {
		p.AgentNew = agentForm{FullName: name, Email: email, Errors: f.Errors}
		status = fiber.StatusUnprocessableEntity
		if conflict {
			status = fiber.StatusConflict
		}
	}
	return s.page(c, status, "pages/dash", p)
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
