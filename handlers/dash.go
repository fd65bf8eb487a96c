package handlers

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/crm"
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
	Tickets []crm.Ticket
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

// fetchListing fetches one more row than it shows, to know whether there are more.
func fetchListing(n int, fetch func(limit int) ([]crm.Ticket, error)) (listing, error) {
	rows, err := fetch(n + 1)
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

// pageURL is path with every list's current size, for a poll that must keep what is shown.
func pageURL(path string, keys []string, lists []*listing) string {
	q := url.Values{}
	for j, k := range keys {
		if n := lists[j].Shown; n != listLimit {
			q.Set(k, strconv.Itoa(n))
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// dashPage is an organization's dashboard.
type dashPage struct {
	Page
	OrgUser string
	Counts  crm.TicketCounts
	Open    listing
	Engaged listing
	Closed  listing
	Agents  []crm.Agent
	// LiveURL is what the ticket overview polls (the same lists, as long as they are now).
	LiveURL  string
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
	p := &dashPage{Page: Page{Title: org.Name + " dashboard"}, OrgUser: org.Username}
	if p.Counts, err = store.Counts(ctx); err != nil {
		return nil, err
	}
	keys := []string{"open", "engaged", "closed"}
	lists := []*listing{&p.Open, &p.Engaged, &p.Closed}
	for i, status := range []string{crm.StatusOpen, crm.StatusEngaged, crm.StatusClosed} {
		if *lists[i], err = fetchTickets(ctx, store, status, shownParam(c, keys[i])); err != nil {
			return nil, err
		}
	}
	moreURLs("/dash", keys, lists)
	p.LiveURL = pageURL("/dash", keys, lists)
	if p.Agents, err = store.Agents(ctx, 500); err != nil {
		return nil, err
	}
	return p, nil
}

func fetchTickets(ctx context.Context, store *crm.Store, status string, n int) (listing, error) {
	return fetchListing(n, func(limit int) ([]crm.Ticket, error) { return store.Tickets(ctx, status, limit) })
}

// createAgent handles POST /agents: onboard an agent and show its one-time initial password.
// The password is stored only as a hash and never logged.
func (s *Server) createAgent(c *fiber.Ctx) error {
	f := newForm(c)
	name := f.name("full_name", "Full name", 1, 100)
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
