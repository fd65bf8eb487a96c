package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Viewports the pages must work at.
var (
	phone   = viewport{"phone", 390, 844, true}
	desktop = viewport{"desktop", 1280, 800, false}
)

type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

func (p *person) setViewport(v viewport) {
	p.t.Helper()
	if v.mobile {
		p.do(chromedp.EmulateViewport(v.width, v.height, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)))
	} else {
		p.do(chromedp.EmulateViewport(v.width, v.height))
	}
}

// pagesSite is an organization with a ticket in every state and a team of three, for tests
// that visit every page.
type pagesSite struct {
	user                          string
	orgPassword                   string
	agentEmail, agentPassword     string
	adminEmail, adminPassword     string
	pendingEmail, pendingPassword string // an agent that has not chosen its password yet
	// customer pages
	openPage, engagedPage, pendingPage, snoozedPage, closed string
	// agent pages: its own tickets, one nobody has, one the admin has
	talkEngaged, talkClosed, talkOpen, talkAdmins string
	convEngaged, convClosed, convSnoozed          string // organization pages
	contact                                       string // the engaged ticket's customer, for the agent
	cannedID                                      string
}

// contactLinkRE is the customer's contact link on a ticket's page.
var contactLinkRE = regexp.MustCompile(`id="contact-link" href="[^"]*/contacts/(\d+)"|href="[^"]*/contacts/(\d+)" id="contact-link"`)

// seedSite builds a pagesSite through the real forms.
func seedSite(t *testing.T, user, orgName string) pagesSite {
	t.Helper()
	s := pagesSite{user: user, orgPassword: "org password " + user,
		agentEmail: "agent@" + user + ".example", agentPassword: "agent password " + user,
		adminEmail: "admin@" + user + ".example", adminPassword: "admin password " + user,
		pendingEmail: "pending@" + user + ".example"}
	org := seedOrg(t, orgName, user, s.orgPassword)
	org.mustPost("/dash/settings", "/dash/settings", http.StatusSeeOther, "time_zone", "Europe/Berlin")
	agent := seedAgent(t, org, user, "Avery Agent", s.agentEmail, s.agentPassword)
	admin := seedAgent(t, org, user, "Adele Admin", s.adminEmail, s.adminPassword)
	_, body := org.mustPost("/dash", "/agents", 200, "full_name", "Pat Pending", "email", s.pendingEmail)
	s.pendingPassword = initialPasswordRE.FindStringSubmatch(body)[1]
	seedCanned(t, org, "Greeting", "Hi {{customer_name}}, thanks for writing to {{org_name}}!")
	seedCanned(t, org, "Export how-to", "Open the dashboard and choose Export. — {{agent_name}}")

	c1, closed := seedTicket(t, user, "Robin Rated", "robin@customer.example", "The app logs me out every few minutes.")
	s.closed = closed
	s.talkClosed = seedTake(t, agent, user)
	seedSay(t, agent, s.talkClosed, "Sorry about that! We fixed a session bug this morning. Could you try again?")
	seedSay(t, c1, closed, "Works now, thank you!")
	seedClose(t, agent, user, s.talkClosed)
	seedRate(t, c1, closed, "5")

	c2, engaged := seedTicket(t, user, "Sam Sender", "sam@customer.example", "How do I export my data?")
	s.engagedPage = engaged
	s.talkEngaged = seedTake(t, agent, user)
	adminID := agentIDOf(t, org, "/conversation/"+lastSegment(s.talkEngaged), "Adele Admin")
	org.mustPost("/dash", "/agents/"+adminID+"/role", http.StatusSeeOther, "role", "admin")
	seedSay(t, agent, s.talkEngaged, "Hi Sam! Open the dashboard and choose Export.")
	seedSay(t, c2, engaged, "Found it.\nIs the file a full copy?")
	seedNote(t, agent, s.talkEngaged, "@admin do we include attachments in the export?")
	seedTicketAction(t, agent, s.talkEngaged, "priority", "priority", "high")
	seedTicketAction(t, agent, s.talkEngaged, "tags", "tags", "export, Billing")

	// Sam's second ticket, waiting on Sam.
	_, s.pendingPage = seedTicket(t, user, "Sam Sender", "sam@customer.example", "And can I import it elsewhere?")
	talkPending := seedTake(t, agent, user)
	seedSay(t, agent, talkPending, "Which tool do you want to import it into?")
	seedTicketAction(t, agent, talkPending, "status", "status", "pending")

	// Snoozed until tomorrow morning (the form's default).
	_, s.snoozedPage = seedTicket(t, user, "Sid Snoozed", "sid@customer.example", "Please call me back next week.")
	talkSnoozed := seedTake(t, admin, user)
	_, body = admin.get(talkSnoozed)
	until := regexp.MustCompile(`id="snooze_until" name="snooze_until" type="datetime-local" value="([^"]+)"`).FindStringSubmatch(body)
	if until == nil {
		t.Fatalf("no snooze field on %s", talkSnoozed)
	}
	seedTicketAction(t, admin, talkSnoozed, "status", "status", "snoozed", "snooze_until", until[1])

	// The admin's ticket, and one nobody has taken.
	seedTicket(t, user, "Ada Assigned", "ada@customer.example", "Do you have a status page?")
	s.talkAdmins = seedTake(t, admin, user)
	_, s.openPage = seedTicket(t, user, "Olive Open", "olive@customer.example", "Do you ship to Norway?")
	_, body = agent.get("/agent/" + user + "/dash?view=unassigned")
	conv := regexp.MustCompile(`href="/agent/` + user + `/talk/(\d+)"`).FindStringSubmatch(body)
	if conv == nil {
		t.Fatalf("Olive's ticket is not in the Unassigned queue")
	}
	s.talkOpen = "/agent/" + user + "/talk/" + conv[1]

	s.convEngaged = "/conversation/" + lastSegment(s.talkEngaged)
	s.convClosed = "/conversation/" + lastSegment(s.talkClosed)
	s.convSnoozed = "/conversation/" + lastSegment(talkSnoozed)
	_, body = agent.get(s.talkEngaged)
	m := contactLinkRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no contact link on %s", s.talkEngaged)
	}
	s.contact = m[1] + m[2]
	_, body = agent.get("/agent/" + user + "/canned")
	cm := regexp.MustCompile(`id="canned-(\d+)"`).FindStringSubmatch(body)
	if cm == nil {
		t.Fatalf("no canned reply listed")
	}
	s.cannedID = cm[1]
	return s
}

func lastSegment(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// loginOrg signs the organization in through its login form.
func loginOrg(p *person, user, password string) {
	p.t.Helper()
	p.open("/login", 200)
	p.fill("#email", "owner@"+user+".example")
	p.fill("#password", password)
	p.submit(`main form button[type="submit"]`, 200)
	if p.location() != "/dash" {
		p.fail("login led to %s", p.location())
	}
}

// loginAgent signs an agent in through its organization's agent login form.
func loginAgent(p *person, user, email, password, want string) {
	p.t.Helper()
	p.open("/agent/"+user+"/login", 200)
	p.fill("#email", email)
	p.fill("#password", password)
	p.submit(`main form button[type="submit"]`, 200)
	if p.location() != want {
		p.fail("login led to %s, want %s", p.location(), want)
	}
}

// pageChecks are the checks every page passes; problems are returned as text.
const pageChecks = `(() => {
	const out = [];
	const visible = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length) &&
		!(e.closest('details:not([open])') && !e.closest('summary') && !e.matches('details'));
	if (!document.documentElement.lang) out.push('no lang on <html>');
	if (!document.title.trim()) out.push('no title');
	const h1 = document.querySelectorAll('h1');
	if (h1.length !== 1) out.push(h1.length + ' h1 elements, want 1');
	if (document.querySelectorAll('main').length !== 1) out.push('not exactly one <main>');
	if (!document.querySelector('header nav, nav')) out.push('no navigation landmark');
	const ids = new Set();
	for (const e of document.querySelectorAll('[id]')) {
		if (ids.has(e.id)) out.push('duplicate id ' + e.id);
		ids.add(e.id);
	}
	for (const f of document.querySelectorAll('input:not([type=hidden]), textarea, select')) {
		const named = (f.labels && f.labels.length) || f.getAttribute('aria-label') || f.getAttribute('aria-labelledby');
		if (!named) out.push('field without a label: ' + (f.id || f.name));
	}
	for (const b of document.querySelectorAll('button, a[href]')) {
		if (!visible(b)) continue;
		const name = (b.textContent || '').trim() || b.getAttribute('aria-label') || (b.querySelector('img[alt]') || {}).alt;
		if (!name) out.push('control without a name: ' + b.outerHTML.slice(0, 80));
	}
	for (const img of document.querySelectorAll('img')) {
		if (!img.hasAttribute('alt')) out.push('img without alt: ' + img.src);
	}
	for (const e of document.querySelectorAll('[aria-describedby]')) {
		for (const id of e.getAttribute('aria-describedby').split(/\s+/)) {
			if (id && !document.getElementById(id)) out.push(e.id + ' is described by missing #' + id);
		}
	}
	const over = document.documentElement.scrollWidth - window.innerWidth;
	if (over > 1) out.push('page is ' + over + 'px wider than the viewport (' + window.innerWidth + 'px)');
	for (const e of document.querySelectorAll('body *')) {
		if (!visible(e)) continue;
		const r = e.getBoundingClientRect();
		if (r.right > window.innerWidth + 1 && getComputedStyle(e).position !== 'fixed') {
			let clipped = false;
			for (let a = e.parentElement; a; a = a.parentElement) {
				const ov = getComputedStyle(a).overflowX;
				if (ov === 'hidden' || ov === 'auto' || ov === 'scroll' || ov === 'clip') { clipped = true; break; }
			}
			if (!clipped) { out.push('sticks out of the viewport: ' + e.outerHTML.slice(0, 80)); break; }
		}
	}
	return out;
})()`

// TestEveryPageIsCleanAndAccessible opens every page, as the person who sees it, at phone and
// desktop sizes: no console error, no failed request, no CSP violation; one h1, a main
// landmark and navigation, a label for every field, a name for every control, no duplicate
// ids, nothing wider than the screen.
func TestEveryPageIsCleanAndAccessible(t *testing.T) {
	t.Parallel()
	s := seedSite(t, "pages", "Pages & Co")
	anon := newPerson(t, "visitor", true)
	cust := newPerson(t, "customer", true)
	org := newPerson(t, "organization", true)
	agent := newPerson(t, "agent", true)
	admin := newPerson(t, "admin", true)
	pending := newPerson(t, "new agent", true)
	loginOrg(org, s.user, s.orgPassword)
	loginAgent(admin, s.user, s.adminEmail, s.adminPassword, "/agent/"+s.user+"/dash")
	loginAgent(agent, s.user, s.agentEmail, s.agentPassword, "/agent/"+s.user+"/dash")
	loginAgent(pending, s.user, s.pendingEmail, s.pendingPassword, "/agent/"+s.user+"/password")

	type visit struct {
		who    *person
		path   string
		status int64
	}
	visits := []visit{
		{anon, "/", 200},
		{anon, "/register", 200},
		{anon, "/login", 200},
		{anon, "/" + s.user + "/open-ticket", 200},
		{anon, "/agent/" + s.user + "/login", 200},
		{anon, "/no-such-org/open-ticket", 404},
		{anon, "/customer/" + s.user + "/t/" + strings.Repeat("x", 43), 404},
		{cust, s.openPage, 200},
		{cust, s.engagedPage, 200},
		{cust, s.pendingPage, 200},
		{cust, s.snoozedPage, 200},
		{cust, s.closed, 200},
		{org, "/dash", 200},
		{org, "/dash?view=pending", 200},
		{org, "/dash?view=snoozed", 200},
		{org, "/dash?view=closed", 200},
		{org, "/dash?view=all&tag=export&priority=high", 200},
		{org, "/dash?view=all&tag=nothing-tagged", 200},
		{org, "/dash/password", 200},
		{org, "/dash/canned", 200},
		{org, "/dash/settings", 200},
		{org, "/dash/reports", 200},
		{org, "/dash/reports?preset=custom&from=2026-01-01&to=2026-12-31", 200},
		{org, "/dash/contacts/" + s.contact, 200},
		{org, s.convEngaged, 200},
		{org, s.convClosed, 200},
		{org, s.convSnoozed, 200},
		{org, "/dash/search?q=export", 200},
		{org, "/dash/search?q=zzzznothing", 200},
		{agent, "/agent/" + s.user + "/dash", 200},
		{agent, "/agent/" + s.user + "/dash?view=mine", 200},
		{agent, "/agent/" + s.user + "/dash?view=mentions", 200},
		{agent, "/agent/" + s.user + "/canned", 200},
		{agent, "/agent/" + s.user + "/contacts/" + s.contact, 200},
		{agent, s.talkEngaged, 200},
		{agent, s.talkEngaged + "?canned=" + s.cannedID, 200},
		{agent, s.talkClosed, 200},
		{agent, s.talkOpen, 200},
		{agent, s.talkAdmins, 200},
		{agent, "/agent/" + s.user + "/search", 200},
		{agent, "/agent/" + s.user + "/search?q=a&status=open&priority=high", 200},
		{admin, "/agent/" + s.user + "/dash?view=mentions", 200},
		{admin, "/agent/" + s.user + "/team", 200},
		{admin, "/agent/" + s.user + "/canned", 200},
		{admin, "/dash/settings", 200},
		{admin, "/dash/reports?preset=7d", 200},
		{admin, "/agent/" + s.user + "/dash?view=due", 200},
		{admin, s.talkEngaged, 200},
		{pending, "/agent/" + s.user + "/password", 200},
	}
	anon.allow(404, "/no-such-org/")
	anon.allow(404, "/customer/"+s.user+"/t/xxx")
	for _, vp := range []viewport{phone, desktop} {
		for _, p := range []*person{anon, cust, org, agent, admin, pending} {
			p.setViewport(vp)
		}
		for _, v := range visits {
			v.who.open(v.path, v.status)
			// Let polls and scripts run once.
			time.Sleep(50 * time.Millisecond)
			if problems := eval[[]string](v.who, pageChecks); len(problems) > 0 {
				t.Errorf("%s at %s width: %s:\n  %s", v.path, vp.name, v.who.name, strings.Join(problems, "\n  "))
			}
			// What the disclosure widgets hide must fit as well once opened.
			if eval[int](v.who, `document.querySelectorAll('details:not([open])').length`) > 0 {
				eval[bool](v.who, `(() => { document.querySelectorAll('details').forEach(d => d.open = true); return true })()`)
				if problems := eval[[]string](v.who, pageChecks); len(problems) > 0 {
					t.Errorf("%s at %s width, details opened: %s:\n  %s", v.path, vp.name, v.who.name, strings.Join(problems, "\n  "))
				}
			}
		}
	}

	// A form sent back with errors: the messages sit next to the fields, values kept.
	anon.allow(422, "/register")
	anon.open("/register", 200)
	anon.fill("#name", "Half Done")
	anon.fill("#username", "X!")
	anon.submit(`main form button[type="submit"]`, 422)
	anon.wantText("#username-error", "lower-case letters and digits")
	anon.wantText("#email-error", "required")
	if v := eval[string](anon, `document.getElementById('name').value`); v != "Half Done" {
		anon.fail("the organization name was not kept: %q", v)
	}
	if a := eval[string](anon, `document.getElementById('username').getAttribute('aria-invalid')`); a != "true" {
		anon.fail("the invalid username is not marked aria-invalid")
	}
	if problems := eval[[]string](anon, pageChecks); len(problems) > 0 {
		t.Errorf("/register with errors: %s", strings.Join(problems, "; "))
	}

	// A ticket's side form sent back with its reason (a snooze time in the past): the page again,
	// the reason beside the controls, nothing changed.
	agent.allow(422, "/status")
	agent.setViewport(phone)
	agent.open(s.talkEngaged, 200)
	eval[bool](agent, `(() => { document.getElementById('status').value = 'snoozed';
		document.getElementById('snooze_until').value = '2001-01-01T09:00'; return true })()`)
	agent.submit(`#status-form button[type="submit"]`, 422)
	agent.wantText("#action-error", "The snooze time must be in the future.")
	agent.wantText("#ticket-status", "open")
	if problems := eval[[]string](agent, pageChecks); len(problems) > 0 {
		t.Errorf("a ticket page with an action error: %s", strings.Join(problems, "; "))
	}

	// The customer's message list is a live region, and the newest message is in view.
	cust.setViewport(phone)
	cust.open(s.engagedPage, 200)
	if live := eval[string](cust, `document.getElementById('messages').getAttribute('aria-live')`); live != "polite" {
		cust.fail("the message list has aria-live=%q", live)
	}
	if !eval[bool](cust, `(() => { const r = document.querySelector('#messages').lastElementChild.getBoundingClientRect();
		return r.top >= 0 && r.bottom <= window.innerHeight; })()`) {
		cust.fail("the newest message is not scrolled into view")
	}
}

// TestReportsInBothThemes: the reports page draws its charts as SVG, without JavaScript
// errors, in the light and the dark theme, each series in a color of its own that stands out
// from the page, and each chart has its table.
func TestReportsInBothThemes(t *testing.T) {
	t.Parallel()
	s := seedSite(t, "charts", "Charts & Co")
	org := newPerson(t, "organization", true)
	loginOrg(org, s.user, s.orgPassword)
	org.setViewport(desktop)
	seen := map[string]string{}
	for _, scheme := range []string{"light", "dark"} {
		org.setColorScheme(scheme)
		org.open("/dash/reports?preset=7d", 200)
		got := eval[map[string]any](org, `(() => {
			const svg = document.querySelector('svg#chart-days');
			const bar = svg && svg.querySelector('.chart-s0 .chart-bar');
			const other = svg && svg.querySelector('.chart-s1 .chart-bar');
			const bg = getComputedStyle(document.body).backgroundColor;
			return {
				charts: document.querySelectorAll('svg.chart').length,
				tables: document.querySelectorAll('table.chart-table').length,
				bars: svg ? svg.querySelectorAll('.chart-bar').length : 0,
				opened: bar ? getComputedStyle(bar).fill : '',
				closed: other ? getComputedStyle(other).fill : '',
				bg: bg,
				title: svg ? svg.querySelector('title').textContent : '',
				width: svg ? svg.getBoundingClientRect().width : 0,
			};
		})()`)
		if got["charts"].(float64) != 2 || got["tables"].(float64) != 2 || got["bars"].(float64) != 14 || got["width"].(float64) < 300 {
			org.fail("%s theme: charts %v", scheme, got)
		}
		if got["opened"] == got["closed"] || got["opened"] == got["bg"] || got["opened"] == "" {
			org.fail("%s theme: series colors %v and %v on %v", scheme, got["opened"], got["closed"], got["bg"])
		}
		if got["title"] != "Tickets opened and closed per day" {
			org.fail("%s theme: chart title %q", scheme, got["title"])
		}
		if problems := eval[[]string](org, pageChecks); len(problems) > 0 {
			t.Errorf("reports in the %s theme: %s", scheme, strings.Join(problems, "; "))
		}
		seen[scheme] = got["opened"].(string)
	}
	if seen["light"] == seen["dark"] {
		t.Errorf("the chart has the same color (%s) in both themes", seen["light"])
	}
	org.setColorScheme("light")
}

// TestDueTextInTheBrowser: app.js words due times as the server does (the same table as
// handlers' TestDueText), so the text it keeps current never jumps when a queue re-renders.
func TestDueTextInTheBrowser(t *testing.T) {
	t.Parallel()
	p := newPerson(t, "visitor", true)
	p.open("/", 200)
	for _, tc := range []struct {
		offsetSeconds int64
		want          string
	}{
		{25*60 + 30, "due in 25 min"},
		{30, "due in less than a minute"},
		{3*3600 + 600, "due in 3 h"},
		{30 * 3600, "due in 1 day"},
		{50 * 3600, "due in 2 days"},
		{-30, "breached just now"},
		{-(2*3600 + 1800), "breached 2 h ago"},
		{-(3*86400 + 3600), "breached 3 days ago"},
		{-40 * 86400, "breached on "},
	} {
		got := eval[string](p, fmt.Sprintf(`(() => { const now = Date.now(); return window.tenantdesk.dueText(new Date(now + %d * 1000), now); })()`, tc.offsetSeconds))
		if got != tc.want && !(strings.HasSuffix(tc.want, " ") && strings.HasPrefix(got, tc.want)) {
			t.Errorf("dueText(now%+ds) = %q, want %q", tc.offsetSeconds, got, tc.want)
		}
	}
}

// TestBrowserErrorsAreCaught proves the error watch works: a CSP violation (an inline style
// and an inline script, both refused by the server's policy) shows up as a recorded problem.
func TestBrowserErrorsAreCaught(t *testing.T) {
	t.Parallel()
	p := newPerson(t, "visitor", true)
	p.open("/", 200)
	eval[bool](p, `(() => {
		document.body.insertAdjacentHTML('beforeend', '<div style="color: red">inline style</div>');
		const s = document.createElement('script');
		s.textContent = 'window.__inline = true';
		document.body.appendChild(s);
		return true;
	})()`)
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		got = append(got, p.takeProblems()...)
		if len(got) >= 2 {
			break
		}
	}
	joined := strings.Join(got, "\n")
	if !strings.Contains(joined, "Content Security Policy") || !strings.Contains(joined, "inline style") {
		t.Fatalf("the CSP violations were not caught; recorded:\n%s", joined)
	}
	if eval[bool](p, `window.__inline === true`) {
		t.Fatal("an inline script ran: the CSP does not hold")
	}
	t.Logf("caught:\n%s", joined)
}
