package handlers_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// stat returns the value a report page shows for the summary figure id ("stat-opened").
func stat(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + id + `"[^>]*>.*?<strong class="report-stat-value">([^<]*)</strong>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s on the page:\n%.3000s", id, body)
	}
	return m[1]
}

// ticketOf returns the ticket id of an agent's talk page.
func ticketOf(t *testing.T, a agent, talk string) string {
	t.Helper()
	m := closeURLRE.FindStringSubmatch(a.browser.get(talk).body)
	if m == nil {
		t.Fatalf("no close form on %s", talk)
	}
	return m[1]
}

// reportWorld is an organization with three tickets today: two closed by Ann (one rated 5
// with a comment and tagged billing, one rated 3), one unanswered; and an admin agent.
func reportWorld(t *testing.T) (*env, org, agent, agent) {
	e := newEnv(t)
	o := e.register("acme")
	ann := e.onboard(o, "Ann Agent")
	bea := e.onboard(o, "Bea Boss")
	o.browser.get("/dash")
	wantRedirect(t, o.browser.post("/agents/"+e.agentID("acme", bea.email)+"/role", form("role", "admin")), "/dash")

	for i, rating := range []string{"5", "3"} {
		c := e.openTicket("acme", "question "+rating)
		talk := e.engage(ann)
		wantStatus(t, ann.browser.post(talk+"/messages", form("message", "Here is the answer."), htmx), http.StatusOK)
		id := ticketOf(t, ann, talk)
		if i == 0 {
			wantRedirect(t, ann.browser.post("/agent/acme/tickets/"+id+"/tags", form("tags", "billing")), talk)
		}
		wantRedirect(t, ann.browser.post("/agent/acme/tickets/"+id+"/close", nil), talk)
		c.browser.get(c.page)
		comment := ""
		if i == 0 {
			comment = "Quick & <b>kind</b>,\r\nthank you!"
		}
		wantRedirect(t, c.browser.post(c.page+"/rating", form("rating", rating, "comment", comment)), c.page)
	}
	e.openTicket("acme", "still waiting")
	return e, o, ann, bea
}

func TestReportsPage(t *testing.T) {
	e, o, ann, bea := reportWorld(t)
	_ = e
	for _, who := range []struct {
		name string
		c    *client
		url  string
	}{{"owner", o.browser, "/dash/reports"}, {"admin agent", bea.browser, "/dash/reports?preset=7d"}} {
		r := who.c.get(who.url)
		wantStatus(t, r, http.StatusOK)
		for id, want := range map[string]string{"stat-opened": "3", "stat-closed": "2", "stat-csat": "4.0 / 5", "stat-breaches": "0"} {
			if got := stat(t, r.body, id); got != want {
				t.Errorf("%s: %s = %q, want %q", who.name, id, got, want)
			}
		}
		for _, want := range []string{`<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-days"`, `id="chart-days-table"`,
			`id="chart-csat"`, `<th scope="row">5 ★</th><td>1</td>`, `<th scope="row">Ann Agent</th><td>2</td>`,
			`<th scope="row">billing</th><td>1</td><td>1</td>`, "Quick &amp; &lt;b&gt;kind&lt;/b&gt;,\nthank you!",
			`href="/dash/reports.csv?preset=`} {
			if !r.has(want) {
				t.Errorf("%s: the report lacks %q", who.name, want)
			}
		}
	}
	// The link to a commented ticket is the viewer's own ticket page.
	if r := o.browser.get("/dash/reports"); !regexp.MustCompile(`<a href="/conversation/\d+">Ticket #\d+</a>`).MatchString(r.body) {
		t.Error("the owner's report does not link the comment to /conversation/…")
	}
	if r := bea.browser.get("/dash/reports"); !regexp.MustCompile(`<a href="/agent/acme/talk/\d+">Ticket #\d+</a>`).MatchString(r.body) {
		t.Error("the admin's report does not link the comment to its talk page")
	}

	// CSV: the same figures.
	r := o.browser.get("/dash/reports.csv?preset=30d")
	wantStatus(t, r, http.StatusOK)
	today := time.Now().UTC().Format("2006-01-02")
	if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="acme-report-`) || !strings.HasSuffix(cd, today+`.csv"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	for _, want := range []string{"section,id,name,metric,value\r\n", "summary,,,opened,3\r\n", "summary,,,closed,2\r\n",
		"summary,,,unanswered,1\r\n", "csat,5,,count,1\r\n", "tag,,billing,tickets,1\r\n", ",Ann Agent,closed,2\r\n"} {
		if !r.has(want) {
			t.Errorf("the CSV lacks %q:\n%s", want, r.body)
		}
	}

	// A plain agent gets nothing.
	if r := ann.browser.get("/dash/reports"); r.status != http.StatusForbidden || r.has("stat-opened") {
		t.Errorf("a plain agent: status %d", r.status)
	}

	// A range without tickets, and refused ranges.
	r = o.browser.get("/dash/reports?preset=custom&from=2026-01-01&to=2026-01-31")
	wantStatus(t, r, http.StatusOK)
	if got := stat(t, r.body, "stat-opened"); got != "0" || !r.has("1 Jan 2026 – 31 Jan 2026") {
		t.Errorf("January: opened %q", got)
	}
	for _, tc := range []struct{ query, field, words string }{
		{"preset=custom&from=2026-03-10&to=2026-03-01", "to", "The last day must not be before the first."},
		{"preset=custom&from=2026-02-30&to=2026-03-01", "from", "Enter a date like 2026-03-01."},
		{"preset=custom&from=2020-01-01&to=2022-01-01", "to", "A report covers at most 366 days."},
		{"preset=custom&to=2026-03-01", "from", "Enter the first day of the range."},
		{"preset=1y", "preset", "Choose a period"},
		{"preset=custom&from=1999-12-31&to=2000-01-01", "from", "Enter a date between 2000 and 2199."},
	} {
		for _, path := range []string{"/dash/reports?", "/dash/reports.csv?"} {
			r := o.browser.get(path + tc.query)
			if r.status != http.StatusUnprocessableEntity || !r.has(`id="`+tc.field+`-error">`+tc.words) || r.has("stat-opened") {
				t.Errorf("%s%s: status %d, error for %s missing:\n%.1500s", path, tc.query, r.status, tc.field, r.body)
			}
		}
	}
	// The form keeps what was asked.
	r = o.browser.get("/dash/reports?preset=custom&from=2026-03-10&to=2026-03-01")
	if !r.has(`name="from" type="date" value="2026-03-10"`) || !r.has(`value="custom" checked`) {
		t.Error("the refused range is not shown again")
	}
}

func TestRatingComment(t *testing.T) {
	e := newEnv(t)
	o := e.register("acme")
	ann := e.onboard(o, "Ann Agent")
	c := e.openTicket("acme", "help me")
	talk := e.engage(ann)
	id := ticketOf(t, ann, talk)
	wantRedirect(t, ann.browser.post("/agent/acme/tickets/"+id+"/close", nil), talk)
	c.browser.get(c.page)

	for _, tc := range []struct{ rating, comment, field, words string }{
		{"4", strings.Repeat("x", 1001), "comment", "Your comment must be at most 1000 characters."},
		{"4", "bell \a ringing", "comment", "Your comment contains invalid characters."},
		{"", "no stars", "rating", "Choose a rating from 1 to 5."},
	} {
		r := c.browser.post(c.page+"/rating", form("rating", tc.rating, "comment", tc.comment))
		if r.status != http.StatusUnprocessableEntity || !r.has(`id="`+tc.field+`-error">`+tc.words) {
			t.Errorf("rating %q comment %.20q: status %d, no %s error:\n%.2000s", tc.rating, tc.comment, r.status, tc.field, r.body)
		}
		if tc.rating != "" && !r.has(`value="4" required checked`) {
			t.Error("the refused form forgot the stars")
		}
	}
	wantRedirect(t, c.browser.post(c.page+"/rating", form("rating", "2", "comment", "  Slow, but <fixed>.  ")), c.page)
	if r := c.browser.get(c.page); !r.has(`id="rating-comment-text">Slow, but &lt;fixed&gt;.</blockquote>`) {
		t.Errorf("the customer's page does not show the comment:\n%.3000s", r.body)
	}
	if r := ann.browser.get(talk); !r.has(`id="rating-comment">Slow, but &lt;fixed&gt;.</blockquote>`) || !r.has("★ 2/5") {
		t.Error("the ticket page does not show the rating and its comment")
	}
	contact := regexp.MustCompile(`/agent/acme/contacts/\d+`).FindString(ann.browser.get(talk).body)
	if r := ann.browser.get(contact); !r.has(`id="rating-comment-` + id + `">Slow, but &lt;fixed&gt;.</blockquote>`) {
		t.Errorf("the contact's history does not show the comment:\n%.3000s", r.body)
	}
	// Once is once.
	if r := c.browser.post(c.page+"/rating", form("rating", "5", "comment", "changed my mind")); r.status != http.StatusConflict {
		t.Errorf("a second rating: status %d", r.status)
	}
}
