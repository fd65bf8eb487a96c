package handlers_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// isoWorld is two tenants with data. alpha has an agent, an admin agent, one assigned
// ticket and a canned reply. beta has three agents and three assigned tickets, canned
// replies, an internal note and an activity line on its target ticket, so that beta's
// newest ids (ticket and conversation 3, agent 3, canned reply 2, contact 2) do not exist in
// alpha at all.
type isoWorld struct {
	e           *env
	alpha, beta org
	betaOrgID   int64
	alphaAgent  agent
	alphaAdmin  agent
	betaAgent   agent // assigned betaConv
	betaOther   agent // a second beta agent (role agent), not assigned betaConv
	alphaCust   customer
	betaCust    customer
	alphaToken  string
	betaToken   string
	alphaConv   string
	betaConv    string
	betaTicket  string
	anon        *client
	betaMsgs    int    // messages in betaConv after setup
	betaAgentID string // beta's third agent, an id no alpha agent has
	betaContact string // Bettina's contact id, which alpha does not have
	api         apiIso // API tokens of both (api_isolation_test.go)
	// betaFile is the file beta's agent sent on the target ticket (id 2, which alpha does not
	// have); betaDecoyFile one on a decoy ticket (id 1, as alpha's only file).
	betaFile, betaDecoyFile string
	// betaMailConv and betaMailFile are the conversation and the file of an email beta
	// received with an attachment (isolation_email_test.go).
	betaMailConv, betaMailFile string
}

// betaSecrets is beta's content: none of it may reach anyone outside beta (alpha's people,
// anonymous visitors, other customers).
var betaSecrets = []string{"Betasecret", "Betadecoy", "beta secret", "beta decoy"}

// betaTeamOnly is what beta's team sees and beta's customer never does: the internal note,
// activity lines, presence.
var betaTeamOnly = []string{"Betanote", `data-sender="note"`, `data-sender="activity"`, "is viewing", "is writing", "internal note"}

// isoOpenTicket opens a ticket at orgName as a customer with the given name.
func isoOpenTicket(e *env, orgName, name, question string) customer {
	e.t.Helper()
	c := customer{browser: e.client()}
	c.browser.get("/" + orgName + "/open-ticket")
	r := c.browser.post("/"+orgName+"/open-ticket", form("customer_name", name,
		"customer_email", strings.ToLower(strings.Fields(name)[0])+"@example.net", "query", question))
	wantStatus(e.t, r, http.StatusSeeOther)
	c.page = r.header.Get("Location")
	if !strings.HasPrefix(c.page, "/customer/"+orgName+"/t/") {
		e.t.Fatalf("ticket page = %q", c.page)
	}
	c.browser.get(c.page)
	return c
}

var closeURLRE = regexp.MustCompile(`/agent/[a-z0-9]+/tickets/(\d+)/close`)

func newIsoWorld(t *testing.T) *isoWorld {
	t.Helper()
	// Email on (the receiver, no SMTP server): its routes answer, and nothing is sent.
	e := startEnv(t, t.TempDir(), testConfig(), mailConfig(t, ""))
	w := &isoWorld{e: e}
	w.alpha = e.register("alpha")
	w.beta = e.register("beta")
	bo, err := e.cat.ByUsername(t.Context(), "beta")
	if err != nil {
		t.Fatal(err)
	}
	w.betaOrgID = bo.ID
	w.alphaAgent = e.onboard(w.alpha, "Alice Alphagent")
	w.alphaAdmin = e.onboard(w.alpha, "Adam Alphadmin")
	w.alpha.browser.get("/dash")
	wantRedirect(t, w.alpha.browser.post("/agents/"+e.agentID("alpha", w.alphaAdmin.email)+"/role", form("role", "admin")), "/dash")
	w.betaAgent = e.onboard(w.beta, "Bruno Betagent")
	w.betaOther = e.onboard(w.beta, "Berta Otheragent")
	third := e.onboard(w.beta, "Bea Thirdagent")

	// Beta: two decoy tickets taken by the other agent first, so the target gets ids 3; a file
	// on the first, so that the target's file gets id 2.
	for i := 1; i <= 2; i++ {
		isoOpenTicket(e, "beta", "Bianca Betadecoy", "beta decoy question "+strconv.Itoa(i))
		decoyTalk := e.engage(w.betaOther)
		if i == 1 {
			wantStatus(t, w.betaOther.browser.postFiles(decoyTalk+"/messages", form("message", "beta decoy file"),
				[]upFile{{"Betadecoy.txt", []byte("beta decoy file content")}}), http.StatusSeeOther)
		}
	}
	w.betaDecoyFile, w.betaFile = "1", "2"
	w.betaCust = isoOpenTicket(e, "beta", "Bettina Betasecret", "beta secret question about invoices")
	talk := e.engage(w.betaAgent)
	w.betaConv = strings.TrimPrefix(talk, "/agent/beta/talk/")
	wantStatus(t, w.betaAgent.browser.post(talk+"/messages", form("message", "beta secret agent reply"), htmx), http.StatusOK)
	r := w.betaAgent.browser.postFiles(talk+"/messages", form("message", "beta secret invoice attached"),
		[]upFile{{"Betasecret-invoice.txt", []byte("beta secret file content")}}, htmx)
	if r.status != http.StatusOK || !r.has(`href="`+talk+`/files/`+w.betaFile+`"`) {
		t.Fatalf("beta's file: %d\n%.1000s", r.status, r.body)
	}
	wantStatus(t, w.betaCust.browser.post(w.betaCust.page+"/messages", form("message", "beta secret customer follow-up")), http.StatusSeeOther)
	// The team's own lines on the target: a colleague's note, a priority change (activity),
	// and the colleague on the page (presence).
	w.betaOther.browser.get(talk)
	wantStatus(t, w.betaOther.browser.post(talk+"/notes", form("note", "Betanote Betasecret: @bruno.betagent check the refund"), htmx), http.StatusOK)
	r = w.betaAgent.browser.get(talk)
	wantStatus(t, r, http.StatusOK)
	m := closeURLRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no close form on beta's talk page:\n%.2000s", r.body)
	}
	w.betaTicket = m[1]
	if m := regexp.MustCompile(`/agent/beta/contacts/(\d+)`).FindStringSubmatch(r.body); m != nil {
		w.betaContact = m[1]
	}
	if w.betaContact == "" || w.betaContact == "1" {
		t.Fatalf("beta's contact id %q: want one alpha does not have", w.betaContact)
	}
	wantRedirect(t, w.betaAgent.browser.post("/agent/beta/tickets/"+w.betaTicket+"/priority", form("priority", "high")), talk)
	r = w.betaAgent.browser.get(talk)
	w.betaMsgs = len(messageIDs(r.body))
	// Canned replies: beta two, alpha one; time zones differ.
	w.beta.browser.get("/dash/canned")
	for _, title := range []string{"Betasecret canned one", "Betasecret canned two"} {
		wantRedirect(t, w.beta.browser.post("/dash/canned", form("title", title, "body", "beta secret answer")), "/dash/canned")
	}
	w.alpha.browser.get("/dash/canned")
	wantRedirect(t, w.alpha.browser.post("/dash/canned", form("title", "Alpha greeting", "body", "Hello from alpha")), "/dash/canned")
	w.alpha.browser.get("/dash/settings")
	wantRedirect(t, w.alpha.browser.post("/dash/settings", form("time_zone", "Asia/Tokyo")), "/dash/settings")

	// Alpha: one ticket, one conversation.
	w.alphaCust = e.openTicket("alpha", "alpha printer question")
	w.alphaCust.browser.get(w.alphaCust.page)
	alphaTalk := e.engage(w.alphaAgent)
	w.alphaConv = strings.TrimPrefix(alphaTalk, "/agent/alpha/talk/")
	wantStatus(t, w.alphaAgent.browser.post(alphaTalk+"/messages", form("message", "alpha agent reply"), htmx), http.StatusOK)
	wantStatus(t, w.alphaAgent.browser.postFiles(alphaTalk+"/messages", nil, []upFile{{"alpha.txt", []byte("alpha file content")}}, htmx), http.StatusOK)

	if w.betaConv == w.alphaConv || w.betaConv == "1" || w.betaTicket == "1" {
		t.Fatalf("beta's ids (conversation %s, ticket %s) also exist in alpha", w.betaConv, w.betaTicket)
	}
	w.betaAgentID = e.agentID("beta", third.email)
	if w.betaAgentID != "3" {
		t.Fatalf("beta's third agent has id %s, want 3 (alpha has agents 1 and 2)", w.betaAgentID)
	}
	w.alphaToken = strings.TrimPrefix(w.alphaCust.page, "/customer/alpha/t/")
	w.betaToken = strings.TrimPrefix(w.betaCust.page, "/customer/beta/t/")

	w.api = newAPIIso(t, w)
	newWebhookIso(t, w)
	isoEmailWorld(t, w)
	w.anon = e.client()
	w.anon.get("/login") // a CSRF token, so that POSTs reach the login check
	// Every browser holds a fresh page's CSRF token.
	w.alpha.browser.get("/dash")
	w.alphaAgent.browser.get("/agent/alpha/dash")
	w.alphaAdmin.browser.get("/agent/alpha/dash")
	w.betaOther.browser.get("/agent/beta/dash")
	return w
}

// isoCase is one request that must be refused (or, for a colleague within beta, answered
// without overreach). Its htmx twin expects the same status, except that a 303 to a login
// page becomes 401 with HX-Redirect.
type isoCase struct {
	name   string
	who    *client
	method string
	route  string // the Fiber route pattern the request exercises
	url    string
	form   url.Values
	want   int
	loc    string // Location (303) or HX-Redirect (htmx 401)
	has    string // text the body must hold (200 rows)
	// mayOpenBeta marks requests that legitimately open beta's database (beta's own agent, or
	// a customer token, which can only be looked up there).
	mayOpenBeta bool
	// insider marks a member of beta's team, who may see beta's content.
	insider bool
	// bearer and json make it an API request: that token, that JSON body (no cookies, no
	// CSRF token; the htmx twin expects the same answer).
	bearer, json string
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// isoCases is the isolation table. w may be empty (route enumeration reads only routes).
func isoCases(w *isoWorld) []isoCase {
	const (
		rOrgConv     = "/conversation/:conversationId"
		rOrgPoll     = "/conversation/:conversationId/messages"
		rOrgNotes    = "/conversation/:conversationId/notes"
		rOrgAction   = "/dash/tickets/:ticketId/"
		rOrgContact  = "/dash/contacts/:contactId"
		rAgentLogin  = "/agent/:org/login"
		rAgentPw     = "/agent/:org/password"
		rAgentDash   = "/agent/:org/dash"
		rTeam        = "/agent/:org/team"
		rEngage      = "/agent/:org/tickets/:ticketId/engage"
		rClose       = "/agent/:org/tickets/:ticketId/close"
		rAction      = "/agent/:org/tickets/:ticketId/"
		rTalk        = "/agent/:org/talk/:conversationId"
		rTalkMsgs    = "/agent/:org/talk/:conversationId/messages"
		rTalkNotes   = "/agent/:org/talk/:conversationId/notes"
		rContact     = "/agent/:org/contacts/:contactId"
		rCanned      = "/agent/:org/canned"
		rCannedDel   = "/agent/:org/canned/:id/delete"
		rCust        = "/customer/:org/t/:token"
		rCustMsgs    = "/customer/:org/t/:token/messages"
		rRating      = "/customer/:org/t/:token/rating"
		rOpenTicket  = "/:org/open-ticket"
		rAgentRemove = "/agents/:agentId/remove"
		rAgentReset  = "/agents/:agentId/reset-password"
		rAgentRole   = "/agents/:agentId/role"
		rOrgCanned   = "/dash/canned"
		rOrgCanDel   = "/dash/canned/:id/delete"
		rSettings    = "/dash/settings"
		rReports     = "/dash/reports"
		rSettingsSLA = "/dash/settings/sla"
		rReportsCSV  = "/dash/reports.csv"
		rOrgPassword = "/dash/password"
		rOrgSearch   = "/dash/search"
		rSearch      = "/agent/:org/search"
		rOrgFiles    = "/conversation/:conversationId/files/:fileId"
		rFiles       = "/agent/:org/talk/:conversationId/files/:fileId"
		rCustFiles   = "/customer/:org/t/:token/files/:fileId"
		get, post    = http.MethodGet, http.MethodPost
		betaLogin    = "/agent/beta/login"
		orgLoginPage = "/login"
		betaCanned   = "2" // alpha has canned reply 1 only
	)
	var (
		alpha, alphaAgent, alphaAdmin, betaOther, alphaCust, anon *client
		betaOrgID                                                 string
	)
	if w.e != nil {
		alpha, alphaAgent, alphaAdmin, betaOther = w.alpha.browser, w.alphaAgent.browser, w.alphaAdmin.browser, w.betaOther.browser
		alphaCust, anon = w.alphaCust.browser, w.anon
		betaOrgID = strconv.FormatInt(w.betaOrgID, 10)
	}
	bc, bt, betaContact, bf := w.betaConv, w.betaTicket, w.betaContact, w.betaFile
	// Every form also names beta and a beta agent, which must choose nothing.
	msg := form("message", "intrusion attempt", "note", "intrusion attempt", "org", "beta", "org_id", betaOrgID,
		"agent_id", "1", "status", "closed", "priority", "urgent", "tags", "intrusion", "title", "intrusion",
		"body", "intrusion attempt", "role", "admin", "time_zone", "Pacific/Chatham")
	var cases []isoCase
	add := func(c isoCase) { cases = append(cases, c) }
	actions := []string{"assign", "status", "priority", "tags", "close", "access"}

	// alpha's organization session against beta's ids and beta's routes.
	add(isoCase{name: "alpha org: beta conversation", who: alpha, method: get, route: rOrgConv, url: "/conversation/" + bc, want: 404})
	add(isoCase{name: "alpha org: beta conversation, org_id in query", who: alpha, method: get, route: rOrgConv,
		url: "/conversation/" + bc + "?org=beta&org_id=" + betaOrgID, want: 404})
	add(isoCase{name: "alpha org: beta conversation poll", who: alpha, method: get, route: rOrgPoll, url: "/conversation/" + bc + "/messages?after=0", want: 404})
	add(isoCase{name: "alpha org: beta conversation send", who: alpha, method: post, route: rOrgPoll, url: "/conversation/" + bc + "/messages", form: msg, want: 404})
	add(isoCase{name: "alpha org: beta conversation note", who: alpha, method: post, route: rOrgNotes, url: "/conversation/" + bc + "/notes", form: msg, want: 404})
	for _, a := range actions {
		add(isoCase{name: "alpha org: beta ticket " + a, who: alpha, method: post, route: rOrgAction + a, url: "/dash/tickets/" + bt + "/" + a, form: msg, want: 404})
	}
	add(isoCase{name: "alpha org: beta contact", who: alpha, method: get, route: rOrgContact, url: "/dash/contacts/" + betaContact, want: 404})
	// Files: beta's file id under beta's conversation id, under alpha's own conversation, and
	// alpha's own file under beta's conversation id reach nothing; alpha's own file is served.
	add(isoCase{name: "alpha org: beta file", who: alpha, method: get, route: rOrgFiles, url: "/conversation/" + bc + "/files/" + bf, want: 404})
	add(isoCase{name: "alpha org: beta file id in alpha's conversation", who: alpha, method: get, route: rOrgFiles, url: "/conversation/1/files/" + bf, want: 404})
	add(isoCase{name: "alpha org: alpha file under beta's conversation id", who: alpha, method: get, route: rOrgFiles, url: "/conversation/" + bc + "/files/1", want: 404})
	add(isoCase{name: "alpha org: own file, beta named in query", who: alpha, method: get, route: rOrgFiles,
		url: "/conversation/1/files/1?org=beta&org_id=" + betaOrgID, want: 200, has: "alpha file content"})
	// Search: beta's words and beta's ticket number find nothing of beta's (alpha's ticket 1
	// is alpha's own).
	add(isoCase{name: "alpha org: search for beta's words", who: alpha, method: get, route: rOrgSearch,
		url: "/dash/search?q=Bettina+invoices&org=beta&org_id=" + betaOrgID, want: 200, has: `id="search-empty"`})
	add(isoCase{name: "alpha org: search for beta's ticket number", who: alpha, method: get, route: rOrgSearch,
		url: "/dash/search?q=%23" + bt, want: 200, has: `id="search-empty"`})
	add(isoCase{name: "alpha org: search with beta's assignee id", who: alpha, method: get, route: rOrgSearch,
		url: "/dash/search?q=alpha&assignee=" + w.betaAgentID, want: 200, has: "alpha printer question"})
	add(isoCase{name: "alpha org: beta canned reply delete", who: alpha, method: post, route: rOrgCanDel, url: "/dash/canned/" + betaCanned + "/delete", form: msg, want: 404})
	add(isoCase{name: "alpha org: canned with org=beta", who: alpha, method: get, route: rOrgCanned,
		url: "/dash/canned?org=beta&org_id=" + betaOrgID, want: 200, has: "Alpha greeting"})
	add(isoCase{name: "alpha org: audit log with org=beta and beta's agent", who: alpha, method: get, route: "/dash/audit",
		url: "/dash/audit?org=beta&org_id=" + betaOrgID + "&actor=" + w.betaAgentID, want: 200, has: `id="audit-empty"`})
	add(isoCase{name: "alpha org: settings with org=beta", who: alpha, method: get, route: rSettings,
		url: "/dash/settings?org=beta&org_id=" + betaOrgID, want: 200, has: "Asia/Tokyo"})
	// Reports are the session's organization's: beta named anywhere counts nothing of beta's
	// (beta's agents, who closed and answered its tickets, are not in alpha's tables).
	for _, who := range []struct {
		name string
		c    *client
	}{{"alpha org", alpha}, {"alpha admin", alphaAdmin}} {
		add(isoCase{name: who.name + ": reports with org=beta", who: who.c, method: get, route: rReports,
			url: "/dash/reports?preset=90d&org=beta&org_id=" + betaOrgID, want: 200, has: "Alice Alphagent"})
		add(isoCase{name: who.name + ": reports CSV with org=beta", who: who.c, method: get, route: rReportsCSV,
			url: "/dash/reports.csv?org=beta&org_id=" + betaOrgID, want: 200, has: "Alice Alphagent"})
		// Refused (no hours mode): the form again, with alpha's time zone, beta's untouched.
		add(isoCase{name: who.name + ": service levels with org=beta", who: who.c, method: post, route: rSettingsSLA,
			url: "/dash/settings/sla?org=beta", form: msg, want: 422, has: "Asia/Tokyo"})
	}
	add(isoCase{name: "alpha org: own conversation 1, beta named in query", who: alpha, method: get, route: rOrgConv,
		url: "/conversation/1?org=beta&org_id=" + betaOrgID, want: 200, has: "alpha printer question"})
	add(isoCase{name: "alpha org: own poll, beta named in query", who: alpha, method: get, route: rOrgPoll,
		url: "/conversation/1/messages?after=0&org=beta&org_id=" + betaOrgID, want: 200, has: "alpha printer question"})
	add(isoCase{name: "alpha org: own contact 1, beta named in query", who: alpha, method: get, route: rOrgContact,
		url: "/dash/contacts/1?org=beta&org_id=" + betaOrgID, want: 200, has: "alpha printer question"})
	add(isoCase{name: "alpha org: dash with org=beta", who: alpha, method: get, route: "/dash",
		url: "/dash?org=beta&org_id=" + betaOrgID, want: 200, has: "alpha printer question"})
	add(isoCase{name: "alpha org: export with org=beta", who: alpha, method: get, route: "/dash/export",
		url: "/dash/export?org=beta&org_id=" + betaOrgID, want: 200, has: "alpha printer question"})
	add(isoCase{name: "alpha org: delete with confirm_name=beta", who: alpha, method: post, route: "/dash/delete", url: "/dash/delete",
		form: form("confirm_name", "beta", "password", w.alpha.password, "org", "beta", "org_id", betaOrgID), want: 422})
	// Agent administration: beta's agent id does not exist at alpha; org fields choose nothing.
	for _, who := range []struct {
		name string
		c    *client
	}{{"alpha org", alpha}, {"alpha admin", alphaAdmin}} {
		add(isoCase{name: who.name + ": remove beta's agent id", who: who.c, method: post, route: rAgentRemove,
			url: "/agents/" + w.betaAgentID + "/remove", form: form("org", "beta", "org_id", betaOrgID), want: 404})
		add(isoCase{name: who.name + ": reset beta's agent id", who: who.c, method: post, route: rAgentReset,
			url: "/agents/" + w.betaAgentID + "/reset-password?org=beta", form: form("org", "beta", "org_id", betaOrgID), want: 404})
		add(isoCase{name: who.name + ": role of beta's agent id", who: who.c, method: post, route: rAgentRole,
			url: "/agents/" + w.betaAgentID + "/role", form: msg, want: 404})
		add(isoCase{name: who.name + ": guessed agent id", who: who.c, method: post, route: rAgentRemove, url: "/agents/987654/remove", want: 404})
	}
	add(isoCase{name: "alpha admin: beta canned reply delete at alpha", who: alphaAdmin, method: post, route: rCannedDel,
		url: "/agent/alpha/canned/" + betaCanned + "/delete", form: msg, want: 404})
	add(isoCase{name: "alpha admin: team page with org=beta", who: alphaAdmin, method: get, route: rTeam,
		url: "/agent/alpha/team?org=beta&org_id=" + betaOrgID, want: 200, has: "Alice Alphagent"})
	add(isoCase{name: "alpha org: password form with org=beta", who: alpha, method: get, route: rOrgPassword,
		url: "/dash/password?org=beta&org_id=" + betaOrgID, want: 200, has: "Change your password"})
	add(isoCase{name: "alpha org: password change with beta's password", who: alpha, method: post, route: rOrgPassword, url: "/dash/password",
		form: form("current_password", w.beta.password, "password", "taken over password", "password_repeat", "taken over password",
			"org", "beta", "org_id", betaOrgID), want: 401})

	// beta's agent routes, as anyone but a beta agent: the way to beta's agent login.
	betaRoutes := []struct{ method, route, url string }{
		{get, rAgentDash, "/agent/beta/dash"},
		{get, rAgentPw, "/agent/beta/password"},
		{post, rAgentPw, "/agent/beta/password"},
		{get, rTeam, "/agent/beta/team"},
		{get, rTalk, "/agent/beta/talk/" + bc},
		{get, rTalkMsgs, "/agent/beta/talk/" + bc + "/messages?after=0"},
		{post, rTalkMsgs, "/agent/beta/talk/" + bc + "/messages"},
		{post, rTalkNotes, "/agent/beta/talk/" + bc + "/notes"},
		{post, rEngage, "/agent/beta/tickets/" + bt + "/engage"},
		{get, rContact, "/agent/beta/contacts/" + betaContact},
		{get, rSearch, "/agent/beta/search?q=Betasecret"},
		{get, rFiles, "/agent/beta/talk/" + bc + "/files/" + bf},
		{get, rCanned, "/agent/beta/canned"},
		{post, rCanned, "/agent/beta/canned"},
		{post, rCannedDel, "/agent/beta/canned/1/delete"},
	}
	for _, a := range actions {
		betaRoutes = append(betaRoutes, struct{ method, route, url string }{post, rAction + a, "/agent/beta/tickets/" + bt + "/" + a})
	}
	for _, r := range betaRoutes {
		f := msg
		if r.route == rAgentPw {
			f = form("password", "hijacked password 1", "password_repeat", "hijacked password 1")
		}
		add(isoCase{name: "alpha org: " + r.method + " " + r.url, who: alpha, method: r.method, route: r.route, url: r.url, form: f, want: 303, loc: betaLogin})
		add(isoCase{name: "alpha agent: " + r.method + " " + r.url, who: alphaAgent, method: r.method, route: r.route, url: r.url, form: f, want: 303, loc: betaLogin})
		add(isoCase{name: "alpha admin: " + r.method + " " + r.url, who: alphaAdmin, method: r.method, route: r.route, url: r.url, form: f, want: 303, loc: betaLogin})
		add(isoCase{name: "anonymous: " + r.method + " " + r.url, who: anon, method: r.method, route: r.route, url: r.url, form: f, want: 303, loc: betaLogin})
	}

	// alpha's agents with beta's ids on alpha's own routes: they do not exist there.
	for _, who := range []struct {
		name string
		c    *client
	}{{"alpha agent", alphaAgent}, {"alpha admin", alphaAdmin}} {
		add(isoCase{name: who.name + ": beta conversation id at alpha", who: who.c, method: get, route: rTalk, url: "/agent/alpha/talk/" + bc, want: 404})
		add(isoCase{name: who.name + ": beta conversation id poll at alpha", who: who.c, method: get, route: rTalkMsgs, url: "/agent/alpha/talk/" + bc + "/messages?after=0", want: 404})
		add(isoCase{name: who.name + ": beta conversation id send at alpha", who: who.c, method: post, route: rTalkMsgs, url: "/agent/alpha/talk/" + bc + "/messages", form: msg, want: 404})
		add(isoCase{name: who.name + ": beta conversation id note at alpha", who: who.c, method: post, route: rTalkNotes, url: "/agent/alpha/talk/" + bc + "/notes", form: msg, want: 404})
		add(isoCase{name: who.name + ": beta ticket id engage at alpha", who: who.c, method: post, route: rEngage, url: "/agent/alpha/tickets/" + bt + "/engage", form: msg, want: 404})
		add(isoCase{name: who.name + ": beta contact id at alpha", who: who.c, method: get, route: rContact, url: "/agent/alpha/contacts/" + betaContact, want: 404})
		add(isoCase{name: who.name + ": beta file at alpha", who: who.c, method: get, route: rFiles, url: "/agent/alpha/talk/" + bc + "/files/" + bf, want: 404})
		add(isoCase{name: who.name + ": beta file id in alpha's conversation", who: who.c, method: get, route: rFiles, url: "/agent/alpha/talk/1/files/" + bf, want: 404})
		add(isoCase{name: who.name + ": own file", who: who.c, method: get, route: rFiles, url: "/agent/alpha/talk/1/files/1", want: 200, has: "alpha file content"})
		add(isoCase{name: who.name + ": search for beta's words at alpha", who: who.c, method: get, route: rSearch,
			url: "/agent/alpha/search?q=Bettina+refund&org=beta&org_id=" + betaOrgID, want: 200, has: `id="search-empty"`})
		add(isoCase{name: who.name + ": search for beta's ticket number at alpha", who: who.c, method: get, route: rSearch,
			url: "/agent/alpha/search?q=%23" + bt, want: 200, has: `id="search-empty"`})
		for _, a := range actions {
			add(isoCase{name: who.name + ": beta ticket id " + a + " at alpha", who: who.c, method: post, route: rAction + a, url: "/agent/alpha/tickets/" + bt + "/" + a, form: msg, want: 404})
		}
	}
	// An agent is not an organization.
	add(isoCase{name: "alpha agent: org conversation page", who: alphaAgent, method: get, route: rOrgConv, url: "/conversation/" + bc, want: 303, loc: orgLoginPage})
	add(isoCase{name: "alpha agent: org poll", who: alphaAgent, method: get, route: rOrgPoll, url: "/conversation/" + bc + "/messages?after=0", want: 303, loc: orgLoginPage})

	// A colleague within beta (role agent, not assigned the ticket) reads everything of the
	// team but neither writes to the customer on it, nor takes or reassigns it, nor manages.
	for _, r := range []struct {
		method, route, url string
		want               int
	}{
		{get, rTalk, "/agent/beta/talk/" + bc, 200},
		{get, rTalkMsgs, "/agent/beta/talk/" + bc + "/messages?after=0", 200},
		{get, rContact, "/agent/beta/contacts/" + betaContact, 200},
		{get, rCanned, "/agent/beta/canned", 200},
		{get, rSearch, "/agent/beta/search?q=Betanote", 200},
		{get, rFiles, "/agent/beta/talk/" + bc + "/files/" + bf, 200},
		{get, rFiles, "/agent/beta/talk/" + bc + "/files/" + w.betaDecoyFile, 404}, // a file of another ticket
		{post, rTalkMsgs, "/agent/beta/talk/" + bc + "/messages", 403},
		{post, rEngage, "/agent/beta/tickets/" + bt + "/engage", 403},
		{post, rAction + "assign", "/agent/beta/tickets/" + bt + "/assign", 403},
		{get, rTeam, "/agent/beta/team", 403},
		{post, rCanned, "/agent/beta/canned", 403},
		{post, rCannedDel, "/agent/beta/canned/1/delete", 403},
		{post, rAgentRole, "/agents/" + w.betaAgentID + "/role", 403},
		{post, rAgentRemove, "/agents/" + w.betaAgentID + "/remove", 403},
		{get, rOrgCanned, "/dash/canned", 403},
		{get, rSettings, "/dash/settings", 403},
		{get, rReports, "/dash/reports", 403},
		{get, rReportsCSV, "/dash/reports.csv", 403},
		{post, rSettingsSLA, "/dash/settings/sla", 403},
	} {
		f := form("message", "intrusion attempt", "agent_id", strconv.Itoa(2), "role", "admin", "title", "intrusion", "body", "intrusion")
		add(isoCase{name: "other beta agent: " + r.method + " " + r.url, who: betaOther, method: r.method, route: r.route, url: r.url,
			form: f, want: r.want, mayOpenBeta: true, insider: true})
	}

	// Customer tokens: alpha's token on beta, beta's token on alpha, a guessed token and
	// malformed ones, on every customer route.
	tokens := []struct {
		name, org, token string
		opensBeta        bool
	}{
		{"alpha token at beta", "beta", w.alphaToken, true},
		{"beta token at alpha", "alpha", w.betaToken, false},
		{"guessed token at beta", "beta", randomToken(), true},
		{"beta token at unknown org", "nope", w.betaToken, false},
		{"short token", "beta", "abc", false},
		{"42-char token", "beta", strings.Repeat("A", 42), false},
		{"44-char token", "beta", strings.Repeat("A", 44), false},
		{"padded token", "beta", strings.Repeat("A", 42) + "=", false},
		{"dotted token", "beta", strings.Repeat("A", 41) + "..", false},
		{"encoded traversal token", "beta", "..%2F..%2Fcatalog" + strings.Repeat("A", 26), false},
	}
	for _, tk := range tokens {
		if w.e != nil && tk.token == "" {
			panic("empty token in isolation table")
		}
		base := "/customer/" + tk.org + "/t/" + tk.token
		add(isoCase{name: tk.name + ": page", who: alphaCust, method: get, route: rCust, url: base, want: 404, mayOpenBeta: tk.opensBeta})
		add(isoCase{name: tk.name + ": poll", who: alphaCust, method: get, route: rCustMsgs, url: base + "/messages?after=0", want: 404, mayOpenBeta: tk.opensBeta})
		add(isoCase{name: tk.name + ": send", who: alphaCust, method: post, route: rCustMsgs, url: base + "/messages", form: msg, want: 404, mayOpenBeta: tk.opensBeta})
		add(isoCase{name: tk.name + ": rating", who: alphaCust, method: post, route: rRating, url: base + "/rating", form: form("rating", "1"), want: 404, mayOpenBeta: tk.opensBeta})
		add(isoCase{name: tk.name + ": file", who: alphaCust, method: get, route: rCustFiles, url: base + "/files/" + bf, want: 404, mayOpenBeta: tk.opensBeta})
		add(isoCase{name: tk.name + ": file 1", who: alphaCust, method: get, route: rCustFiles, url: base + "/files/1", want: 404, mayOpenBeta: tk.opensBeta})
	}

	// Beta's customer gets its ticket's file, never one of another ticket of beta's.
	var betaCust *client
	if w.e != nil {
		betaCust = w.betaCust.browser
	}
	add(isoCase{name: "beta customer: own file", who: betaCust, method: get, route: rCustFiles,
		url: w.betaCust.page + "/files/" + bf, want: 200, has: "beta secret file content", mayOpenBeta: true, insider: true})
	add(isoCase{name: "beta customer: another ticket's file", who: betaCust, method: get, route: rCustFiles,
		url: w.betaCust.page + "/files/" + w.betaDecoyFile, want: 404, mayOpenBeta: true})

	// Unknown organizations are 404 before any login check or database.
	for _, r := range []struct{ method, route, url string }{
		{get, rAgentLogin, "/agent/nope/login"},
		{post, rAgentLogin, "/agent/nope/login"},
		{get, rAgentDash, "/agent/nope/dash"},
		{get, rOpenTicket, "/nope/open-ticket"},
		{post, rOpenTicket, "/nope/open-ticket"},
		{get, rOpenTicket, "/BETA/open-ticket"},
	} {
		add(isoCase{name: "unknown org: " + r.method + " " + r.url, who: alpha, method: r.method, route: r.route, url: r.url,
			form: form("email", "x@example.com", "password", "whatever password"), want: 404})
	}

	// No credentials at all, and an agent on what only the organization (or a manager) does.
	ownerRoutes := []struct {
		method, route, url string
		manager            bool // the owner and admin agents
	}{
		{get, "/dash", "/dash", false},
		{get, "/dash/export", "/dash/export", false},
		{post, "/dash/delete", "/dash/delete", false},
		{get, rOrgConv, "/conversation/" + bc, false},
		{get, rOrgPoll, "/conversation/" + bc + "/messages?after=0", false},
		{post, rOrgPoll, "/conversation/" + bc + "/messages", false},
		{post, rOrgNotes, "/conversation/" + bc + "/notes", false},
		{get, rOrgContact, "/dash/contacts/" + betaContact, false},
		{get, rOrgSearch, "/dash/search?q=Betasecret", false},
		{get, rOrgFiles, "/conversation/" + bc + "/files/" + bf, false},
		{get, rOrgPassword, "/dash/password", false},
		{post, rOrgPassword, "/dash/password", false},
		{post, "/agents", "/agents", true},
		{post, rAgentRemove, "/agents/" + w.betaAgentID + "/remove", true},
		{post, rAgentReset, "/agents/" + w.betaAgentID + "/reset-password", true},
		{post, rAgentRole, "/agents/" + w.betaAgentID + "/role", true},
		{get, rOrgCanned, "/dash/canned", true},
		{post, rOrgCanned, "/dash/canned", true},
		{post, rOrgCanDel, "/dash/canned/" + betaCanned + "/delete", true},
		{get, rSettings, "/dash/settings", true},
		{post, rSettings, "/dash/settings", true},
		{get, "/dash/audit", "/dash/audit", true},
		{get, rReports, "/dash/reports?preset=7d", true},
		{post, rSettingsSLA, "/dash/settings/sla", true},
		{get, rReportsCSV, "/dash/reports.csv?preset=7d", true},
	}
	for _, a := range actions {
		ownerRoutes = append(ownerRoutes, struct {
			method, route, url string
			manager            bool
		}{post, rOrgAction + a, "/dash/tickets/" + bt + "/" + a, false})
	}
	for _, r := range ownerRoutes {
		f := form("full_name", "Mallory", "email", "mallory@example.com", "confirm_name", "beta",
			"current_password", "guess", "password", "taken over password", "password_repeat", "taken over password")
		for k, v := range msg {
			f[k] = v
		}
		add(isoCase{name: "anonymous: " + r.method + " " + r.url, who: anon, method: r.method, route: r.route, url: r.url,
			form: f, want: 303, loc: orgLoginPage})
		// An agent is not its organization; without the admin role it manages nothing.
		if r.manager {
			add(isoCase{name: "alpha agent: " + r.method + " " + r.url, who: alphaAgent, method: r.method, route: r.route, url: r.url,
				form: f, want: 403})
		} else {
			add(isoCase{name: "alpha agent: " + r.method + " " + r.url, who: alphaAgent, method: r.method, route: r.route, url: r.url,
				form: f, want: 303, loc: orgLoginPage})
			add(isoCase{name: "alpha admin: " + r.method + " " + r.url, who: alphaAdmin, method: r.method, route: r.route, url: r.url,
				form: f, want: 303, loc: orgLoginPage})
		}
	}
	cases = append(cases, webhookIsoCases(w)...)
	cases = append(cases, apiIsoCases(w)...)
	return append(cases, isoEmailCases(w)...)
}

// run performs c (as htmx when hx) and checks the answer.
func (c isoCase) run(t *testing.T, hx bool) {
	t.Helper()
	var hdr map[string]string
	if hx {
		hdr = htmx
	}
	// A poll skips the CSRF middleware, so its full-page error carries an empty token: keep
	// the browser's token as a real page would.
	token := c.who.csrf
	defer func() {
		if c.who.csrf == "" {
			c.who.csrf = token
		}
	}()
	var r response
	if c.bearer != "" || c.json != "" {
		var body any
		if c.json != "" {
			body = c.json
		}
		r = c.who.e.apiCall(c.bearer, c.method, c.url, body)
	} else if c.method == http.MethodPost {
		f := url.Values{}
		for k, v := range c.form {
			f[k] = v
		}
		r = c.who.post(c.url, f, hdr)
	} else {
		r = c.who.get(c.url, hdr)
	}
	want := c.want
	if hx && want == http.StatusSeeOther {
		want = http.StatusUnauthorized
	}
	if r.status != want {
		t.Errorf("%s (htmx %v): status %d, want %d; body:\n%.300s", c.name, hx, r.status, want, r.body)
		return
	}
	switch {
	case want == http.StatusSeeOther:
		if got := r.header.Get("Location"); got != c.loc {
			t.Errorf("%s: Location = %q, want %q", c.name, got, c.loc)
		}
	case hx && c.want == http.StatusSeeOther:
		if got := r.header.Get("HX-Redirect"); got != c.loc {
			t.Errorf("%s (htmx): HX-Redirect = %q, want %q", c.name, got, c.loc)
		}
	}
	if c.has != "" && !r.has(c.has) {
		t.Errorf("%s (htmx %v): body lacks %q", c.name, hx, c.has)
	}
	if c.insider {
		return
	}
	for _, s := range betaSecrets {
		if r.has(s) {
			t.Errorf("%s (htmx %v): body contains beta's %q", c.name, hx, s)
		}
	}
}

// TestTenantIsolation requests every tenant route as the wrong tenant, the wrong agent, the
// wrong token and nobody (ASVS 8.2.2, 8.4.1).
func TestTenantIsolation(t *testing.T) {
	w := newIsoWorld(t)
	cases := isoCases(w)
	for _, c := range cases {
		c.run(t, false)
		c.run(t, true)
	}

	// Nothing of the above changed beta: its conversation has the same messages, is still
	// open, and both organizations still exist.
	r := w.betaAgent.browser.get("/agent/beta/talk/" + w.betaConv)
	wantStatus(t, r, http.StatusOK)
	if got := len(messageIDs(r.body)); got != w.betaMsgs || r.has("intrusion") {
		t.Errorf("beta's conversation has %d messages (want %d), intrusion text present: %v", got, w.betaMsgs, r.has("intrusion"))
	}
	if r.has("This ticket is closed") {
		t.Error("beta's ticket was closed by someone else")
	}
	if r := w.betaCust.browser.get(w.betaCust.page); r.status != http.StatusOK || r.has("intrusion") {
		t.Errorf("beta's customer page: status %d, intrusion present %v", r.status, r.has("intrusion"))
	}
	// The team sees its note and activity; the customer never does, on the page or in a poll.
	if r := w.betaOther.browser.get("/agent/beta/talk/" + w.betaConv); !r.has("Betanote") || !r.has(`data-sender="activity"`) {
		t.Errorf("beta's colleague does not see the note and the activity line:\n%.3000s", r.body)
	}
	w.betaOther.browser.get("/agent/beta/talk/"+w.betaConv+"/messages?after=0", htmx) // present on the page
	for _, u := range []string{w.betaCust.page, w.betaCust.page + "/messages?after=0"} {
		for _, hdr := range []map[string]string{nil, htmx} {
			r := w.betaCust.browser.get(u, hdr)
			if !r.has("beta secret agent reply") {
				t.Errorf("%s (htmx %v) lacks the agent's reply: status %d", u, hdr != nil, r.status)
			}
			for _, s := range betaTeamOnly {
				if r.has(s) {
					t.Errorf("%s (htmx %v) shows the customer %q", u, hdr != nil, s)
				}
			}
		}
	}
	for _, name := range []string{"alpha", "beta"} {
		if _, err := w.e.cat.ByUsername(t.Context(), name); err != nil {
			t.Errorf("organization %s after the table: %v", name, err)
		}
	}
	// The agents' passwords are unchanged: they log in again with them.
	for _, a := range []agent{w.betaAgent, w.betaOther} {
		c := w.e.client()
		c.get("/agent/beta/login")
		wantRedirect(t, c.post("/agent/beta/login", form("email", a.email, "password", a.password)), "/agent/beta/dash")
	}
}

// TestTenantIsolationNeverOpensOtherDatabase: after a restart nothing is open; alpha's
// sessions and anonymous requests against beta's routes and ids never open beta's database.
// (Customer token routes are left out: a token can only be looked up in its tenant's
// database, so asking /customer/beta/t/… opens beta by design.)
func TestTenantIsolationNeverOpensOtherDatabase(t *testing.T) {
	w := newIsoWorld(t)
	e2 := w.e.restart()
	for _, c := range []*client{w.alpha.browser, w.alphaAgent.browser, w.alphaAdmin.browser, w.betaOther.browser, w.alphaCust.browser, w.anon} {
		c.on(e2)
	}
	w.e = e2
	if e2.reg.IsOpen("tenantdesk-beta") || e2.reg.IsOpen("tenantdesk-alpha") {
		t.Fatal("a tenant database is open right after the restart")
	}
	n := 0
	for _, c := range isoCases(w) {
		if c.mayOpenBeta {
			continue
		}
		c.run(t, false)
		c.run(t, true)
		n++
		if e2.reg.IsOpen("tenantdesk-beta") {
			t.Fatalf("%s opened beta's database", c.name)
		}
	}
	if n < 40 {
		t.Fatalf("only %d requests ran", n)
	}
	if !e2.reg.IsOpen("tenantdesk-alpha") {
		t.Error("alpha's database is not open after alpha's own requests: IsOpen proves nothing")
	}
}

// TestOrgFieldsIgnored: org/org_id in a form never choose the tenant; the session does.
func TestOrgFieldsIgnored(t *testing.T) {
	w := newIsoWorld(t)
	id := strconv.FormatInt(w.betaOrgID, 10)
	r := w.alpha.browser.post("/agents?org=beta&org_id="+id, form("full_name", "Gus Guest", "email", "gus@guest.example",
		"org", "beta", "org_id", id, "username", "beta"))
	wantStatus(t, r, http.StatusOK)
	if !r.has(`id="agent-initial-password"`) {
		t.Fatalf("onboarding answered without the initial password:\n%.1500s", r.body)
	}
	if r := w.alpha.browser.get("/dash"); !r.has("gus@guest.example") {
		t.Error("the agent is not on alpha's dashboard")
	}
	if r := w.beta.browser.get("/dash"); r.status != http.StatusOK || r.has("gus@guest.example") {
		t.Errorf("beta's dashboard (status %d) lists alpha's new agent", r.status)
	}

	// A ticket opened at alpha with org=beta fields stays at alpha.
	c := w.e.client()
	c.get("/alpha/open-ticket")
	r = c.post("/alpha/open-ticket?org=beta", form("customer_name", "Olga Orgfield", "customer_email", "olga@example.net",
		"query", "which tenant am I in", "org", "beta", "org_id", id))
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); !strings.HasPrefix(loc, "/customer/alpha/t/") {
		t.Fatalf("ticket page = %q, want alpha's", loc)
	}
	if r := w.alpha.browser.get("/dash"); !r.has("Olga Orgfield") {
		t.Error("the ticket is not on alpha's dashboard")
	}
	if r := w.beta.browser.get("/dash"); r.has("Olga Orgfield") {
		t.Error("beta's dashboard lists a ticket opened at alpha")
	}
}

// isoPublicRoutes need no isolation case: they name no tenant resource.
var isoPublicRoutes = map[string]string{
	"GET /":          "lists organizations, public",
	"GET /register":  "public form",
	"POST /register": "creates a new tenant; covered in security_test.go",
	"GET /login":     "public form",
	"POST /login":    "credentials only; covered in security_test.go",
	"POST /logout":   "ends the caller's own session only",
	"GET /healthz":   "probe",
	"GET /readyz":    "probe",
}

// TestEveryRouteHasIsolationCase fails when a route is added without a row in isoCases (or a
// reason in isoPublicRoutes).
func TestEveryRouteHasIsolationCase(t *testing.T) {
	e := newEnv(t)
	covered := map[string]bool{}
	for _, c := range isoCases(&isoWorld{}) {
		covered[c.method+" "+c.route] = true
	}
	var missing []string
	seen := map[string]bool{}
	for _, r := range e.app.GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == "USE" || strings.HasPrefix(r.Path, "/assets") {
			continue
		}
		key := r.Method + " " + r.Path
		if seen[key] {
			continue
		}
		seen[key] = true
		if !covered[key] && isoPublicRoutes[key] == "" {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("routes without an isolation case: %v", missing)
	}
	if len(seen) < 20 {
		t.Errorf("only %d routes registered: %v", len(seen), seen)
	}
	// And every row names a registered route, so a renamed route cannot leave dead rows.
	for key := range covered {
		if !seen[key] {
			t.Errorf("isolation case for %s, which is not registered", key)
		}
	}
}
