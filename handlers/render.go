package handlers

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// layout wraps every full page.
const layout = "layouts/main"

// Page is what every full page's data starts with; page structs embed it.
type Page struct {
	Title string
	CSRF  string
	Flash string
	// Viewer is who is logged in, for the header.
	Viewer Viewer
	// Brand is the organization whose page this is (its public, agent and dashboard pages);
	// empty on tenantdesk's own pages.
	Brand Brand
}

// Brand is what the header shows of an organization: its name, its initials as a mark (or
// its logo), and where the name links to.
type Brand struct {
	Name string
	User string
	// Logo is a same-origin image path, or "" (the initials are shown instead).
	Logo string
	Home string
}

// Viewer describes the logged-in user, if any.
type Viewer struct {
	Role    string // "", roleOrg or roleAgent
	OrgName string
	OrgUser string
	Name    string
	// Admin marks an agent with the admin role.
	Admin bool
}

// pageData is implemented by page structs through the embedded Page.
type pageData interface{ base() *Page }

func (p *Page) base() *Page { return p }

// page renders a page with the given status: in the layout, or for htmx (isHTMX) the page's
// own content without it, so that any URL of a page can be fetched into a region of another.
// A fragment leaves a pending flash for the next whole page, which has a place to show it.
func (s *Server) page(c *fiber.Ctx, status int, name string, data pageData) error {
	b := s.fill(c, data)
	c.Status(status)
	if isHTMX(c) {
		return c.Render(name, data)
	}
	if b.Flash == "" {
		b.Flash = s.takeFlash(c)
	}
	return c.Render(name, data, layout)
}

// fill sets what every page's data starts with: the CSRF token, the viewer, the brand.
func (s *Server) fill(c *fiber.Ctx, data pageData) *Page {
	b := data.base()
	b.CSRF = s.csrfToken(c)
	if b.Viewer.Role == "" {
		if v, ok := c.Locals(viewerLocal).(Viewer); ok {
			b.Viewer = v
		}
	}
	if b.Brand.Name == "" {
		if org := currentOrg(c); org != nil {
			b.Brand = brandOf(org.Name, org.Username, org.Logo, b.Viewer)
		}
	}
	return b
}

// render answers a URL that is a whole page or, for htmx, only the part of it that changes:
// with HX-Request (and neither boosted nor a history restore) the partial part, otherwise the
// page name in the layout. The page includes the same partial, so its markup lives once.
func (s *Server) render(c *fiber.Ctx, status int, name, part string, data pageData) error {
	if isHTMX(c) {
		s.fill(c, data)
		return s.fragment(c, status, part, data)
	}
	return s.page(c, status, name, data)
}

// brandOf is the header brand of an organization, linking to the viewer's own start page.
func brandOf(name, user, logo string, v Viewer) Brand {
	b := Brand{Name: name, User: user, Home: "/" + user + "/open-ticket"}
	switch {
	case v.Role == roleOrg && v.OrgUser == user:
		b.Home = "/dash"
	case v.Role == roleAgent && v.OrgUser == user:
		b.Home = "/agent/" + user + "/dash"
	}
	// Only a same-origin path: the CSP allows images from 'self' (and data:) only.
	if strings.HasPrefix(logo, "/") && !strings.HasPrefix(logo, "//") {
		b.Logo = logo
	}
	return b
}

// initials is an organization's mark when it has no logo: the first letter of its first two
// words ("Acme Widgets" → "AW").
func initials(name string) string {
	var out []rune
	for _, w := range strings.Fields(name) {
		for _, r := range w {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				out = append(out, unicode.ToUpper(r))
				break
			}
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// fragment renders a partial without the page layout (htmx swaps and polls), through the
// pass-through layout layouts/bare: the engine renders layouts under its lock, and a render
// without one would reset the layout function a concurrent page render is calling.
func (s *Server) fragment(c *fiber.Ctx, status int, name string, data any) error {
	c.Status(status)
	return c.Render(name, data, "layouts/bare")
}

// isHTMX reports whether the request wants a fragment: an htmx request that is neither boosted
// nor a history restore. HX-Request is set by the client and decides only the format, never
// access.
func isHTMX(c *fiber.Ctx) bool {
	return c.Get("HX-Request") == "true" && c.Get("HX-Boosted") == "" && c.Get("HX-History-Restore-Request") == ""
}

// redirect answers 303 to url; htmx requests get HX-Redirect instead so that the whole page
// changes rather than a fragment being swapped.
func redirect(c *fiber.Ctx, url string) error {
	if isHTMX(c) {
		c.Set("HX-Redirect", url)
		return c.SendStatus(fiber.StatusOK)
	}
	return c.Redirect(url, fiber.StatusSeeOther)
}

var templateFuncs = template.FuncMap{
	"ago":   ago,
	"exact": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"stars": func(n int) []int {
		out := make([]int, 5)
		for i := range out {
			out[i] = i + 1
		}
		return out
	},
	"rating": func(f float64) string { return fmt.Sprintf("%.1f", f) },
	// stars5 rounds an average rating to whole stars for the star meter.
	"stars5":   func(f float64) int { return int(f + 0.5) },
	"initials": initials,
	// messagesHTML writes chat messages (message_html.go).
	"messagesHTML": messagesHTML,
	"host":         host,
	"row":          row,
	"statusName":   statusName,
	// when formats a time in a time zone for people: "Mon 2 Jan 2006, 15:04 CET".
	"when":    when,
	"tagList": tagList,
	// durationMS formats a webhook delivery's duration.
	"durationMS": durationMS,
	// due and deadlines say where a ticket's service-level targets stand.
	"due":       due,
	"deadlines": deadlines,
}

// host is a website's host name for display ("https://www.example.com/x" → "www.example.com").
func host(website string) string {
	if u, err := url.Parse(website); err == nil && u.Host != "" {
		return u.Host
	}
	return website
}

// ago formats t relative to now, as "3 min ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	case d < 48*time.Hour:
		return "1 day ago"
	case d < 30*24*time.Hour:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
	return t.UTC().Format("2 Jan 2006")
}

// ticketRow is what partials/ticket_row shows of a ticket, for one kind of list.
type ticketRow struct {
	T desk.Ticket
	// Link opens the ticket's page; Take is the action that takes it, when the list offers it.
	Link, Take string
	CSRF       string
	// Loc is the organization's time zone.
	Loc *time.Location
	// Snippet is a search result's matching text with the matches in <mark> (every byte of
	// text escaped: search.Snippet.HTML); Match says where it matched. Empty in other lists.
	Snippet template.HTML
	Match   string
}

// row describes ticket t in a list seen by "org" (the owner) or "agent", of organization
// orgUser, whose forms carry csrf, with times in loc.
func row(t desk.Ticket, kind, orgUser, csrf string, loc *time.Location) ticketRow {
	r := ticketRow{T: t, CSRF: csrf, Loc: loc}
	conv := strconv.FormatInt(t.ConversationID, 10)
	switch kind {
	case "org":
		r.Link = "/conversation/" + conv
	case "agent":
		r.Link = agentURL(orgUser, "talk", conv)
		if t.Status == desk.StatusOpen && t.AssigneeID == 0 {
			r.Take = agentURL(orgUser, "tickets", strconv.FormatInt(t.ID, 10), "engage")
		}
	}
	return r
}

// statusNames word the ticket statuses.
var statusNames = map[string]string{desk.StatusOpen: "open", desk.StatusPending: "pending",
	desk.StatusSnoozed: "snoozed", desk.StatusClosed: "closed"}

func statusName(s string) string { return statusNames[s] }

// dueView is a ticket's service-level due time as a page shows it.
type dueView struct {
	// What is "First response" or "Resolution".
	What     string
	At       time.Time
	Breached bool
	// Text is "due in 25 min" or "breached 2 h ago" (app.js keeps it current).
	Text string
}

func newDueView(what string, at, now time.Time) dueView {
	v := dueView{What: "Resolution", At: at, Breached: now.After(at), Text: dueText(at, now)}
	if what == desk.BreachedFirstResponse {
		v.What = "First response"
	}
	return v
}

// due is ticket t's next target not met yet, or nil.
func due(t desk.Ticket) *dueView {
	d, ok := t.Next()
	if !ok {
		return nil
	}
	v := newDueView(d.What, d.At, time.Now())
	return &v
}

// deadlines are all of ticket t's targets not met yet: the first response while nobody
// answered, the resolution while it runs.
func deadlines(t desk.Ticket) []dueView {
	if t.Status == desk.StatusClosed {
		return nil
	}
	now := time.Now()
	var out []dueView
	if t.FirstReplyAt.IsZero() && !t.FirstResponseDue.IsZero() {
		out = append(out, newDueView(desk.BreachedFirstResponse, t.FirstResponseDue, now))
	}
	if !t.ResolutionDue.IsZero() {
		out = append(out, newDueView(desk.BreachedResolution, t.ResolutionDue, now))
	}
	return out
}

// dueText words a due time at now as app.js does: "due in 25 min", "due in 3 h", "due in 2
// days", or once passed "breached just now", "breached 2 h ago", "breached on 2 Jan 2026".
func dueText(at, now time.Time) string {
	if now.After(at) {
		switch s := ago(at); {
		case s == "just now" || strings.HasSuffix(s, " ago"):
			return "breached " + s
		default:
			return "breached on " + s
		}
	}
	d := at.Sub(now)
	switch {
	case d < time.Minute:
		return "due in less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("due in %d min", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("due in %d h", int(d.Hours()))
	case d < 48*time.Hour:
		return "due in 1 day"
	}
	return fmt.Sprintf("due in %d days", int(d.Hours()/24))
}

// when formats t in loc for people: "Mon 2 Jan 2006, 15:04 CET" (UTC when loc is nil).
func when(loc *time.Location, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("Mon 2 Jan 2006, 15:04 MST")
}
