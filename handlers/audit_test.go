package handlers_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var auditIDRE = regexp.MustCompile(`id="audit-(\d+)" data-event="([a-z_.]+)"`)

// auditEvents lists the events of an audit page, newest first.
func auditEvents(body string) []string {
	var out []string
	for _, m := range auditIDRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[2])
	}
	return out
}

// TestAuditLogPage: logins (successful and refused), onboarding, password changes and role
// changes appear in the owner's and admins' audit log with where they came from; filters
// narrow it; agents without the admin role do not see it; no password ever shows.
func TestAuditLogPage(t *testing.T) {
	cfg := testConfig()
	cfg.TrustedProxies = []string{"0.0.0.0/0", "::/0"} // the addresses come from X-Forwarded-For
	e := newEnv(t, cfg)
	o := e.register("acme")
	a := e.onboard(o, "Maria Admin")
	b := e.onboard(o, "Thomas Agent")

	// A refused agent login, from another address, and a refused owner login.
	mallory, from := e.client(), map[string]string{"X-Forwarded-For": "203.0.113.66"}
	mallory.get("/agent/acme/login")
	wantStatus(t, mallory.post("/agent/acme/login", form("email", a.email, "password", "not maria's password"), from), http.StatusUnauthorized)
	wantStatus(t, mallory.post("/agent/acme/login", form("email", "nobody@acme.example", "password", "guess guess"), from), http.StatusUnauthorized)
	mallory.get("/login")
	wantStatus(t, mallory.post("/login", form("email", o.email, "password", "wrong owner password"), from), http.StatusUnauthorized)

	o.browser.get("/dash")
	wantRedirect(t, o.browser.post("/agents/1/role", form("role", "admin"), map[string]string{"X-Forwarded-For": "198.51.100.4"}), "/dash")

	r := o.browser.get("/dash/audit")
	wantStatus(t, r, http.StatusOK)
	got := strings.Join(auditEvents(r.body), " ")
	want := "agent.role_changed login.refused login.refused login.refused " +
		"password.changed login.succeeded agent.created password.changed login.succeeded agent.created"
	if got != want {
		t.Fatalf("audit events:\n got %s\nwant %s", got, want)
	}
	for _, s := range []string{"from 203.0.113.66", "from 198.51.100.4", "reason: password", "reason: unknown_account",
		"from: agent", "to: admin", "Maria Admin", "Acme Inc (the organization)"} {
		if !r.has(s) {
			t.Errorf("the audit page lacks %q", s)
		}
	}
	for _, s := range []string{a.password, b.password, "not maria", "nobody@acme.example", "wrong owner", o.password} {
		if r.has(s) {
			t.Errorf("the audit page shows %q", s)
		}
	}

	// Filters: logins only; one agent only; an unknown filter value is ignored.
	r = o.browser.get("/dash/audit?event=login")
	if got := strings.Join(auditEvents(r.body), " "); got != "login.refused login.refused login.refused login.succeeded login.succeeded" {
		t.Errorf("logins: %s", got)
	}
	r = o.browser.get("/dash/audit?actor=2")
	if got := strings.Join(auditEvents(r.body), " "); got != "password.changed login.succeeded" {
		t.Errorf("Thomas's entries: %s", got)
	}
	if r := o.browser.get("/dash/audit?event=nope&actor=x&before=-1"); len(auditEvents(r.body)) != 10 {
		t.Errorf("unknown filters: %d entries", len(auditEvents(r.body)))
	}

	// Maria is an admin now (her session reads the role afresh); Thomas is not.
	wantStatus(t, a.browser.get("/dash/audit"), http.StatusOK)
	wantStatus(t, b.browser.get("/dash/audit"), http.StatusForbidden)
	wantRedirect(t, e.client().get("/dash/audit"), "/login")
}

// TestAuditPaging: the log pages by 50 with a link to older entries.
func TestAuditPaging(t *testing.T) {
	e := newEnv(t)
	o := e.register("acme")
	o.browser.get("/dash/settings")
	for i := range 60 {
		tz := []string{"Europe/Berlin", "Asia/Tokyo"}[i%2]
		wantRedirect(t, o.browser.post("/dash/settings", form("time_zone", tz)), "/dash/settings")
	}
	r := o.browser.get("/dash/audit?event=settings")
	if n := len(auditEvents(r.body)); n != 50 {
		t.Fatalf("first page: %d entries", n)
	}
	m := regexp.MustCompile(`id="audit-older" href="|href="([^"]+)" id="audit-older"`).FindStringSubmatch(r.body)
	if m == nil || !strings.Contains(m[1], "event=settings") {
		t.Fatalf("no link to older entries keeping the filter: %v", m)
	}
	r = o.browser.get(strings.ReplaceAll(m[1], "&amp;", "&"))
	if n := len(auditEvents(r.body)); n != 10 || r.has(`id="audit-older"`) {
		t.Fatalf("second page: %d entries, older link %v", n, r.has(`id="audit-older"`))
	}
}
