package handlers

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// listLimit is how many rows a queue shows at first, and how many more "Load more" adds;
// maxListed bounds a list however often "Load more" is used (search and the export have them
// all), so no page renders thousands of rows.
const (
	listLimit = 50
	maxListed = 500
	// recentClosed is how many of the latest closed tickets the owner's open queues show below
	// the list, so the dashboard shows its tickets open and closed at a glance.
	recentClosed = 5
)

// listing is one bounded list: the rows shown and the URL that shows more.
type listing struct {
	Tickets []desk.Ticket
	// Shown is how many rows were asked for (a multiple of listLimit, at most maxListed).
	Shown int
	// More reports that rows exist beyond Tickets; MoreURL shows listLimit more of them, and
	// is "" when the list reached maxListed.
	More    bool
	MoreURL string
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

// viewLabels name the queue views for people.
var viewLabels = map[string]string{
	desk.ViewUnassigned: "Unassigned", desk.ViewMine: "Mine", desk.ViewMentions: "Mentions", desk.ViewDueSoon: "Due soon", desk.ViewAll: "All open",
	desk.ViewPending: "Pending", desk.ViewSnoozed: "Snoozed", desk.ViewClosed: "Closed",
}

// Queue is a queue page's live part: the views with their counts, the filter, the list.
type Queue struct {
	Tabs     []queueTab
	View     string
	Tag      string
	Priority string // "" for any
	List     listing
	Counts   desk.Counts
	// Path is the queue page; LiveURL what its live region polls (the same query and the
	// version shown, so that an unchanged queue answers 204).
	Path    string
	LiveURL string
	Version uint64
	// RowKind says how rows link (row's kind).
	RowKind    string
	OrgUser    string
	CSRF       string
	Priorities []string
	// Loc is the organization's time zone.
	Loc *time.Location
	// Named says the URL names the view; without one the page is the dashboard's start.
	Named bool
	// Closed are the latest closed tickets, shown below the owner's start (nil otherwise).
	Closed []desk.Ticket
	// Mine are the agent's own open tickets, shown below the agent's start (nil otherwise).
	Mine []desk.Ticket
}

type queueTab struct {
	Name, Label, URL string
	Count            int
	Current          bool
}

// queueQuery is what a queue URL asks for.
type queueQuery struct {
	view, tag, priority string
	shown               int
	// named: the URL names the view (an unknown one counts as none).
	named bool
}

// parseQueue reads ?view=&tag=&priority=&n= (an unknown view is the default; an invalid tag
// or priority is ignored: they are filters of a page, not input to store).
func parseQueue(c *fiber.Ctx, def string) queueQuery {
	q := queueQuery{view: c.Query("view"), shown: parseShown(c.Query("n"))}
	if _, q.named = viewLabels[q.view]; !q.named {
		q.view = def
	}
	if tags, err := desk.NormalizeTags([]string{c.Query("tag")}); err == nil && len(tags) == 1 {
		q.tag = tags[0]
	}
	if p, ok := desk.ParsePriority(c.Query("priority")); ok {
		q.priority = p.String()
	}
	return q
}

func (q queueQuery) url(path string, shown int, version uint64) string {
	v := url.Values{}
	if q.named {
		v.Set("view", q.view)
	}
	if q.tag != "" {
		v.Set("tag", q.tag)
	}
	if q.priority != "" {
		v.Set("priority", q.priority)
	}
	if shown != listLimit {
		v.Set("n", strconv.Itoa(shown))
	}
	if version != 0 {
		v.Set("v", strconv.FormatUint(version, 10))
	}
	return path + "?" + v.Encode()
}

// queue loads the queue the request asks for on path, for rows of rowKind.
func (s *Server) queue(c *fiber.Ctx, path, def, rowKind string, version uint64) (Queue, error) {
	q := parseQueue(c, def)
	org, a := currentOrg(c), actor(c)
	counts, err := s.desk.Counts(c.UserContext(), org, a)
	if err != nil {
		return Queue{}, err
	}
	p := desk.Priority(-1)
	if q.priority != "" {
		p, _ = desk.ParsePriority(q.priority)
	}
	rows, err := s.desk.Queue(c.UserContext(), org, a, desk.QueueQuery{View: q.view, Tag: q.tag, Priority: p, Limit: q.shown + 1})
	if err != nil {
		return Queue{}, err
	}
	l := listing{Tickets: rows, Shown: q.shown}
	if len(rows) > q.shown {
		l.Tickets, l.More = rows[:q.shown], true
	}
	if l.More && l.Shown < maxListed {
		l.MoreURL = q.url(path, l.Shown+listLimit, 0)
	}
	settings, err := s.desk.Settings(c.UserContext(), org)
	if err != nil {
		return Queue{}, err
	}
	// The start page (no view named) shows the owner its tickets open and closed, and an agent
	// the tickets no one has taken and its own; a view the URL names lists only its tickets.
	var closed, mine []desk.Ticket
	if !q.named && rowKind == "org" && q.tag == "" && q.priority == "" && counts.Views[desk.ViewClosed] > 0 {
		if closed, err = s.desk.Queue(c.UserContext(), org, a, desk.QueueQuery{View: desk.ViewClosed, Priority: -1, Limit: recentClosed}); err != nil {
			return Queue{}, err
		}
	}
	if !q.named && rowKind == "agent" && q.view == desk.ViewUnassigned && counts.Views[desk.ViewMine] > 0 {
		if mine, err = s.desk.Queue(c.UserContext(), org, a, desk.QueueQuery{View: desk.ViewMine, Tag: q.tag, Priority: p, Limit: listLimit}); err != nil {
			return Queue{}, err
		}
	}
	out := Queue{Named: q.named, Closed: closed, Mine: mine, Loc: settings.Location, View: q.view, Tag: q.tag, Priority: q.priority, List: l, Counts: counts, Path: path,
		LiveURL: q.url(path, q.shown, version), Version: version, RowKind: rowKind, OrgUser: org.Username,
		CSRF: s.csrfToken(c), Priorities: []string{"urgent", "high", "normal", "low"}}
	for _, v := range desk.Views {
		if v == desk.ViewMine && a.Kind != desk.AgentActor {
			continue
		}
		if v == desk.ViewMentions && a.Kind != desk.AgentActor {
			continue
		}
		tq := queueQuery{view: v, tag: q.tag, priority: q.priority, shown: listLimit, named: true}
		out.Tabs = append(out.Tabs, queueTab{Name: v, Label: viewLabels[v], URL: tq.url(path, listLimit, 0),
			Count: counts.Views[v], Current: v == q.view})
	}
	return out, nil
}

// liveVersion is what a queue's live region compares to skip rendering: the desk's version
// and, when the organization has service-level targets, the minute too (due times are reached
// and the Due soon view changes with the clock alone).
func (s *Server) liveVersion(c *fiber.Ctx, org *catalog.Organization) (uint64, error) {
	v := s.desk.Version(org)
	settings, err := s.desk.Settings(c.UserContext(), org)
	if err != nil {
		return 0, err
	}
	for _, t := range settings.SLA.Targets {
		if t.FirstResponse > 0 || t.Resolution > 0 {
			return v + uint64(time.Now().Unix()/60), nil
		}
	}
	return v, nil
}

// tagList joins a ticket's tags for display.
func tagList(tags []string) string { return strings.Join(tags, ", ") }
