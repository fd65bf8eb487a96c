package handlers_test

import (
	"net/http"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// newWebhookIso registers the isolation world's webhooks: beta two (ids 1 and 2, their URLs
// carrying beta's secret words), alpha one (id 1). They want only ratings, which the world
// never makes: no delivery is due, so no background work opens a database on its own.
func newWebhookIso(t *testing.T, w *isoWorld) {
	t.Helper()
	e := w.e
	e.addWebhook(w.beta.browser, "https://localhost:9/Betasecret-hook-one", desk.WebhookRatingCreated)
	e.addWebhook(w.beta.browser, "https://localhost:9/Betasecret-hook-two", desk.WebhookRatingCreated)
	e.addWebhook(w.alpha.browser, "https://localhost:9/alpha-hook", desk.WebhookRatingCreated)
}

// webhookIsoCases: alpha's people reach none of beta's webhooks (id 2 exists only in beta)
// and see only alpha's own; agents without the admin role and anonymous visitors reach
// nothing. w may be empty (route enumeration).
func webhookIsoCases(w *isoWorld) []isoCase {
	const (
		get, post = http.MethodGet, http.MethodPost
		rHooks    = "/dash/webhooks"
		rHook     = "/dash/webhooks/:id"
		rRemove   = "/dash/webhooks/:id/remove"
		rResend   = "/dash/webhooks/:id/deliveries/:deliveryId/resend"
	)
	var cases []isoCase
	add := func(c isoCase) { cases = append(cases, c) }
	anon, alpha, alphaAgent, alphaAdmin := w.anon, (*client)(nil), (*client)(nil), (*client)(nil)
	if w.e != nil {
		alpha, alphaAgent, alphaAdmin = w.alpha.browser, w.alphaAgent.browser, w.alphaAdmin.browser
	}
	named := form("org", "beta", "org_id", "2", "url", "https://localhost:9/intrusion", "events", "bogus")
	for _, who := range []struct {
		name string
		c    *client
	}{{"alpha org", alpha}, {"alpha admin", alphaAdmin}} {
		add(isoCase{name: who.name + ": webhooks page with org=beta", who: who.c, method: get, route: rHooks,
			url: "/dash/webhooks?org=beta", want: 200, has: "alpha-hook"})
		add(isoCase{name: who.name + ": beta's webhook log", who: who.c, method: get, route: rHook, url: "/dash/webhooks/2", want: 404})
		add(isoCase{name: who.name + ": beta's webhook log, org in query", who: who.c, method: get, route: rHook,
			url: "/dash/webhooks/2?org=beta&before=99", want: 404})
		add(isoCase{name: who.name + ": own webhook log", who: who.c, method: get, route: rHook, url: "/dash/webhooks/1?org=beta",
			want: 200, has: "alpha-hook"})
		add(isoCase{name: who.name + ": remove beta's webhook", who: who.c, method: post, route: rRemove, url: "/dash/webhooks/2/remove",
			form: named, want: 404})
		add(isoCase{name: who.name + ": resend on beta's webhook", who: who.c, method: post, route: rResend,
			url: "/dash/webhooks/2/deliveries/1/resend", form: named, want: 404})
		add(isoCase{name: who.name + ": resend a delivery alpha's webhook never had", who: who.c, method: post, route: rResend,
			url: "/dash/webhooks/1/deliveries/1/resend", form: named, want: 404})
		add(isoCase{name: who.name + ": add a webhook naming beta", who: who.c, method: post, route: rHooks, url: "/dash/webhooks?org=beta",
			form: named, want: 422})
	}
	for _, r := range []struct{ method, route, url string }{
		{get, rHooks, "/dash/webhooks"}, {post, rHooks, "/dash/webhooks"}, {get, rHook, "/dash/webhooks/1"},
		{post, rRemove, "/dash/webhooks/1/remove"}, {post, rResend, "/dash/webhooks/1/deliveries/1/resend"},
	} {
		f := form("url", "https://localhost:9/intrusion", "events", desk.WebhookTicketCreated)
		add(isoCase{name: "anonymous: " + r.method + " " + r.url, who: anon, method: r.method, route: r.route, url: r.url, form: f, want: 303, loc: "/login"})
		add(isoCase{name: "alpha agent: " + r.method + " " + r.url, who: alphaAgent, method: r.method, route: r.route, url: r.url, form: f, want: 403})
	}
	return cases
}
