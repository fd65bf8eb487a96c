package handlers

// Search: GET /agent/{org}/search and GET /dash/search. The page is a plain GET form that
// works without JavaScript; with htmx the form asks again as people type (debounced) and only
// the results are swapped (partials/search_results). A ticket number typed alone ("#1042",
// "1042") opens that ticket when the form is submitted, and heads the live results.

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/search"
)

// searchPageSize is how many tickets one page of results shows.
const searchPageSize = 25

// maxSearchPage bounds how deep results page (the search ranks every match again per page).
const maxSearchPage = search.MaxOffset / searchPageSize

// searchForm is what a search URL asks for, as typed (invalid filters are dropped: they are
// a page's filters, not input to store).
type searchForm struct {
	Q, Status, Assignee, Tag, Priority, From, To string
	Page                                         int
}

// searchPage is the search page and its live part.
type searchPage struct {
	Page
	Seat   seat
	Action string
	Form   searchForm
	Agents []desk.Agent
	// Statuses and Priorities are the filter choices.
	Statuses, Priorities []string
	// Searched reports that the form held something to search for.
	Searched  bool
	Truncated bool
	// Numbered is the ticket the text names by its number, shown first.
	Numbered *ticketRow
	Rows     []ticketRow
	// PrevURL and NextURL page the results ("" at either end).
	PrevURL, NextURL string
	Loc              *time.Location
}

// Search is the seat's search page.
func (st seat) Search() string {
	if st.Owner {
		return "/dash/search"
	}
	return agentURL(st.OrgUser, "search")
}

// search handles GET /agent/:org/search and GET /dash/search.
func (s *Server) search(c *fiber.Ctx) error {
	ctx, org, a, st := c.UserContext(), currentOrg(c), actor(c), s.seat(c)
	settings, err := s.desk.Settings(ctx, org)
	if err != nil {
		return err
	}
	loc := settings.Location
	agents, err := s.desk.Agents(ctx, org, a, 500)
	if err != nil {
		return err
	}
	f, q := parseSearch(c, loc, agents)
	p := &searchPage{Page: Page{Title: "Search · " + org.Name}, Seat: st, Action: st.Search(), Form: f, Loc: loc,
		Statuses:   []string{desk.StatusOpen, desk.StatusPending, desk.StatusSnoozed, desk.StatusClosed},
		Priorities: []string{"urgent", "high", "normal", "low"}}
	for _, ag := range agents {
		if !ag.Removed() {
			p.Agents = append(p.Agents, ag)
		}
	}
	if strings.TrimSpace(q.Text) == "" {
		return s.render(c, fiber.StatusOK, "pages/search", "partials/search_results", p)
	}
	res, err := s.desk.Search(ctx, org, a, q)
	if err != nil {
		return err
	}
	kind, csrf := st.RowKind(), s.csrfToken(c)
	if res.Numbered != nil {
		if !isHTMX(c) && f.Page == 1 {
			// The form was submitted with a ticket's number: open that ticket.
			return redirect(c, st.Talk(res.Numbered.ConversationID))
		}
		r := row(*res.Numbered, kind, org.Username, csrf, loc)
		r.Match = "ticket #" + strconv.FormatInt(res.Numbered.ID, 10)
		p.Numbered = &r
	}
	p.Searched, p.Truncated = true, res.Truncated
	for _, h := range res.Hits {
		r := row(h.Ticket, kind, org.Username, csrf, loc)
		r.Snippet, r.Match = h.Snippet.HTML(), matchWords[h.Kind]
		p.Rows = append(p.Rows, r)
	}
	if f.Page > 1 {
		p.PrevURL = f.url(p.Action, f.Page-1)
	}
	if res.More && f.Page < maxSearchPage {
		p.NextURL = f.url(p.Action, f.Page+1)
	}
	return s.render(c, fiber.StatusOK, "pages/search", "partials/search_results", p)
}

// matchWords say where a ticket matched.
var matchWords = map[search.Kind]string{
	search.KindQuestion: "in the question",
	search.KindMessage:  "in the conversation",
	search.KindNote:     "in an internal note",
	search.KindContact:  "in the customer's name or email",
	search.KindTag:      "in the tags",
}

// parseSearch reads ?q=&status=&assignee=&tag=&priority=&from=&to=&page= into the form as
// shown and the desk's query. assignee is an agent's id or "none"; from and to are dates
// (YYYY-MM-DD, both days included) in the organization's time zone loc.
func parseSearch(c *fiber.Ctx, loc *time.Location, agents []desk.Agent) (searchForm, desk.SearchQuery) {
	f := searchForm{Q: strings.Clone(c.Query("q")), Page: 1}
	q := desk.SearchQuery{Text: f.Q, Priority: -1, Limit: searchPageSize}
	if len(f.Q) > 4*search.MaxQueryRunes {
		f.Q = f.Q[:4*search.MaxQueryRunes]
		q.Text = f.Q
	}
	if v := c.Query("status"); desk.ValidStatus(v) {
		f.Status, q.Status = v, v
	}
	switch v := c.Query("assignee"); {
	case v == "none":
		f.Assignee, q.Unassigned = v, true
	case v != "":
		if id, ok := parseID(v); ok {
			for _, ag := range agents {
				if ag.ID == id {
					f.Assignee, q.AssigneeID = v, id
				}
			}
		}
	}
	if tags, err := desk.NormalizeTags([]string{c.Query("tag")}); err == nil && len(tags) == 1 {
		f.Tag, q.Tag = tags[0], tags[0]
	}
	if p, ok := desk.ParsePriority(c.Query("priority")); ok {
		f.Priority, q.Priority = p.String(), p
	}
	if d, err := time.ParseInLocation(time.DateOnly, c.Query("from"), loc); err == nil {
		f.From, q.From = d.Format(time.DateOnly), d
	}
	if d, err := time.ParseInLocation(time.DateOnly, c.Query("to"), loc); err == nil && (q.From.IsZero() || !d.Before(q.From)) {
		f.To, q.To = d.Format(time.DateOnly), d.AddDate(0, 0, 1)
	}
	if n, err := strconv.Atoi(c.Query("page")); err == nil && n > 1 {
		f.Page = min(n, maxSearchPage)
	}
	q.Offset = (f.Page - 1) * searchPageSize
	return f, q
}

// url is the search page at path for f, on page n.
func (f searchForm) url(path string, n int) string {
	v := url.Values{}
	v.Set("q", f.Q)
	for k, x := range map[string]string{"status": f.Status, "assignee": f.Assignee, "tag": f.Tag,
		"priority": f.Priority, "from": f.From, "to": f.To} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	return path + "?" + v.Encode()
}
