package handlers

import (
	"fmt"
	"html/template"
	"time"

	"github.com/gofiber/fiber/v2"
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
}

// Viewer describes the logged-in user, if any.
type Viewer struct {
	Role    string // "", roleOrg or roleAgent
	OrgName string
	OrgUser string
	Name    string
}

// pageData is implemented by page structs through the embedded Page.
type pageData interface{ base() *Page }

func (p *Page) base() *Page { return p }

// page renders a full page with the layout and the given status.
func (s *Server) page(c *fiber.Ctx, status int, name string, data pageData) error {
	b := data.base()
	if tok, ok := c.Locals(csrfLocal).(string); ok {
		b.CSRF = tok
	}
	if b.Viewer.Role == "" {
		if v, ok := c.Locals(viewerLocal).(Viewer); ok {
			b.Viewer = v
		}
	}
	if b.Flash == "" {
		b.Flash = s.takeFlash(c)
	}
	c.Status(status)
	return c.Render(name, data, layout)
}

// fragment renders a partial without the layout (htmx swaps and polls).
func (s *Server) fragment(c *fiber.Ctx, status int, name string, data any) error {
	c.Status(status)
	return c.Render(name, data)
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
