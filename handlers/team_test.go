package handlers_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// team is an organization with three agents — Ann and Bob (role agent) and Cleo (admin) — and
// one ticket Ann took.
type team struct {
	e             *env
	acme          org
	ann, bob, cle agent
	annID, bobID  string
	cleID         string
	cust          customer
	talk          string // the ticket's talk page (the same path for every agent)
	ticket        string // the ticket id
}

func newTeam(t *testing.T) *team {
	t.Helper()
	e := newEnv(t)
	tm := &team{e: e, acme: e.register("acme")}
	tm.ann = e.onboard(tm.acme, "Ann Agent")
	tm.bob = e.onboard(tm.acme, "Bob Agent")
	tm.cle = e.onboard(tm.acme, "Cleo Admin")
	tm.annID, tm.bobID, tm.cleID = e.agentID("acme", tm.ann.email), e.agentID("acme", tm.bob.email), e.agentID("acme", tm.cle.email)
	tm.acme.browser.get("/dash")
	wantRedirect(t, tm.acme.browser.post("/agents/"+tm.cleID+"/role", form("role", "admin")), "/dash")
	tm.cust = e.openTicket("acme", "The invoice is wrong")
	tm.talk = e.engage(tm.ann)
	tm.ticket = "1"
	for _, a := range []agent{tm.ann, tm.bob, tm.cle} {
		a.browser.get(tm.talk)
	}
	return tm
}

func (tm *team) action(name string) string { return "/agent/acme/tickets/" + tm.ticket + "/" + name }

// TestBadTeamInputIsRefused: every refused field answers 422 with the ticket page and the
// reason, and changes nothing.
func TestBadTeamInputIsRefused(t *testing.T) {
	tm := newTeam(t)
	before := tm.ann.browser.get(tm.talk)
	msgs := len(messageIDs(before.body))
	tomorrow := time.Now().UTC().Add(24 * time.Hour).Format("2006-01-02T15:04")
	yesterday := time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02T15:04")
	tags21 := make([]string, 21)
	for i := range tags21 {
		tags21[i] = "t" + strings.Repeat("x", i)
	}
	for _, c := range []struct {
		name, action string
		form         []string
		reason       string
	}{
		{"unknown status", "status", []string{"status", "engaged"}, "Choose a status"},
		{"snooze without a time", "status", []string{"status", "snoozed"}, "until when"},
		{"snooze in the past", "status", []string{"status", "snoozed", "snooze_until", yesterday}, "must be in the future"},
		{"malformed snooze", "status", []string{"status", "snoozed", "snooze_until", "tomorrow 9am"}, "Enter the snooze time"},
		{"snooze with seconds", "status", []string{"status", "snoozed", "snooze_until", tomorrow + ":00"}, "Enter the snooze time"},
		{"unknown priority", "priority", []string{"priority", "extreme"}, "Choose a priority"},
		{"21 tags", "tags", []string{"tags", strings.Join(tags21, ",")}, "at most 20 tags"},
		{"a 33-character tag", "tags", []string{"tags", "ok," + strings.Repeat("a", 33)}, "at most 32 characters"},
		{"a tag with a control character", "tags", []string{"tags", "bad\x01tag"}, "at most 32 characters"},
		{"an agent of no one", "assign", []string{"agent_id", "99"}, "Choose an agent of the team"},
		{"a malformed agent id", "assign", []string{"agent_id", "1 OR 1=1"}, "Choose an agent of the team"},
	} {
		r := tm.ann.browser.post(tm.action(c.action), form(c.form...))
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(r.body), c.reason) || !r.has(`id="action-error"`) {
			t.Errorf("%s: status %d, want 422 saying %q:\n%.300s", c.name, r.status, c.reason, r.body)
		}
	}
	// An empty note: the page again (or, with htmx, the reason beside the note composer).
	r := tm.ann.browser.post(tm.talk+"/notes", form("note", "  \n "))
	if r.status != http.StatusUnprocessableEntity || !r.has("Write the note first.") {
		t.Errorf("empty note: status %d:\n%.300s", r.status, r.body)
	}
	r = tm.ann.browser.post(tm.talk+"/notes", form("note", ""), htmx)
	if r.status != http.StatusUnprocessableEntity || r.header.Get("HX-Retarget") != "#note-error" || r.has("<html") {
		t.Errorf("empty htmx note: status %d, HX-Retarget %q", r.status, r.header.Get("HX-Retarget"))
	}

	after := tm.ann.browser.get(tm.talk)
	if got := len(messageIDs(after.body)); got != msgs {
		t.Errorf("%d messages after the refused input, want %d", got, msgs)
	}
	for _, want := range []string{`id="ticket-status">open<`, `<option value="normal" selected>`, `id="tags" name="tags" value=""`} {
		if !after.has(want) {
			t.Errorf("the ticket changed: page lacks %s", want)
		}
	}
}

// TestAgentDashShowsOwnTickets: an agent's dashboard without a view shows the tickets no one
// has taken and the agent's own, and its live region keeps both; a named view only its own.
func TestAgentDashShowsOwnTickets(t *testing.T) {
	tm := newTeam(t)
	tm.e.openTicket("acme", "Nobody took this yet")
	own, other := `id="ticket-`+tm.ticket+`"`, `id="ticket-2"`
	r := tm.ann.browser.get("/agent/acme/dash")
	if !r.has(own) || !r.has(other) {
		t.Fatalf("Ann's dashboard lacks her ticket or the waiting one:\n%.3000s", r.body)
	}
	live := regexp.MustCompile(`id="queue-live"[^>]*hx-get="([^"]*)"`).FindStringSubmatch(r.body)
	if live == nil {
		t.Fatalf("no live region:\n%.3000s", r.body)
	}
	if r := tm.ann.browser.get(html.UnescapeString(strings.Replace(live[1], "v=", "old=", 1)), htmx); !r.has(own) || !r.has(other) {
		t.Errorf("the live region's answer lacks her ticket or the waiting one:\n%s", r.body)
	}
	if r := tm.bob.browser.get("/agent/acme/dash"); r.has(own) {
		t.Errorf("Bob's dashboard shows Ann's ticket:\n%.3000s", r.body)
	}
	if r := tm.ann.browser.get("/agent/acme/dash?view=unassigned"); r.has(own) || !r.has(other) {
		t.Errorf("the unassigned view:\n%.3000s", r.body)
	}
}

// TestRefusedTicketInputIsKept: a refused ticket control answers the page with the reason
// inside the refused form and the values entered in it, not the ticket's current ones.
func TestRefusedTicketInputIsKept(t *testing.T) {
	tm := newTeam(t)
	yesterday := time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02T15:04")
	tags := "alpha," + strings.Repeat("b", 33)
	for _, c := range []struct {
		name, action string
		form         []string
		want         []string
	}{
		{"tags", "tags", []string{"tags", tags}, []string{`id="tags" name="tags" value="` + tags + `"`}},
		{"status", "status", []string{"status", "snoozed", "snooze_until", yesterday},
			[]string{`name="snooze_until" type="datetime-local" value="` + yesterday + `"`, `<option value="snoozed" selected>`}},
	} {
		r := tm.ann.browser.post(tm.action(c.action), form(c.form...))
		wantStatus(t, r, http.StatusUnprocessableEntity)
		f := regexp.MustCompile(`(?s)<form[^>]*id="` + c.action + `-form">.*?</form>`).FindString(r.body)
		if !strings.Contains(f, `id="action-error"`) {
			t.Errorf("%s: the reason is not in the refused form:\n%s", c.name, f)
		}
		for _, w := range c.want {
			if !strings.Contains(f, w) {
				t.Errorf("%s: the refused form lacks %s:\n%s", c.name, w, f)
			}
		}
	}
}

// A refused role (neither agent nor admin) answers 422 with the reason beside that agent's
// role field, its Manage section open, and no other agent's field marked.
func TestRefusedRoleIsShownBesideItsField(t *testing.T) {
	tm := newTeam(t)
	for _, who := range []struct {
		name string
		b    *client
	}{{"owner", tm.acme.browser}, {"admin", tm.cle.browser}} {
		r := who.b.post("/agents/"+tm.bobID+"/role", form("role", "owner"))
		wantStatus(t, r, http.StatusUnprocessableEntity)
		row := regexp.MustCompile(`(?s)<li id="agent-` + tm.bobID + `".*?</li>`).FindString(r.body)
		for _, w := range []string{`<details class="agent-actions" open>`, `aria-describedby="role-` + tm.bobID + `-error"`,
			`<p class="field-error" id="role-` + tm.bobID + `-error">Choose the role agent or admin.</p>`} {
			if !strings.Contains(row, w) {
				t.Errorf("%s: Bob's row lacks %s:\n%s", who.name, w, row)
			}
		}
		if n := strings.Count(r.body, `aria-invalid="true"`); n != 1 {
			t.Errorf("%s: %d fields marked invalid, want 1", who.name, n)
		}
	}
}

// TestHandOverAndRoles: every agent reads the ticket and writes notes; only its assignee (or an
// admin) writes to the customer and reassigns it; a mention puts it in the colleague's
// Mentions view; handing it over moves the composer.
func TestHandOverAndRoles(t *testing.T) {
	tm := newTeam(t)
	// Bob reads Ann's ticket, but may neither write to the customer nor reassign it.
	r := tm.bob.browser.get(tm.talk)
	if !r.has("The invoice is wrong") || r.has(`id="composer"`) || !r.has(`id="assigned-notice"`) || !r.has(`id="note-composer"`) {
		t.Fatalf("Bob's view of Ann's ticket:\n%.3000s", r.body)
	}
	wantStatus(t, tm.bob.browser.post(tm.talk+"/messages", form("message", "Bob butts in")), http.StatusForbidden)
	wantStatus(t, tm.bob.browser.post(tm.action("assign"), form("agent_id", tm.bobID)), http.StatusForbidden)
	wantStatus(t, tm.bob.browser.post(tm.action("engage"), nil), http.StatusForbidden)

	// Bob's note mentions Ann: it is in Ann's Mentions view, and the customer never sees it.
	r = tm.bob.browser.post(tm.talk+"/notes", form("note", "@ann.agent the total misses the discount"), htmx)
	wantStatus(t, r, http.StatusOK)
	if !r.has(`data-sender="note"`) || !r.has("Bob Agent") {
		t.Fatalf("the note's fragment:\n%s", r.body)
	}
	if r := tm.ann.browser.get("/agent/acme/dash?view=mentions"); !r.has(`id="ticket-`+tm.ticket+`"`) || !r.has(`id="count-mentions">1<`) {
		t.Errorf("Ann's Mentions view lacks the ticket:\n%.3000s", r.body)
	}
	if r := tm.bob.browser.get("/agent/acme/dash?view=mentions"); r.has(`id="ticket-` + tm.ticket + `"`) {
		t.Error("Bob's own note put the ticket in his Mentions view")
	}
	for _, hdr := range []map[string]string{nil, htmx} {
		for _, u := range []string{tm.cust.page, tm.cust.page + "/messages?after=0"} {
			if r := tm.cust.browser.get(u, hdr); r.has("discount") || r.has(`data-sender="note"`) || r.has(`data-sender="activity"`) {
				t.Errorf("the customer's %s shows the team's lines:\n%s", u, r.body)
			}
		}
	}

	// Ann hands the ticket to Bob: it leaves her Mine view for his, the composer moves with it,
	// and the handover is an activity line.
	wantRedirect(t, tm.ann.browser.post(tm.action("assign"), form("agent_id", tm.bobID)), tm.talk)
	if r := tm.bob.browser.get("/agent/acme/dash?view=mine"); !regexp.MustCompile(`id="ticket-1"[^>]*data-assignee="` + tm.bobID + `"`).MatchString(r.body) {
		t.Errorf("Bob's Mine view lacks the ticket:\n%.3000s", r.body)
	}
	if r := tm.ann.browser.get("/agent/acme/dash?view=mine"); r.has(`id="ticket-1"`) {
		t.Error("the ticket is still in Ann's Mine view")
	}
	if r := tm.ann.browser.get(tm.talk); r.has(`id="composer"`) || !r.has("Ann Agent assigned the ticket to Bob Agent.") {
		t.Errorf("Ann's view after the handover:\n%.3000s", r.body)
	}
	wantStatus(t, tm.bob.browser.post(tm.talk+"/messages", form("message", "Bob here, fixing it"), htmx), http.StatusOK)

	// Cleo, an admin, writes on Bob's ticket and takes it over; she manages the team, Bob does
	// not.
	wantStatus(t, tm.cle.browser.post(tm.talk+"/messages", form("message", "Cleo checks in"), htmx), http.StatusOK)
	wantRedirect(t, tm.cle.browser.post(tm.action("assign"), form("agent_id", tm.cleID)), tm.talk)
	wantStatus(t, tm.bob.browser.get("/agent/acme/team"), http.StatusForbidden)
	if r := tm.cle.browser.get("/agent/acme/team"); r.status != http.StatusOK || !r.has("Bob Agent") || !r.has(`id="agent-`+tm.bobID+`"`) {
		t.Fatalf("Cleo's team page: %d", r.status)
	}
	wantRedirect(t, tm.cle.browser.post("/agents/"+tm.bobID+"/role", form("role", "admin")), "/agent/acme/team")
	if r := tm.cle.browser.post("/agents/"+tm.bobID+"/role", form("role", "owner")); r.status != http.StatusUnprocessableEntity {
		t.Errorf("an unknown role: status %d, want 422", r.status)
	}
	// Bob is an admin now: the team page opens for him at once.
	wantStatus(t, tm.bob.browser.get("/agent/acme/team"), http.StatusOK)
}

var composerRE = regexp.MustCompile(`(?s)<textarea id="message"[^>]*>(.*?)</textarea>`)

// TestCannedReplies: managers keep them; any agent inserts one without JavaScript (the
// select and Insert, a GET that fills the composer) with its placeholders filled in.
func TestCannedReplies(t *testing.T) {
	tm := newTeam(t)
	tm.acme.browser.get("/dash/canned")
	r := tm.acme.browser.post("/dash/canned", form("title", " ", "body", "x"))
	if r.status != http.StatusUnprocessableEntity || !r.has(`id="title-error"`) {
		t.Fatalf("a canned reply without a title: %d", r.status)
	}
	wantRedirect(t, tm.acme.browser.post("/dash/canned", form("title", "Greeting",
		"body", "Hi {{customer_name}}, {{agent_name}} here about #{{ticket_id}} at {{org_name}}.")), "/dash/canned")
	// An agent without the admin role reads them but manages nothing.
	if r := tm.ann.browser.get("/agent/acme/canned"); r.status != http.StatusOK || !r.has("Greeting") || r.has(`id="canned-form"`) {
		t.Errorf("Ann's canned page: %d", r.status)
	}
	wantStatus(t, tm.ann.browser.post("/agent/acme/canned", form("title", "Mine", "body", "x")), http.StatusForbidden)
	wantStatus(t, tm.ann.browser.post("/agent/acme/canned/1/delete", nil), http.StatusForbidden)

	r = tm.ann.browser.get(tm.talk)
	if !r.has(`id="canned-choice"`) || !r.has(`<option value="1">Greeting</option>`) {
		t.Fatalf("the talk page offers no canned reply:\n%.3000s", r.body)
	}
	r = tm.ann.browser.get(tm.talk + "?canned=1")
	m := composerRE.FindStringSubmatch(r.body)
	if m == nil || html.UnescapeString(m[1]) != "Hi Carla Customer, Ann Agent here about #1 at Acme Inc." {
		t.Fatalf("the composer after Insert holds %q", m)
	}
	// An unknown or foreign id inserts nothing.
	if m := composerRE.FindStringSubmatch(tm.ann.browser.get(tm.talk + "?canned=99").body); m == nil || m[1] != "" {
		t.Errorf("?canned=99 filled the composer with %q", m)
	}
	// Cleo, an admin, deletes it from her own route.
	tm.cle.browser.get("/agent/acme/canned")
	wantRedirect(t, tm.cle.browser.post("/agent/acme/canned/1/delete", nil), "/agent/acme/canned")
	if r := tm.ann.browser.get(tm.talk); r.has(`id="canned-choice"`) {
		t.Error("the deleted canned reply is still offered")
	}
}

var sigRE = regexp.MustCompile(`id="presence" class="presence" data-sig="([0-9a-f]+)"`)

// TestPresenceRidesThePoll: who else is on a ticket's page, and who is writing, reaches the
// others in their next poll — only when it changed — and never the customer.
func TestPresenceRidesThePoll(t *testing.T) {
	tm := newTeam(t)
	last := lastMessageID(t, tm.ann.browser, tm.talk)
	r := tm.ann.browser.get(tm.talk)
	if !r.has("Bob Agent is viewing") || !r.has("Cleo Admin is viewing") {
		t.Fatalf("Ann's page lacks her colleagues' presence:\n%.3000s", r.body)
	}
	sig := sigRE.FindStringSubmatch(r.body)
	if sig == nil {
		t.Fatal("no presence signature")
	}
	poll := tm.talk + "/messages?after=" + last + "&p=" + sig[1]
	wantStatus(t, tm.ann.browser.get(poll, htmx), http.StatusNoContent)

	// Bob starts writing: Ann's next poll carries it out of band.
	wantStatus(t, tm.bob.browser.get(tm.talk+"/messages?after="+last+"&typing=1", htmx), http.StatusNoContent)
	r = tm.ann.browser.get(poll, htmx)
	if r.status != http.StatusOK || !r.has(`hx-swap-oob="true"`) || !r.has("Bob Agent is writing") || len(messageIDs(r.body)) != 0 {
		t.Fatalf("Ann's poll while Bob writes: %d\n%s", r.status, r.body)
	}
	// The customer's page and poll know nothing of it.
	for _, u := range []string{tm.cust.page, tm.cust.page + "/messages?after=0"} {
		if r := tm.cust.browser.get(u, htmx); r.has("presence") || r.has("is writing") || r.has("is viewing") {
			t.Errorf("the customer's %s shows presence", u)
		}
	}
}

// TestSnoozeInTheOrganizationsZone: a snooze time is read in the organization's time zone, the
// ticket moves to the Snoozed view, and a customer's message opens it again.
func TestSnoozeInTheOrganizationsZone(t *testing.T) {
	tm := newTeam(t)
	tm.acme.browser.get("/dash/settings")
	if r := tm.acme.browser.post("/dash/settings", form("time_zone", "Mars/Olympus")); r.status != http.StatusUnprocessableEntity || !r.has(`id="time_zone-error"`) {
		t.Fatalf("an unknown time zone: %d", r.status)
	}
	wantRedirect(t, tm.acme.browser.post("/dash/settings", form("time_zone", "Asia/Tokyo")), "/dash/settings")
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().In(tokyo).Add(48 * time.Hour).Truncate(time.Minute)
	wantRedirect(t, tm.ann.browser.post(tm.action("status"), form("status", "snoozed", "snooze_until", until.Format("2006-01-02T15:04"))), tm.talk)
	r := tm.ann.browser.get("/agent/acme/dash?view=snoozed")
	if !regexp.MustCompile(`id="ticket-1"[^>]*data-status="snoozed"`).MatchString(r.body) || !r.has(until.Format("Mon 2 Jan 2006, 15:04 JST")) ||
		!r.has(`datetime="`+until.UTC().Format(time.RFC3339)+`"`) {
		t.Fatalf("the Snoozed view lacks the ticket at %s:\n%.3000s", until, r.body)
	}
	if r := tm.ann.browser.get(tm.talk); !r.has("snoozed the ticket until " + until.Format("Mon 2 Jan 2006, 15:04 JST")) {
		t.Errorf("no activity line for the snooze:\n%.3000s", r.body)
	}
	// The customer writes: the ticket is open again, with Ann.
	wantStatus(t, tm.cust.browser.post(tm.cust.page+"/messages", form("message", "Any news?")), http.StatusSeeOther)
	r = tm.ann.browser.get("/agent/acme/dash?view=mine")
	if !regexp.MustCompile(`id="ticket-1"[^>]*data-status="open"[^>]*data-assignee="` + tm.annID + `"`).MatchString(r.body) {
		t.Fatalf("the ticket is not open in Ann's Mine view after the customer wrote:\n%.3000s", r.body)
	}
}

// TestContactsGatherTickets: tickets from one email address (in any case) are one contact; the
// ticket page links to the others and the contact page lists them all.
func TestContactsGatherTickets(t *testing.T) {
	tm := newTeam(t)
	second := tm.e.client()
	second.get("/acme/open-ticket")
	wantStatus(t, second.post("/acme/open-ticket", form("customer_name", "Carla C.", "customer_email", "CARLA@example.net",
		"query", "And the delivery is late")), http.StatusSeeOther)
	r := tm.ann.browser.get(tm.talk)
	m := regexp.MustCompile(`/agent/acme/contacts/(\d+)`).FindStringSubmatch(r.body)
	if m == nil || !strings.Contains(r.body, `id="other-tickets"`) || !r.has("And the delivery is late") {
		t.Fatalf("the ticket page lacks the contact's other ticket:\n%.3000s", r.body)
	}
	r = tm.bob.browser.get("/agent/acme/contacts/" + m[1])
	if r.status != http.StatusOK || !r.has(`id="ticket-1"`) || !r.has(`id="ticket-2"`) || !r.has("carla@example.net") {
		t.Fatalf("contact page: %d\n%.3000s", r.status, r.body)
	}
	wantStatus(t, tm.bob.browser.get("/agent/acme/contacts/999"), http.StatusNotFound)
	if r := tm.acme.browser.get("/dash/contacts/" + m[1]); r.status != http.StatusOK || !r.has(`href="/conversation/`) {
		t.Errorf("the owner's contact page: %d", r.status)
	}
}

var liveRE = regexp.MustCompile(`id="queue-live"[^>]*hx-get="([^"]+)"`)

// liveURL is what a dashboard's queue region polls.
func liveURL(t testing.TB, body string) string {
	t.Helper()
	m := liveRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no live queue region:\n%.2000s", body)
	}
	return html.UnescapeString(m[1])
}

// TestQueuePollAnswersOnlyChanges: a dashboard's queue region polls with the version it shows
// and gets 204 until something it shows changed — a new ticket, a customer's message (the
// waiting time moves), a new priority — and then only the region, at the new version.
func TestQueuePollAnswersOnlyChanges(t *testing.T) {
	tm := newTeam(t)
	for _, seat := range []struct {
		name string
		who  *client
		dash string
	}{{"agent", tm.bob.browser, "/agent/acme/dash?view=all"}, {"owner", tm.acme.browser, "/dash"}} {
		live := liveURL(t, seat.who.get(seat.dash).body)
		wantStatus(t, seat.who.get(live, htmx), http.StatusNoContent)
		wantStatus(t, seat.who.get(live, htmx), http.StatusNoContent)
		for _, change := range []struct {
			name string
			do   func()
		}{
			{"a customer's message", func() {
				wantStatus(t, tm.cust.browser.post(tm.cust.page+"/messages", form("message", "Still wrong")), http.StatusSeeOther)
			}},
			{"a new ticket", func() { tm.e.openTicket("acme", "Another question from "+seat.name) }},
			{"a priority change", func() {
				tm.ann.browser.get(tm.talk)
				wantRedirect(t, tm.ann.browser.post(tm.action("priority"), form("priority", map[string]string{"agent": "high", "owner": "urgent"}[seat.name])), tm.talk)
			}},
		} {
			change.do()
			r := seat.who.get(live, htmx)
			if r.status != http.StatusOK || r.has("<html") || !r.has(`id="queue-live"`) {
				t.Fatalf("%s: queue poll after %s: %d\n%.1000s", seat.name, change.name, r.status, r.body)
			}
			next := liveURL(t, r.body)
			if next == live {
				t.Fatalf("%s: the region after %s polls the same version %s", seat.name, change.name, live)
			}
			live = next
			wantStatus(t, seat.who.get(live, htmx), http.StatusNoContent)
		}
	}
}
