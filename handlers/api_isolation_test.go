package handlers_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// apiIso is the API tokens of the isolation world: alpha's (the organization's, and its
// admin's acting as the admin), beta's (one live, one revoked), and tokens that were never
// made here or name another organization.
type apiIso struct {
	alpha, alphaAdmin, beta, betaRevoked string
	// forgedBeta names beta with a tag this server never made; swapped is beta's live token
	// with alpha's organization id in it.
	forgedBeta, swapped string
}

func newAPIIso(t *testing.T, w *isoWorld) apiIso {
	t.Helper()
	e := w.e
	var k apiIso
	k.alpha = e.apiToken(w.alpha.browser, "alpha sync", "")
	k.alphaAdmin = e.apiToken(w.alphaAdmin.browser, "alpha admin bot", e.agentID("alpha", w.alphaAdmin.email))
	// Beta's token ids run to 3; alpha's stop at 2.
	e.apiToken(w.beta.browser, "beta spare", "")
	k.beta = e.apiToken(w.beta.browser, "beta sync", "")
	k.betaRevoked = e.apiToken(w.beta.browser, "beta old", "")
	wantRedirect(t, w.beta.browser.post("/dash/api/3/revoke", nil), "/dash/api")
	alphaOrg, err := e.cat.ByUsername(t.Context(), "alpha")
	if err != nil {
		t.Fatal(err)
	}
	betaID, alphaID := strconv.FormatInt(w.betaOrgID, 10), strconv.FormatInt(alphaOrg.ID, 10)
	k.forgedBeta = "tdk_" + betaID + "_" + randomToken() + "AAAAAAAAAAA"
	k.swapped = "tdk_" + alphaID + "_" + k.beta[len(k.beta)-54:]
	if len(k.forgedBeta) != len(k.beta) {
		t.Fatalf("forged token %q has not the shape of %q", k.forgedBeta, k.beta)
	}
	return k
}

// apiIsoCases: tokens choose the tenant. alpha's tokens reach none of beta's ids (404, and
// beta's database stays closed); tokens of the wrong shape, forged for beta, or carrying
// another organization's id are 401 without opening any database; a revoked token is 401;
// alpha's people cannot manage beta's tokens. w may be empty (route enumeration).
func apiIsoCases(w *isoWorld) []isoCase {
	const (
		get, post = http.MethodGet, http.MethodPost
		rDashAPI  = "/dash/api"
		rRevoke   = "/dash/api/:id/revoke"
		rTickets  = "/api/v1/tickets"
		rTicket   = "/api/v1/tickets/:ticketId"
		rContacts = "/api/v1/contacts"
		rContact  = "/api/v1/contacts/:contactId"
		rAgents   = "/api/v1/agents"
		rDoc      = "/api/v1/openapi.json"
	)
	var cases []isoCase
	add := func(c isoCase) { cases = append(cases, c) }
	k := w.api
	anon, alpha, alphaAgent, alphaAdmin := w.anon, w.alpha.browser, w.alphaAgent.browser, w.alphaAdmin.browser
	bt, bc := w.betaTicket, w.betaContact
	msg := `{"body":"intrusion attempt","as":"customer"}`
	ticketRoutes := []struct{ method, route, url, json string }{
		{get, rTicket, "/api/v1/tickets/" + bt, ""},
		{get, rTicket + "/messages", "/api/v1/tickets/" + bt + "/messages", ""},
		{post, rTicket + "/messages", "/api/v1/tickets/" + bt + "/messages", msg},
		{post, rTicket + "/notes", "/api/v1/tickets/" + bt + "/notes", `{"body":"intrusion attempt"}`},
		{post, rTicket + "/status", "/api/v1/tickets/" + bt + "/status", `{"status":"closed"}`},
		{post, rTicket + "/assignment", "/api/v1/tickets/" + bt + "/assignment", `{"assignee_id":1}`},
		{post, rTicket + "/priority", "/api/v1/tickets/" + bt + "/priority", `{"priority":"urgent"}`},
		{post, rTicket + "/tags", "/api/v1/tickets/" + bt + "/tags", `{"tags":["intrusion"]}`},
		{get, rContact, "/api/v1/contacts/" + bc, ""},
	}
	for _, tok := range []struct{ name, token string }{{"alpha token", k.alpha}, {"alpha admin token", k.alphaAdmin}} {
		for _, r := range ticketRoutes {
			add(isoCase{name: tok.name + ": " + r.method + " " + r.url, who: anon, method: r.method, route: r.route, url: r.url,
				json: r.json, bearer: tok.token, want: 404})
		}
		// Lists hold alpha's own only, whatever the query names.
		add(isoCase{name: tok.name + ": tickets, beta's contact", who: anon, method: get, route: rTickets,
			url: "/api/v1/tickets?contact_id=" + bc + "&org=beta", bearer: tok.token, want: 200, has: `"data":[]`})
		add(isoCase{name: tok.name + ": tickets", who: anon, method: get, route: rTickets, url: "/api/v1/tickets?org_id=" + strconv.FormatInt(w.betaOrgID, 10),
			bearer: tok.token, want: 200, has: "alpha printer question"})
		add(isoCase{name: tok.name + ": contacts", who: anon, method: get, route: rContacts, url: "/api/v1/contacts?email=bettina@example.net",
			bearer: tok.token, want: 200, has: `"data":[]`})
		add(isoCase{name: tok.name + ": agents", who: anon, method: get, route: rAgents, url: "/api/v1/agents", bearer: tok.token,
			want: 200, has: "Alice Alphagent"})
		add(isoCase{name: tok.name + ": create a ticket with org fields", who: anon, method: post, route: rTickets, url: "/api/v1/tickets",
			json: `{"customer_name":"Olga","customer_email":"olga@example.net","query":"which tenant","org":"beta"}`, bearer: tok.token, want: 422})
	}
	// Tokens that choose no tenant: none, malformed, forged for beta, moved to alpha, revoked.
	bad := []struct {
		name, token string
		opensBeta   bool
	}{
		{"no token", "", false},
		{"malformed token", "tdk_x", false},
		{"customer token as bearer", w.betaToken, false},
		{"token forged for beta", k.forgedBeta, false},
		{"beta token moved to alpha's id", k.swapped, false},
		{"revoked beta token", k.betaRevoked, true},
	}
	for _, b := range bad {
		bearer := b.token
		if bearer == "" {
			bearer = " " // an Authorization header without a token
		}
		for _, r := range append(ticketRoutes, struct{ method, route, url, json string }{get, rTickets, "/api/v1/tickets", ""},
			struct{ method, route, url, json string }{post, rTickets, "/api/v1/tickets", `{"customer_name":"M","customer_email":"m@example.net","query":"q"}`},
			struct{ method, route, url, json string }{get, rContacts, "/api/v1/contacts", ""},
			struct{ method, route, url, json string }{get, rAgents, "/api/v1/agents", ""}) {
			add(isoCase{name: b.name + ": " + r.method + " " + r.url, who: anon, method: r.method, route: r.route, url: r.url,
				json: r.json, bearer: bearer, want: 401, mayOpenBeta: b.opensBeta})
		}
	}
	add(isoCase{name: "anonymous: the API's description", who: anon, method: get, route: rDoc, url: "/api/v1/openapi.json",
		bearer: " ", want: 200, has: `"openapi": "3.1.0"`})

	// The tokens page: alpha's people see and revoke alpha's tokens only.
	add(isoCase{name: "alpha org: revoke beta's token id", who: alpha, method: post, route: rRevoke, url: "/dash/api/3/revoke",
		form: form("org", "beta"), want: 404})
	add(isoCase{name: "alpha admin: revoke beta's token id", who: alphaAdmin, method: post, route: rRevoke, url: "/dash/api/3/revoke", want: 404})
	add(isoCase{name: "alpha org: tokens page with org=beta", who: alpha, method: get, route: rDashAPI, url: "/dash/api?org=beta",
		want: 200, has: "alpha sync"})
	add(isoCase{name: "alpha org: make a token acting as beta's agent", who: alpha, method: post, route: rDashAPI, url: "/dash/api",
		form: form("name", "intrusion", "agent_id", w.betaAgentID, "org", "beta"), want: 422})
	for _, r := range []struct{ method, route, url string }{{get, rDashAPI, "/dash/api"}, {post, rDashAPI, "/dash/api"}, {post, rRevoke, "/dash/api/1/revoke"}} {
		f := form("name", "intrusion", "agent_id", "1")
		add(isoCase{name: "anonymous: " + r.method + " " + r.url, who: anon, method: r.method, route: r.route, url: r.url, form: f, want: 303, loc: "/login"})
		add(isoCase{name: "alpha agent: " + r.method + " " + r.url, who: alphaAgent, method: r.method, route: r.route, url: r.url, form: f, want: 403})
	}
	return cases
}

// TestAPITokenChoosesTenant: beta's own token reaches beta's ticket (the isolation table
// shows that nothing else does, and that only a token with a valid tag opens a database).
func TestAPITokenChoosesTenant(t *testing.T) {
	w := newIsoWorld(t)
	if !strings.HasPrefix(w.api.beta, "tdk_"+strconv.FormatInt(w.betaOrgID, 10)+"_") {
		t.Fatalf("beta's token %q does not name beta", w.api.beta)
	}
	r := w.e.apiCall(w.api.beta, "GET", "/api/v1/tickets/"+w.betaTicket, nil)
	if r.status != 200 || !r.has("beta secret question") {
		t.Fatalf("beta's own token on beta's ticket: %d %.300s", r.status, r.body)
	}
}
