package handlers_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var contactLinkRE = regexp.MustCompile(`/agent/[a-z0-9]+/contacts/\d+`)

// Every page answers an htmx request (HX-Request, not boosted) with its own content and
// without the layout, and a plain request with the whole page; both say they vary with
// HX-Request, so no cache hands one to the other.
func TestPagesAnswerHTMXWithTheirContent(t *testing.T) {
	e := newEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	cust := e.openTicket("acme", "Where is my parcel?")
	talk := e.engage(ann)
	contact := contactLinkRE.FindString(ann.browser.get(talk).body)
	if contact == "" {
		t.Fatal("no contact link on the talk page")
	}
	anon := e.client()
	for _, c := range []struct {
		who        *client
		path, want string
	}{
		{anon, "/", `href="/acme/open-ticket"`},
		{anon, "/login", `name="password"`},
		{anon, "/register", `name="password_repeat"`},
		{anon, "/acme/open-ticket", `name="customer_email"`},
		{anon, "/agent/acme/login", `name="password"`},
		{cust.browser, cust.page, "Where is my parcel?"},
		{ann.browser, talk, "Where is my parcel?"},
		{ann.browser, contact, "carla@example.net"},
		{ann.browser, "/agent/acme/canned", "<h1>Canned replies</h1>"},
		{acme.browser, "/dash/audit", "agent.created"},
		{acme.browser, "/dash/reports", "<svg"},
		{acme.browser, "/dash/settings", `name="time_zone"`},
		{acme.browser, "/dash/webhooks", `name="url"`},
		{acme.browser, "/dash/api", `name="name"`},
		{acme.browser, "/dash/password", `name="current_password"`},
	} {
		whole := c.who.get(c.path)
		part := c.who.get(c.path, htmx)
		for _, r := range []response{whole, part} {
			if r.status != http.StatusOK || !r.has(c.want) {
				t.Fatalf("GET %s: %d, want 200 with %q:\n%.1500s", c.path, r.status, c.want, r.body)
			}
			if !strings.Contains(r.header.Get("Vary"), "HX-Request") {
				t.Errorf("GET %s: Vary = %q, want HX-Request in it", c.path, r.header.Get("Vary"))
			}
		}
		if !whole.has("<html") {
			t.Errorf("GET %s without htmx: not a whole page", c.path)
		}
		if part.has("<html") || part.has("<head") || part.has(`class="site-header"`) {
			t.Errorf("GET %s with HX-Request: the layout came too:\n%.800s", c.path, part.body)
		}
	}
	// A boosted request is a navigation: the whole page, as without htmx.
	if r := ann.browser.get(talk, map[string]string{"HX-Request": "true", "HX-Boosted": "true"}); !r.has("<html") {
		t.Errorf("boosted GET %s: not a whole page", talk)
	}
}
