package handlers_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/handlers"
)

// The per-account limits (ratelimit.go) hold whatever address the requests come from: every
// test here sends each attempt from a new client address, through a trusted proxy.

// fromAddr is the header a trusted proxy adds for a client at 198.51.100.n.
func fromAddr(n int) map[string]string {
	return map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", n%250+1)}
}

// accountEnv is a server whose every request comes through a trusted proxy, with the client
// limit off unless rate is set, so only the per-account counters can answer 429.
func accountEnv(t *testing.T, rate, failures int) *env {
	cfg := testConfig()
	cfg.TrustedProxies = []string{"0.0.0.0/0", "::/0"}
	cfg.RateLimit = rate
	cfg.SendLimit = rate
	cfg.LoginFailureLimit = failures
	return newEnv(t, cfg)
}

// want429 checks a limited answer: 429 with a Retry-After of at most window.
func want429(t *testing.T, what string, r response, window time.Duration) {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d, want 429; body:\n%.800s", what, r.status, r.body)
	}
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > int(window.Seconds()) {
		t.Fatalf("%s: Retry-After %q, want 1..%v seconds", what, r.header.Get("Retry-After"), window.Seconds())
	}
	if !r.has("Too many attempts. Please try again in ") {
		t.Errorf("%s: the 429 page does not say why and for how long:\n%.800s", what, r.body)
	}
	if window > 2*time.Minute && !r.has(" minutes.") {
		t.Errorf("%s: a wait of up to %v is not said in minutes:\n%.800s", what, window, r.body)
	}
}

// TestLoginFailuresPerAccount: wrong passwords for one account from many addresses lock that
// account's logins (even with the right password) and nobody else's; successful logins do not
// count; the counters survive a restart (persistent storage). ASVS 6.3.1.
func TestLoginFailuresPerAccount(t *testing.T) {
	e := accountEnv(t, 0, 3)
	alpha := e.register("alpha")
	beta := e.register("beta")
	ip := 0
	login := func(path, email, pw string) response {
		ip++
		c := e.client()
		c.get(path, fromAddr(ip))
		return c.post(path, form("email", email, "password", pw), fromAddr(ip))
	}

	// Successful logins never count: many of them, then still three failures before the lock.
	for i := 0; i < 5; i++ {
		wantRedirect(t, login("/login", beta.email, beta.password), "/dash")
	}
	for i := 1; i <= 3; i++ {
		wantStatus(t, login("/login", alpha.email, "wrong password"), http.StatusUnauthorized)
	}
	window := 15 * time.Minute
	want429(t, "4th wrong password for alpha, from a new address", login("/login", alpha.email, "wrong password"), window)
	want429(t, "alpha's right password while locked", login("/login", alpha.email, alpha.password), window)
	want429(t, "alpha's email in another spelling", login("/login", "  ALPHA@Example.com ", alpha.password), window)
	wantRedirect(t, login("/login", beta.email, beta.password), "/dash")
	wantStatus(t, login("/login", beta.email, "wrong password"), http.StatusUnauthorized)
	// Unknown accounts are limited alike: the 429 tells nothing about who exists.
	for i := 1; i <= 3; i++ {
		wantStatus(t, login("/login", "nobody@example.com", "wrong password"), http.StatusUnauthorized)
	}
	want429(t, "4th wrong password for an unknown email", login("/login", "nobody@example.com", "x"), window)

	// Agent logins count per organization and email.
	a := e.onboard(alpha, "Ann Agent")
	for i := 1; i <= 3; i++ {
		wantStatus(t, login("/agent/alpha/login", a.email, "wrong password"), http.StatusUnauthorized)
	}
	want429(t, "4th wrong password for alpha's agent", login("/agent/alpha/login", a.email, a.password), window)
	wantStatus(t, login("/agent/beta/login", a.email, "wrong password"), http.StatusUnauthorized)

	// The lock outlives a restart: the counters are in the persistent storage.
	e = e.restart()
	want429(t, "alpha after a restart", login("/login", alpha.email, alpha.password), window)
	if logs := e.logs.String(); !strings.Contains(logs, "rate limited") || strings.Contains(logs, alpha.email) {
		t.Errorf("the log should record the 429s and never the account's email:\n%s", logs)
	}
}

// TestOrgPasswordChecksPerAccount: a logged-in organization's password checks (change
// password, delete) share one failure counter, kept per organization.
func TestOrgPasswordChecksPerAccount(t *testing.T) {
	e := accountEnv(t, 0, 3)
	alpha := e.register("alpha")
	beta := e.register("beta")
	b := alpha.browser
	b.get("/dash/password")
	for i := 1; i <= 2; i++ {
		wantStatus(t, b.post("/dash/password", form("current_password", "wrong password",
			"password", "a brand new secret", "password_repeat", "a brand new secret"), fromAddr(i)), http.StatusUnauthorized)
	}
	b.get("/dash")
	wantStatus(t, b.post("/dash/delete", form("confirm_name", "alpha", "password", "wrong password"), fromAddr(3)),
		http.StatusUnauthorized)
	r := b.post("/dash/delete", form("confirm_name", "alpha", "password", alpha.password), fromAddr(4))
	want429(t, "delete with the right password after 3 failures", r, 15*time.Minute)
	if b.get("/dash").status != http.StatusOK {
		t.Fatal("alpha was deleted or logged out while its password checks were locked")
	}
	// beta's own checks are untouched.
	beta.browser.get("/dash/password")
	wantStatus(t, beta.browser.post("/dash/password", form("current_password", "wrong password",
		"password", "a brand new secret", "password_repeat", "a brand new secret"), fromAddr(5)), http.StatusUnauthorized)
}

// TestSendsPerAccount: one customer's ticket, one agent, one customer email at one
// organization, one registration email: each gets RateLimit requests per window however many
// addresses send them, and its neighbours are unaffected.
func TestSendsPerAccount(t *testing.T) {
	e := accountEnv(t, 3, 0)
	alpha := e.register("alpha")
	e.register("beta")
	a := e.onboard(alpha, "Ann Agent")
	cust := e.openTicket("alpha", "Where is my parcel?") // customer_email carla@example.net: 1
	talk := e.engage(a)
	window := time.Minute

	// The customer's messages, from four addresses.
	cust.browser.get(cust.page)
	for i := 1; i <= 3; i++ {
		wantStatus(t, cust.browser.post(cust.page+"/messages", form("message", fmt.Sprintf("hello %d", i)), fromAddr(i)),
			http.StatusSeeOther)
	}
	want429(t, "customer's 4th message", cust.browser.post(cust.page+"/messages", form("message", "hello 4"), fromAddr(4)), window)
	// The same, over htmx: the error goes into the composer.
	r := cust.browser.post(cust.page+"/messages", form("message", "hello 5"), map[string]string{
		"HX-Request": "true", "X-CSRF-Token": cust.browser.csrf, "X-Forwarded-For": "198.51.100.99"})
	want429(t, "customer's message over htmx", r, window)
	if r.header.Get("HX-Retarget") != "#composer-error" {
		t.Errorf("htmx 429: HX-Retarget %q, want #composer-error", r.header.Get("HX-Retarget"))
	}
	// The agent in the same conversation still sends: its own budget, three from three
	// addresses, then 429.
	a.browser.get(talk)
	for i := 7; i <= 9; i++ {
		wantStatus(t, a.browser.post(talk+"/messages", form("message", "more"), fromAddr(i)), http.StatusSeeOther)
	}
	want429(t, "agent's 4th message", a.browser.post(talk+"/messages", form("message", "more"), fromAddr(10)), window)

	// Ticket opening per customer email and organization (carla opened one at alpha already).
	open := func(orgName, email string, n int) response {
		c := e.client()
		c.get("/"+orgName+"/open-ticket", fromAddr(n))
		return c.post("/"+orgName+"/open-ticket", form("customer_name", "Carla Customer",
			"customer_email", email, "query", "Another question"), fromAddr(n))
	}
	for i := 11; i <= 12; i++ {
		wantStatus(t, open("alpha", "carla@example.net", i), http.StatusSeeOther)
	}
	want429(t, "carla's 4th ticket at alpha", open("alpha", "Carla@Example.net", 13), window)
	wantStatus(t, open("alpha", "dora@example.net", 14), http.StatusSeeOther)
	wantStatus(t, open("beta", "carla@example.net", 15), http.StatusSeeOther) // another organization

	// Registration per email: the first succeeds, the next two are 409, the 4th is 429.
	reg := func(username string, n int) response {
		c := e.client()
		c.get("/register", fromAddr(n))
		return c.post("/register", form("name", "Gamma", "website", "", "username", username,
			"email", "gamma@example.com", "password", "correct horse gamma", "password_repeat", "correct horse gamma"), fromAddr(n))
	}
	wantStatus(t, reg("gamma", 16), http.StatusSeeOther)
	wantStatus(t, reg("gamma2", 17), http.StatusConflict)
	wantStatus(t, reg("gamma3", 18), http.StatusConflict)
	want429(t, "4th registration with one email", reg("gamma4", 19), window)
}

// TestClientAddressBehindProxy: behind trusted proxies the client is the nearest
// X-Forwarded-For hop that is not a proxy. A client behind a proxy that appends to the
// header (nginx's $proxy_add_x_forwarded_for) writes the left part itself: changing it must
// not give it a fresh counter.
func TestClientAddressBehindProxy(t *testing.T) {
	cfg := testConfig()
	// In-process test requests come from 0.0.0.0: that is "the load balancer"; 10/8 are
	// further proxies.
	cfg.TrustedProxies = []string{"0.0.0.0", "10.0.0.0/8"}
	cfg.RateLimit = 3
	e := newEnv(t, cfg)
	o := e.register("alpha")
	c := e.client()
	c.get("/login")
	try := func(xff ...string) response {
		hdr := map[string]string{}
		if len(xff) > 0 {
			hdr["X-Forwarded-For"] = strings.Join(xff, ", ")
		}
		return c.post("/login", form("email", o.email, "password", "wrong password"), hdr)
	}
	for _, spoof := range []string{"198.51.100.1", "not-an-ip", "[2001:db8::1]:443"} {
		wantStatus(t, try(spoof, "203.0.113.9", "10.1.2.3"), http.StatusUnauthorized)
	}
	want429(t, "203.0.113.9's 4th login with a new left-hand address", try("198.51.100.4", "203.0.113.9", "10.1.2.3"), time.Minute)
	want429(t, "203.0.113.9 through one proxy fewer", try("203.0.113.9"), time.Minute)
	wantStatus(t, try("203.0.113.10"), http.StatusUnauthorized)                           // another client
	wantStatus(t, try("203.0.113.9", "10.9.9.9", "10.1.2.3"), http.StatusTooManyRequests) // more proxies, same client
	wantStatus(t, try("::ffff:203.0.113.9"), http.StatusTooManyRequests)                  // the IPv4-mapped form is the same client
	wantStatus(t, try(), http.StatusUnauthorized)                                         // the proxy's own requests
	if logs := e.logs.String(); !strings.Contains(logs, "ip=203.0.113.10") {
		t.Errorf("failed logins are not logged under the client's address:\n%s", logs)
	}

	bad := testConfig()
	bad.TrustedProxies = []string{"10.0.0.0/8", "proxy.internal"}
	if _, err := handlers.New(bad, handlers.Deps{}); err == nil || !strings.Contains(err.Error(), "proxy.internal") {
		t.Errorf("TRUSTED_PROXIES with a host name: %v, want an error naming it", err)
	}
}

// TestSendLimitsFitATeamBehindOneAddress: with the binary's default limits, ten agents of one
// organization behind one office address each send ten messages within a minute and none is
// refused, and so do their ten customers behind one carrier's address: sending is counted per
// agent and per ticket, never per address. One agent sending 200 in a minute is stopped by its
// own budget, with Retry-After, while its colleagues go on.
func TestSendLimitsFitATeamBehindOneAddress(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit, cfg.SendLimit = 20, 60 // the binary's defaults
	e := newEnv(t, cfg)
	o := e.register("natco")
	type pair struct {
		agent agent
		talk  string
		cust  customer
	}
	var team []pair
	for i := range 10 {
		a := e.onboard(o, fmt.Sprintf("Agent %c", 'A'+i))
		cust := e.openTicket("natco", fmt.Sprintf("Question %d", i))
		team = append(team, pair{agent: a, talk: e.engage(a), cust: cust})
	}
	for _, p := range team {
		p.agent.browser.get(p.talk)
		p.cust.browser.get(p.cust.page)
	}
	for round := range 10 {
		for i, p := range team {
			r := p.agent.browser.post(p.talk+"/messages", form("message", fmt.Sprintf("agent %d, message %d", i, round)), htmx)
			if r.status != http.StatusOK {
				t.Fatalf("agent %d's message %d: %d, want 200", i, round, r.status)
			}
			r = p.cust.browser.post(p.cust.page+"/messages", form("message", fmt.Sprintf("customer %d, message %d", i, round)), htmx)
			if r.status != http.StatusOK {
				t.Fatalf("customer %d's message %d: %d, want 200", i, round, r.status)
			}
		}
	}
	// One agent alone, 200 messages: its own budget runs out.
	fast := team[0]
	limited := -1
	for n := 0; n < 200; n++ {
		r := fast.agent.browser.post(fast.talk+"/messages", form("message", fmt.Sprintf("fast %d", n)), htmx)
		if r.status == http.StatusTooManyRequests {
			want429(t, "the fast agent", r, time.Minute)
			limited = n
			break
		}
		wantStatus(t, r, http.StatusOK)
	}
	if limited < 0 {
		t.Fatal("200 messages from one agent within a minute were all accepted")
	}
	if sent := 10 + limited; sent != cfg.SendLimit {
		t.Errorf("the fast agent was stopped after %d messages in the minute, want %d", sent, cfg.SendLimit)
	}
	// Its colleague, and the fast agent's own customer, still send.
	wantStatus(t, team[1].agent.browser.post(team[1].talk+"/messages", form("message", "still here"), htmx), http.StatusOK)
	wantStatus(t, fast.cust.browser.post(fast.cust.page+"/messages", form("message", "me too"), htmx), http.StatusOK)
	// A customer sending 200 is stopped the same way.
	other := team[2].cust
	for n := 0; ; n++ {
		r := other.browser.post(other.page+"/messages", form("message", fmt.Sprintf("flood %d", n)), htmx)
		if r.status == http.StatusTooManyRequests {
			want429(t, "the flooding customer", r, time.Minute)
			break
		}
		if n == 200 {
			t.Fatal("200 messages from one customer within a minute were all accepted")
		}
	}
	// The owner has a budget of its own, whichever ticket it writes in.
	ownerSend := "/conversation/" + strings.TrimPrefix(team[3].talk, "/agent/natco/talk/") + "/messages"
	o.browser.get(strings.TrimSuffix(ownerSend, "/messages"))
	for n := 0; ; n++ {
		r := o.browser.post(ownerSend, form("message", fmt.Sprintf("owner %d", n)), htmx)
		if r.status == http.StatusTooManyRequests {
			want429(t, "the owner", r, time.Minute)
			if n != cfg.SendLimit {
				t.Errorf("the owner was stopped after %d messages, want %d", n, cfg.SendLimit)
			}
			break
		}
		wantStatus(t, r, http.StatusOK)
		if n == 200 {
			t.Fatal("200 messages from the owner within a minute were all accepted")
		}
	}
	wantStatus(t, team[3].agent.browser.post(team[3].talk+"/messages", form("message", "mine still"), htmx), http.StatusOK)
}
