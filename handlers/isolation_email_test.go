package handlers_test

import (
	"net/http"
)

// isoEmailCases are the email channel's rows of the isolation table: the organization's
// email settings and an agent's choice of emails. (Renewing a customer's access is among the
// ticket actions.)
func isoEmailCases(w *isoWorld) []isoCase {
	const (
		rEmail    = "/dash/settings/email"
		rPrefs    = "/agent/:org/email-prefs"
		get, post = http.MethodGet, http.MethodPost
	)
	var alpha, alphaAgent, alphaAdmin, betaOther, anon *client
	if w.e != nil {
		alpha, alphaAgent, alphaAdmin, betaOther, anon = w.alpha.browser, w.alphaAgent.browser, w.alphaAdmin.browser, w.betaOther.browser, w.anon
	}
	beta := form("org", "beta", "org_id", "2", "action", "save", "auto_ack", "on", "smtp_security", "smtp", "mail_from", "Mallory <m@evil.example>",
		"new_tickets", "on")
	var out []isoCase
	add := func(c isoCase) { out = append(out, c) }
	// The settings are the session's organization's, whatever the request names.
	add(isoCase{name: "alpha org: email settings with org=beta", who: alpha, method: get, route: rEmail,
		url: rEmail + "?org=beta&org_id=2", want: 200, has: "alpha@" + testMailDomain})
	add(isoCase{name: "alpha admin: email settings with org=beta", who: alphaAdmin, method: get, route: rEmail,
		url: rEmail + "?org=beta", want: 200, has: "alpha@" + testMailDomain})
	// (A valid save answers 303 and its htmx twin 200; this one is refused, changing nothing.)
	badPort := form("org", "beta", "org_id", "2", "action", "save", "smtp_host", "smtp.evil.example", "smtp_port", "99999",
		"smtp_security", "smtp", "mail_from", "Mallory <m@evil.example>")
	add(isoCase{name: "alpha org: save email settings naming beta", who: alpha, method: post, route: rEmail, url: rEmail,
		form: badPort, want: 422})
	add(isoCase{name: "anonymous: email settings", who: anon, method: get, route: rEmail, url: rEmail, want: 303, loc: "/login"})
	add(isoCase{name: "anonymous: save email settings", who: anon, method: post, route: rEmail, url: rEmail, form: beta, want: 303, loc: "/login"})
	add(isoCase{name: "alpha agent: email settings", who: alphaAgent, method: get, route: rEmail, url: rEmail, want: 403})
	add(isoCase{name: "alpha agent: save email settings", who: alphaAgent, method: post, route: rEmail, url: rEmail, form: beta, want: 403})
	add(isoCase{name: "other beta agent: email settings", who: betaOther, method: get, route: rEmail, url: rEmail, want: 403,
		mayOpenBeta: true, insider: true})
	add(isoCase{name: "other beta agent: save email settings", who: betaOther, method: post, route: rEmail, url: rEmail, form: beta,
		want: 403, mayOpenBeta: true, insider: true})
	// An agent's choice is its own, at its own organization.
	for _, who := range []struct {
		name string
		c    *client
	}{{"alpha org", alpha}, {"alpha agent", alphaAgent}, {"alpha admin", alphaAdmin}, {"anonymous", anon}} {
		add(isoCase{name: who.name + ": beta's email choice", who: who.c, method: post, route: rPrefs, url: "/agent/beta/email-prefs",
			form: beta, want: 303, loc: "/agent/beta/login"})
	}
	add(isoCase{name: "unknown org: email choice", who: alphaAgent, method: post, route: rPrefs, url: "/agent/nope/email-prefs",
		form: beta, want: 404})
	return out
}
