package handlers

// The audit log page: who did what, when and from where, for the owner and admin agents.

import (
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// auditPageSize is how many entries one page of the audit log shows.
const auditPageSize = 50

// auditEventWords word the audit events.
var auditEventWords = map[string]string{
	desk.AuditLogin:            "Logged in",
	desk.AuditLoginRefused:     "Login refused",
	desk.AuditPasswordChanged:  "Password changed",
	desk.AuditPasswordReset:    "Password reset",
	desk.AuditAgentCreated:     "Agent onboarded",
	desk.AuditAgentRemoved:     "Agent removed",
	desk.AuditAgentRole:        "Role changed",
	desk.AuditTokenCreated:     "API token created",
	desk.AuditTokenRevoked:     "API token revoked",
	desk.AuditWebhookCreated:   "Webhook added",
	desk.AuditWebhookRemoved:   "Webhook removed",
	desk.AuditWebhookResent:    "Webhook delivery sent again",
	desk.AuditSettingsChanged:  "Settings changed",
	desk.AuditExportDownloaded: "Export downloaded",
	desk.AuditTicketReassigned: "Ticket reassigned",
}

// auditCategoryWords word the categories the log is filtered by.
var auditCategoryWords = map[string]string{
	"login": "Logins", "password": "Passwords", "agent": "Agents", "api_token": "API tokens",
	"webhook": "Webhooks", "settings": "Settings", "export": "Exports", "ticket": "Ticket assignments",
}

// auditRow is one entry as the page shows it.
type auditRow struct {
	ID      int64
	Event   string
	What    string
	Who     string
	When    string
	ISO     string
	IP      string
	Target  string
	Details []string
}

type option struct {
	Value, Label string
	Selected     bool
}

// auditPage is the audit log with its filters and the link to older entries.
type auditPage struct {
	Page
	Rows       []auditRow
	Categories []option
	Actors     []option
	Older      string
	Back       string
}

// auditLog handles GET /dash/audit?event=&actor=&before=: the owner's and admins' audit log,
// newest first, auditPageSize entries a page.
func (s *Server) auditLog(c *fiber.Ctx) error {
	org, a := currentOrg(c), actor(c)
	q := desk.AuditQuery{Limit: auditPageSize}
	category := c.Query("event")
	if category != "" && !slices.Contains(desk.AuditCategories, category) {
		category = ""
	}
	q.Category = category
	who := c.Query("actor")
	switch who {
	case "", "owner", "system":
		q.ActorKind = who
	default:
		id, ok := parseID(who)
		if !ok {
			who = ""
			break
		}
		q.ActorKind, q.ActorID = "agent", id
	}
	if before, ok := parseID(c.Query("before")); ok {
		q.Before = before
	}
	entries, err := s.desk.AuditLog(c.UserContext(), org, a, q)
	if err != nil {
		return err
	}
	st, err := s.desk.Settings(c.UserContext(), org)
	if err != nil {
		return err
	}
	agents, err := s.desk.Agents(c.UserContext(), org, a, 500)
	if err != nil {
		return err
	}
	p := &auditPage{Page: Page{Title: "Audit log · " + org.Name}, Back: s.seat(c).Dash()}
	p.Categories = append(p.Categories, option{Value: "", Label: "Every event", Selected: category == ""})
	for _, cat := range desk.AuditCategories {
		p.Categories = append(p.Categories, option{Value: cat, Label: auditCategoryWords[cat], Selected: cat == category})
	}
	p.Actors = append(p.Actors, option{Value: "", Label: "Anyone", Selected: who == ""},
		option{Value: "owner", Label: "The organization (" + org.Name + ")", Selected: who == "owner"},
		option{Value: "system", Label: "tenantdesk", Selected: who == "system"})
	for _, ag := range agents {
		id := strconv.FormatInt(ag.ID, 10)
		p.Actors = append(p.Actors, option{Value: id, Label: ag.FullName, Selected: who == id})
	}
	for _, e := range entries {
		p.Rows = append(p.Rows, auditRowOf(e, st.Location))
	}
	if len(entries) == auditPageSize {
		v := url.Values{}
		if category != "" {
			v.Set("event", category)
		}
		if who != "" {
			v.Set("actor", who)
		}
		v.Set("before", strconv.FormatInt(entries[len(entries)-1].ID, 10))
		p.Older = "/dash/audit?" + v.Encode()
	}
	return s.page(c, fiber.StatusOK, "pages/audit", p)
}

// auditRowOf words an entry, with times in loc.
func auditRowOf(e desk.AuditEntry, loc *time.Location) auditRow {
	r := auditRow{ID: e.ID, Event: e.Event, What: auditEventWords[e.Event], When: when(loc, e.At),
		ISO: e.At.UTC().Format(time.RFC3339), IP: e.IP}
	if r.What == "" {
		r.What = e.Event
	}
	switch e.ActorKind {
	case "owner":
		r.Who = e.ActorName + " (the organization)"
	case "agent":
		r.Who = e.ActorName
		if r.Who == "" {
			r.Who = "agent " + strconv.FormatInt(e.ActorID, 10)
		}
	case "system":
		r.Who = "tenantdesk"
	default:
		r.Who = e.ActorKind
	}
	if e.APITokenID != 0 {
		r.Who += " through API token " + strconv.FormatInt(e.APITokenID, 10)
	}
	if e.TargetKind != "" && e.TargetID != 0 {
		r.Target = strings.ReplaceAll(e.TargetKind, "_", " ") + " " + strconv.FormatInt(e.TargetID, 10)
	}
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.Details = append(r.Details, strings.ReplaceAll(k, "_", " ")+": "+e.Detail[k])
	}
	return r
}
