package handlers_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

const (
	sessionCookie = "tenantdesk_session"
	csrfCookie    = "tenantdesk_csrf"
)

// secSetCookies parses a response's Set-Cookie headers by name.
func secSetCookies(t *testing.T, r response) map[string]*http.Cookie {
	t.Helper()
	out := map[string]*http.Cookie{}
	for _, line := range r.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		out[c.Name] = c
	}
	return out
}

// TestCookieFlags: session and CSRF cookies are HttpOnly and SameSite=Lax; with SecureCookies
// they are __Host- cookies: Secure, Path=/, no Domain (ASVS 3.3.1–3.3.4).
func TestCookieFlags(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			cfg := testConfig()
			cfg.SecureCookies = secure
			e := newEnv(t, cfg)
			prefix := ""
			if secure {
				prefix = "__Host-"
			}
			c := e.client()
			anon := c.get("/register")
			wantStatus(t, anon, http.StatusOK)
			logged := c.post("/register", form("name", "Cookie Co", "website", "", "username", "cookieco",
				"email", "boss@cookie.example", "password", "long enough password", "password_repeat", "long enough password"))
			wantRedirect(t, logged, "/dash")
			for step, r := range map[string]response{"anonymous page": anon, "registration": logged} {
				got := secSetCookies(t, r)
				// An anonymous page sets only the cookie its forms' CSRF tokens are bound to (a
				// page view writes no session); logging in sets the session.
				want := map[string]string{"anonymous page": prefix + csrfCookie, "registration": prefix + sessionCookie}[step]
				if _, ok := got[want]; !ok {
					t.Errorf("%s: no %s cookie; got %v", step, want, r.header.Values("Set-Cookie"))
				}
				if _, ok := got[prefix+sessionCookie]; ok && step == "anonymous page" {
					t.Errorf("an anonymous page view set a session cookie: %v", r.header.Values("Set-Cookie"))
				}
				for _, name := range []string{prefix + sessionCookie, prefix + csrfCookie} {
					ck, ok := got[name]
					if !ok {
						continue
					}
					if !ck.HttpOnly {
						t.Errorf("%s: %s not HttpOnly", step, name)
					}
					if ck.SameSite != http.SameSiteLaxMode {
						t.Errorf("%s: %s SameSite = %v, want Lax", step, name, ck.SameSite)
					}
					if ck.Path != "/" {
						t.Errorf("%s: %s Path = %q, want /", step, name, ck.Path)
					}
					if ck.Domain != "" {
						t.Errorf("%s: %s Domain = %q, want none", step, name, ck.Domain)
					}
					if ck.Secure != secure {
						t.Errorf("%s: %s Secure = %v, want %v", step, name, ck.Secure, secure)
					}
				}
				for name := range got {
					if secure && !strings.HasPrefix(name, "__Host-") {
						t.Errorf("%s: cookie %q without the __Host- prefix", step, name)
					}
				}
			}
			// The prefixed cookies carry the login.
			wantStatus(t, c.get("/dash"), http.StatusOK)
		})
	}
}

// TestSessionFixation: a session id and CSRF token obtained before login are worthless after
// it (ASVS 7.2.4).
func TestSessionFixation(t *testing.T) {
	e := newEnv(t)
	o := e.register("fixco")

	// The victim's own anonymous session: opening a ticket leaves a flash message in one.
	v := e.client()
	v.get("/fixco/open-ticket")
	wantStatus(t, v.post("/fixco/open-ticket", form("customer_name", "Vic", "customer_email", "vic@example.com",
		"query", "Hello")), http.StatusSeeOther)
	v.get("/login")
	before, tokenBefore := v.cookies[sessionCookie], v.csrf
	if before == "" || tokenBefore == "" {
		t.Fatalf("anonymous session (%q) or token (%q) missing", before, tokenBefore)
	}
	wantRedirect(t, v.post("/login", form("email", o.email, "password", o.password)), "/dash")
	after := v.cookies[sessionCookie]
	if after == "" || after == before {
		t.Fatalf("session cookie after login = %q, before %q: want a new one", after, before)
	}
	replay := e.client()
	replay.cookies[sessionCookie] = before
	wantRedirect(t, replay.get("/dash"), "/login")
	wantStatus(t, v.get("/dash"), http.StatusOK)

	// The token from before login is refused, with or without htmx.
	r := v.post("/agents", form("full_name", "Old Token", "email", "old@fixco.example", "_csrf", tokenBefore))
	wantStatus(t, r, http.StatusForbidden)
	if r := v.get("/dash"); v.csrf == tokenBefore || r.has("old@fixco.example") {
		t.Fatalf("CSRF token not rotated by login (still %q) or the agent was created", v.csrf)
	}
	wantStatus(t, v.post("/agents", form("full_name", "New Token", "email", "new@fixco.example")), http.StatusOK)

	// An attacker plants its own anonymous session (cookies and all) in the victim's browser.
	attacker := e.client()
	attacker.get("/fixco/open-ticket")
	wantStatus(t, attacker.post("/fixco/open-ticket", form("customer_name", "Mal", "customer_email", "mal@example.com",
		"query", "Hello")), http.StatusSeeOther)
	attacker.get("/login")
	if attacker.cookies[sessionCookie] == "" {
		t.Fatal("the attacker has no anonymous session to plant")
	}
	planted := map[string]string{}
	for k, val := range attacker.cookies {
		planted[k] = val
	}
	victim := e.client()
	for k, val := range planted {
		victim.cookies[k] = val
	}
	victim.csrf = attacker.csrf
	wantRedirect(t, victim.post("/login", form("email", o.email, "password", o.password)), "/dash")
	if victim.cookies[sessionCookie] == planted[sessionCookie] {
		t.Fatal("login kept the planted session id")
	}
	// The attacker's session is still nobody's: it is sent to log in, and creates nothing.
	wantRedirect(t, attacker.get("/dash"), "/login")
	wantRedirect(t, attacker.post("/agents", form("full_name", "Fixated", "email", "fix@fixco.example")), "/login")
	if r := victim.get("/dash"); r.has("fix@fixco.example") {
		t.Fatal("the attacker's post created an agent")
	}
}

// TestLogoutDestroysSession: a copied session cookie is dead after logout (ASVS 7.4.1).
func TestLogoutDestroysSession(t *testing.T) {
	e := newEnv(t)
	o := e.register("byeco")
	a := e.onboard(o, "Bea Bye")
	for _, tc := range []struct {
		name       string
		browser    *client
		page       string
		logoutTo   string
		replayWant string
	}{
		{"organization", o.browser, "/dash", "/", "/login"},
		{"agent", a.browser, "/agent/byeco/dash", "/agent/byeco/login", "/agent/byeco/login"},
	} {
		wantStatus(t, tc.browser.get(tc.page), http.StatusOK)
		copied := map[string]string{}
		for k, v := range tc.browser.cookies {
			copied[k] = v
		}
		wantRedirect(t, tc.browser.post("/logout", nil), tc.logoutTo)
		replay := e.client()
		replay.cookies = copied
		if r := replay.get(tc.page); r.status != http.StatusSeeOther || r.header.Get("Location") != tc.replayWant {
			t.Errorf("%s: replayed cookie after logout: status %d Location %q, want 303 %s", tc.name, r.status, r.header.Get("Location"), tc.replayWant)
		}
		wantRedirect(t, tc.browser.get(tc.page), tc.replayWant)
	}
}

// TestCSRF: every state change needs the session's own token, as a form field or (htmx) the
// X-CSRF-Token header; POST-only routes refuse GET (ASVS 3.5.1, 3.5.3).
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	o := e.register("csrfco")
	a := e.onboard(o, "Cid Agent")
	cust := isoOpenTicket(e, "csrfco", "Cora Csrf", "csrf question")
	talk := e.engage(a)
	m := closeURLRE.FindStringSubmatch(a.browser.get(talk).body)
	if m == nil {
		t.Fatal("no close form on the talk page")
	}
	closeURL := m[0]

	foreign := e.client()
	foreign.get("/login")
	regC := e.client()
	regC.get("/register")
	loginC := e.client()
	loginC.get("/login")
	o.browser.get("/dash")

	regForm := func() url.Values {
		return form("name", "New Co", "website", "", "username", "csrfnew", "email", "boss@csrfnew.example",
			"password", "long enough password", "password_repeat", "long enough password")
	}
	type target struct {
		name    string
		who     *client
		url     string
		form    func() url.Values
		okCheck func(t *testing.T, r response)
	}
	targets := []target{
		{"onboard agent", o.browser, "/agents", func() url.Values {
			return form("full_name", "Csrf Victim", "email", "victim@csrfco.example")
		}, func(t *testing.T, r response) {
			if r.status != http.StatusOK || !r.has(`id="agent-initial-password"`) {
				t.Errorf("onboard with header token: status %d, initial password shown %v", r.status, r.has(`id="agent-initial-password"`))
			}
		}},
		{"customer message", cust.browser, cust.page + "/messages", func() url.Values {
			return form("message", "csrf forged message")
		}, func(t *testing.T, r response) {
			if r.status != http.StatusOK || !r.has("csrf forged message") {
				t.Errorf("message with header token: status %d", r.status)
			}
		}},
		{"register", regC, "/register", regForm, func(t *testing.T, r response) {
			if r.status != http.StatusOK || r.header.Get("HX-Redirect") != "/dash" {
				t.Errorf("register with header token: status %d HX-Redirect %q", r.status, r.header.Get("HX-Redirect"))
			}
		}},
		{"login", loginC, "/login", func() url.Values {
			return form("email", o.email, "password", o.password)
		}, func(t *testing.T, r response) {
			if r.status != http.StatusOK || r.header.Get("HX-Redirect") != "/dash" {
				t.Errorf("login with header token: status %d HX-Redirect %q", r.status, r.header.Get("HX-Redirect"))
			}
		}},
		{"close ticket", a.browser, closeURL, func() url.Values { return form() }, func(t *testing.T, r response) {
			if r.status != http.StatusOK || r.header.Get("HX-Redirect") != talk {
				t.Errorf("close with header token: status %d HX-Redirect %q, want 200 %s", r.status, r.header.Get("HX-Redirect"), talk)
			}
		}},
	}
	for _, tg := range targets {
		own := tg.who.csrf
		if own == "" || own == foreign.csrf {
			t.Fatalf("%s: no usable token (%q)", tg.name, own)
		}
		for _, bad := range []struct {
			name  string
			token string
			hdr   map[string]string
		}{
			{"no token", "", nil},
			{"no token, htmx", "", htmx},
			{"foreign form token", foreign.csrf, nil},
			{"foreign header token", "", map[string]string{"HX-Request": "true", "X-CSRF-Token": foreign.csrf}},
			{"garbage token", "not-a-token", nil},
		} {
			f := tg.form()
			f["_csrf"] = []string{bad.token}
			r := tg.who.post(tg.url, f, bad.hdr)
			if r.status != http.StatusForbidden {
				t.Errorf("%s, %s: status %d, want 403", tg.name, bad.name, r.status)
			}
			tg.who.csrf = own
		}
		// A browser with no cookies at all (a cross-site form).
		stranger := e.client()
		if r := stranger.post(tg.url, tg.form()); r.status != http.StatusForbidden {
			t.Errorf("%s, cookieless: status %d, want 403", tg.name, r.status)
		}
		// The 403s may expire the CSRF cookie: the browser reloads the page, as the message says.
		page := map[string]string{"close ticket": talk, "onboard agent": "/dash", "customer message": cust.page,
			"register": "/register", "login": "/login"}[tg.name]
		tg.who.get(page)
		f := tg.form()
		f["_csrf"] = []string{""}
		tg.okCheck(t, tg.who.post(tg.url, f, map[string]string{"HX-Request": "true", "X-CSRF-Token": tg.who.csrf}))
	}
	// The refused requests changed nothing: one agent onboarded (by the accepted request), one
	// customer message, one registration.
	r := o.browser.get("/dash")
	if n := strings.Count(r.body, "victim@csrfco.example"); n != 1 {
		t.Errorf("victim agent listed %d times, want 1", n)
	}
	if r := a.browser.get(talk); strings.Count(r.body, "csrf forged message") != 1 {
		t.Errorf("the forged message appears %d times, want 1", strings.Count(r.body, "csrf forged message"))
	}

	// GET on a POST-only route is 405 and changes nothing.
	cust2 := isoOpenTicket(e, "csrfco", "Cleo Csrf", "second question")
	talk2 := e.engage(a)
	m = closeURLRE.FindStringSubmatch(a.browser.get(talk2).body)
	for _, u := range []string{m[0], "/logout", "/agents", strings.Replace(m[0], "/close", "/engage", 1),
		cust2.page + "/rating"} {
		who := a.browser
		if strings.HasPrefix(u, "/customer/") {
			who = cust2.browser
		}
		if r := who.get(u); r.status != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: status %d, want 405", u, r.status)
		}
	}
	if r := a.browser.get(talk2); r.has("This ticket is closed") {
		t.Error("GET on the close URL closed the ticket")
	}
	wantStatus(t, a.browser.get("/agent/csrfco/dash"), http.StatusOK) // GET /logout did not log out
}

var cspDirectiveRE = regexp.MustCompile(`\s*;\s*`)

// cspDirectives splits a Content-Security-Policy into directive → value.
func cspDirectives(csp string) map[string]string {
	out := map[string]string{}
	for _, d := range cspDirectiveRE.Split(strings.TrimSpace(csp), -1) {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		if name != "" {
			out[strings.ToLower(name)] = value
		}
	}
	return out
}

// TestSecurityHeaders: CSP, framing, sniffing, referrer and caching headers on every kind of
// page (ASVS 3.4.3–3.4.6).
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	o := e.register("headco")
	a := e.onboard(o, "Hal Header")
	cust := isoOpenTicket(e, "headco", "Hedy Header", "header question")
	talk := e.engage(a)
	conv := strings.TrimPrefix(talk, "/agent/headco/talk/")
	anon := e.client()
	cases := []struct {
		name     string
		who      *client
		url      string
		hdr      map[string]string
		status   int
		referrer string
		tenant   bool
	}{
		{"home", anon, "/", nil, 200, "same-origin", false},
		{"login", anon, "/login", nil, 200, "same-origin", false},
		{"register", anon, "/register", nil, 200, "same-origin", false},
		{"not found", anon, "/no/such/page", nil, 404, "same-origin", false},
		{"open ticket", anon, "/headco/open-ticket", nil, 200, "same-origin", true},
		{"org dash", o.browser, "/dash", nil, 200, "same-origin", true},
		{"org conversation", o.browser, "/conversation/" + conv, nil, 200, "same-origin", true},
		{"org poll", o.browser, "/conversation/" + conv + "/messages?after=0", htmx, 200, "same-origin", true},
		{"agent dash", a.browser, "/agent/headco/dash", nil, 200, "same-origin", true},
		{"agent talk", a.browser, talk, nil, 200, "same-origin", true},
		{"agent talk htmx", a.browser, talk, htmx, 200, "same-origin", true},
		{"customer ticket", cust.browser, cust.page, nil, 200, "same-origin", true},
		{"customer poll", cust.browser, cust.page + "/messages?after=0", htmx, 200, "", true},
	}
	for _, tc := range cases {
		r := tc.who.get(tc.url, tc.hdr)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, r.status, tc.status)
			continue
		}
		h := r.header
		csp := h.Get("Content-Security-Policy")
		d := cspDirectives(csp)
		script, ok := d["script-src"]
		if !ok {
			script = d["default-src"]
		}
		switch {
		case csp == "":
			t.Errorf("%s: no Content-Security-Policy", tc.name)
		case strings.Contains(csp, "'unsafe-eval'"):
			t.Errorf("%s: CSP allows 'unsafe-eval': %s", tc.name, csp)
		case script == "" || strings.Contains(script, "'unsafe-inline'") || strings.Contains(script, "*"):
			t.Errorf("%s: script-src %q is missing or too wide", tc.name, script)
		case d["frame-ancestors"] != "'none'":
			t.Errorf("%s: frame-ancestors = %q, want 'none'", tc.name, d["frame-ancestors"])
		case d["object-src"] != "'none'":
			t.Errorf("%s: object-src = %q, want 'none'", tc.name, d["object-src"])
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q", tc.name, got)
		}
		if got := h.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options = %q, want DENY", tc.name, got)
		}
		if got := h.Get("Referrer-Policy"); tc.referrer != "" && got != tc.referrer {
			t.Errorf("%s: Referrer-Policy = %q, want %q", tc.name, got, tc.referrer)
		}
		if strings.HasPrefix(tc.url, "/customer/") && tc.hdr == nil {
			// The URL holds the customer's token: no other site may see it in a Referer.
			if got := h.Get("Referrer-Policy"); got != "same-origin" && got != "no-referrer" {
				t.Errorf("%s: Referrer-Policy = %q; the URL holds the customer's token", tc.name, got)
			}
		}
		if tc.tenant {
			if got := h.Get("Cache-Control"); !strings.Contains(got, "no-store") {
				t.Errorf("%s: Cache-Control = %q, want no-store", tc.name, got)
			}
			if vary := strings.Join(h.Values("Vary"), ","); !strings.Contains(strings.ToLower(vary), "hx-request") {
				t.Errorf("%s: Vary = %q, want HX-Request in it", tc.name, vary)
			}
		}
	}
}

// secLeaks lists what an error body must never show.
func secLeaks(e *env, body string) []string {
	low := strings.ToLower(body)
	var found []string
	for _, s := range []string{"sqlite", "libsql", ".db", "goroutine", "panic", "sql:", "database is",
		"no such", ".go:", strings.ToLower(e.dir)} {
		if strings.Contains(low, s) {
			found = append(found, s)
		}
	}
	return found
}

// secRawPost sends a request head announcing a body of n bytes over a real socket and returns
// the status line and body, without sending the body: the server must answer from the head.
func secRawPost(t *testing.T, base, path string, n int) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\nmessage=aaaa",
		path, strings.TrimPrefix(base, "http://"), n)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to a %d-byte body: %v", n, err)
	}
	defer res.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		k, err := res.Body.Read(buf)
		sb.Write(buf[:k])
		if err != nil {
			break
		}
	}
	return res.StatusCode, sb.String()
}

// TestErrorsDoNotLeak: 404, 405, 413, 422, 503 and 500 answer the generic page, never the
// error text, file names or stack traces (ASVS 16.5.1).
func TestErrorsDoNotLeak(t *testing.T) {
	e := newEnv(t)
	o := e.register("leakco")
	o.browser.get("/dash") // shows (and clears) the welcome message
	e.register("brokenco")
	c := isoOpenTicket(e, "leakco", "Lea Leak", "leak question")
	cases := []struct {
		name   string
		who    *client
		method string
		url    string
		hdr    map[string]string
		want   int
	}{
		{"unknown page", o.browser, "GET", "/no/such/page", nil, 404},
		{"unknown page htmx", o.browser, "GET", "/no/such/page", htmx, 404},
		{"unknown conversation", o.browser, "GET", "/conversation/999", nil, 404},
		{"huge conversation id", o.browser, "GET", "/conversation/99999999999999999999999", nil, 404},
		{"bad cursor", c.browser, "GET", c.page + "/messages?after=1e999", htmx, 422},
		{"unknown token", c.browser, "GET", "/customer/leakco/t/" + randomToken(), nil, 404},
		{"NUL in token", c.browser, "GET", "/customer/leakco/t/%00" + strings.Repeat("A", 42), nil, 404},
		{"method", o.browser, "GET", "/logout", nil, 405},
		{"no csrf", o.browser, "POST", "/agents", nil, 403},
	}
	for _, tc := range cases {
		var r response
		if tc.method == "POST" {
			r = tc.who.post(tc.url, form("_csrf", ""), tc.hdr)
		} else {
			r = tc.who.get(tc.url, tc.hdr)
		}
		if r.status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, r.status, tc.want)
		}
		if leaks := secLeaks(e, r.body); len(leaks) > 0 {
			t.Errorf("%s: body shows %v:\n%.800s", tc.name, leaks, r.body)
		}
		if tc.want >= 400 && tc.hdr == nil && !r.has(`role="alert"`) {
			t.Errorf("%s: not the error page:\n%.800s", tc.name, r.body)
		}
	}

	// 413 over a real socket, answered from the request head.
	base := e.listen()
	status, body := secRawPost(t, base, c.page+"/messages", 10<<20)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("10 MiB body: status %d, want 413", status)
	}
	if leaks := secLeaks(e, body); len(leaks) > 0 {
		t.Errorf("413 body shows %v:\n%.800s", leaks, body)
	}

	// 503: a tenant database that cannot be opened.
	e.close()
	path := filepath.Join(e.dir, "tenantdesk-brokenco.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("garbage, not sqlite ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	e2 := startEnv(t, e.dir, e.cfg)
	b := e2.client()
	b.get("/brokenco/open-ticket")
	r := b.post("/brokenco/open-ticket", form("customer_name", "B", "customer_email", "b@example.net", "query", "q"))
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("broken tenant: status %d, want 503", r.status)
	}
	if leaks := secLeaks(e2, r.body); len(leaks) > 0 {
		t.Errorf("503 body shows %v:\n%.800s", leaks, r.body)
	}

	// 500: the catalog is gone under the server.
	e2.cat.DB().Close()
	r = e2.client().get("/")
	if r.status != http.StatusInternalServerError && r.status != http.StatusServiceUnavailable {
		t.Errorf("catalog closed: status %d, want 500 or 503", r.status)
	}
	if leaks := secLeaks(e2, r.body); len(leaks) > 0 || !r.has(`role="alert"`) {
		t.Errorf("500 body shows %v:\n%.800s", leaks, r.body)
	}
	if !strings.Contains(e2.logs.String(), "request failed") && r.status == http.StatusInternalServerError {
		t.Error("the 500 was not logged")
	}
}

// TestPasswordRules: 8–64 characters and at most 72 bytes, refused with a message rather than
// truncated; what is stored is the whole password (ASVS 6.2.1, 6.2.9, 11.4.2).
func TestPasswordRules(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.get("/register")
	accents := strings.Repeat("ééé", 10) + "abcdefghijklm" // 43 characters, 73 bytes
	if len(accents) != 73 || len([]rune(accents)) != 43 {
		t.Fatalf("test password has %d bytes, %d characters", len(accents), len([]rune(accents)))
	}
	cases := []struct {
		name, username, password string
		want                     int
	}{
		{"73 bytes in 43 characters", "pwbytes", accents, 422},
		{"7 characters", "pwshort", "abcdefg", 422},
		{"65 characters", "pwlong", strings.Repeat("x", 65), 422},
		{"empty", "pwempty", "", 422},
		{"64 ascii characters", "pwmax", strings.Repeat("abcdefgh", 8), 303},
		{"72 bytes in 36 characters", "pwaccent", strings.Repeat("é", 36), 303},
	}
	for _, tc := range cases {
		c := e.client()
		c.get("/register")
		r := c.post("/register", form("name", "Pw Co", "website", "", "username", tc.username,
			"email", tc.username+"@example.com", "password", tc.password, "password_repeat", tc.password))
		if r.status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, r.status, tc.want)
			continue
		}
		_, err := e.cat.ByUsername(t.Context(), tc.username)
		if tc.want == 422 {
			if !r.has(`id="password-error"`) {
				t.Errorf("%s: no message beside the password field", tc.name)
			}
			if tc.password != "" && r.has(tc.password) {
				t.Errorf("%s: the password is echoed", tc.name)
			}
			if err == nil {
				t.Errorf("%s: the organization was created", tc.name)
			}
			continue
		}
		// Accepted: the whole password is needed, not a prefix.
		runes := []rune(tc.password)
		variants := map[string]int{
			tc.password:                        303,
			string(runes[:len(runes)-1]):       401,
			string(runes[:len(runes)-1]) + "x": 401,
		}
		for pw, want := range variants {
			l := e.client()
			l.get("/login")
			if r := l.post("/login", form("email", tc.username+"@example.com", "password", pw)); r.status != want {
				t.Errorf("%s: login with %q: status %d, want %d", tc.name, pw, r.status, want)
			}
		}
	}

	// The agent's own password follows the same rules.
	o := e.register("pwagentco")
	o.browser.get("/dash")
	r := o.browser.post("/agents", form("full_name", "Pia Password", "email", "pia@pwagentco.example"))
	m := initialPasswordRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no initial password")
	}
	ag := e.client()
	ag.get("/agent/pwagentco/login")
	wantRedirect(t, ag.post("/agent/pwagentco/login", form("email", "pia@pwagentco.example", "password", m[1])), "/agent/pwagentco/password")
	ag.get("/agent/pwagentco/password")
	for _, pw := range []string{accents, "short", strings.Repeat("y", 65)} {
		r := ag.post("/agent/pwagentco/password", form("password", pw, "password_repeat", pw))
		if r.status != http.StatusUnprocessableEntity || !r.has(`id="password-error"`) {
			t.Errorf("agent password %d bytes: status %d, want 422 with a message", len(pw), r.status)
		}
	}
	good := strings.Repeat("é", 36)
	wantRedirect(t, ag.post("/agent/pwagentco/password", form("password", good, "password_repeat", good)), "/agent/pwagentco/dash")
	l := e.client()
	l.get("/agent/pwagentco/login")
	wantStatus(t, l.post("/agent/pwagentco/login", form("email", "pia@pwagentco.example", "password", strings.Repeat("é", 35))), http.StatusUnauthorized)
	wantRedirect(t, l.post("/agent/pwagentco/login", form("email", "pia@pwagentco.example", "password", good)), "/agent/pwagentco/dash")
}

// TestSecretsNeverLogged: after a whole story, no password (organization, initial, agent's
// own, mistyped), customer token, session cookie or CSRF token is in the logs (ASVS 16.2.5).
func TestSecretsNeverLogged(t *testing.T) {
	e := newEnv(t)
	o := e.register("logco")
	o.browser.get("/dash")
	secrets := map[string]string{"organization password": o.password}
	r := o.browser.post("/agents", form("full_name", "Lou Logger", "email", "lou@logco.example"))
	m := initialPasswordRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no initial password")
	}
	secrets["initial password"] = m[1]
	ag := e.client()
	ag.get("/agent/logco/login")
	ag.post("/agent/logco/login", form("email", "lou@logco.example", "password", "Wrong-Agent-Guess-42"))
	secrets["mistyped agent password"] = "Wrong-Agent-Guess-42"
	wantRedirect(t, ag.post("/agent/logco/login", form("email", "lou@logco.example", "password", m[1])), "/agent/logco/password")
	ag.get("/agent/logco/password")
	wantRedirect(t, ag.post("/agent/logco/password", form("password", "Lou's own secret pw", "password_repeat", "Lou's own secret pw")), "/agent/logco/dash")
	secrets["agent password"] = "Lou's own secret pw"
	lou := agent{org: "logco", email: "lou@logco.example", password: "Lou's own secret pw", browser: ag}

	for i, name := range []string{"Tom Token", "Tia Token"} {
		c := isoOpenTicket(e, "logco", name, "token question")
		secrets[fmt.Sprintf("customer token %d", i)] = strings.TrimPrefix(c.page, "/customer/logco/t/")
		talk := e.engage(lou)
		lou.browser.post(talk+"/messages", form("message", "hi"), htmx)
		c.browser.post(c.page+"/messages", form("message", "hello"))
		c.browser.get(c.page + "/messages?after=0")
		c.browser.get(c.page + "/nope") // a 404 under the token
		secrets[fmt.Sprintf("customer %d session", i)] = c.browser.cookies[sessionCookie]
	}
	bad := e.client()
	bad.get("/login")
	bad.post("/login", form("email", o.email, "password", "Mistyped-Org-Secret-7"))
	secrets["mistyped organization password"] = "Mistyped-Org-Secret-7"
	bad.post("/agents", form("_csrf", "forged-csrf-value-123"))
	secrets["org session"] = o.browser.cookies[sessionCookie]
	secrets["org csrf token"] = o.browser.csrf
	o.browser.post("/logout", nil)

	logs := e.logs.String()
	if !strings.Contains(logs, "login failed") || !strings.Contains(logs, "agent onboarded") {
		t.Fatalf("the logs lack the expected events, so this test proves nothing:\n%s", logs)
	}
	for what, s := range secrets {
		if s == "" {
			t.Errorf("%s: empty secret", what)
			continue
		}
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain the %s %q", what, s)
		}
	}
}

// secTree lists every file under root (relative paths), leaving out the shared stores and
// SQLite's journal files, which change with every request.
func secTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		base := filepath.Base(p)
		if strings.HasPrefix(base, "sessions.db") || strings.HasPrefix(base, "catalog.db") {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestUsernamesAsFileNames: a username becomes part of a file name, so anything but 3–30
// lower-case letters and digits, and the site's own path names, are refused with no file and
// no catalog row (ASVS 2.2.1).
func TestUsernamesAsFileNames(t *testing.T) {
	e := newEnv(t)
	root := filepath.Dir(e.dir)
	before := secTree(t, root)
	c := e.client()
	c.get("/register")
	bad := []string{"../x", "..%2fx", "/etc/x", "a/b", `a\b`, ":memory:", "file::memory:", "x?mode=ro", "x#y",
		"CON", "ACME", "ab", "a", "", "a.b", "a-b", "acme\x00", strings.Repeat("a", 31),
		"register", "login", "logout", "dash", "agent", "agents", "customer", "assets", "healthz", "readyz",
		"conversation", "аcme", "ａcme"}
	for i, u := range bad {
		r := c.post("/register", form("name", "Bad Name Co", "website", "", "username", u,
			"email", fmt.Sprintf("bad%d@example.com", i), "password", "long enough password", "password_repeat", "long enough password"))
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("username %q: status %d, want 422", u, r.status)
			continue
		}
		if !r.has(`id="username-error"`) {
			t.Errorf("username %q: no message beside the field", u)
		}
	}
	if after := secTree(t, root); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
	}
	if all, err := e.cat.All(t.Context()); err != nil || len(all) != 0 {
		t.Errorf("catalog after refused names: %d rows, err %v", len(all), err)
	}

	// acme and acme2 are two tenants with two files.
	acme := e.register("acme")
	acme2 := e.register("acme2")
	for _, name := range []string{"tenantdesk-acme.db", "tenantdesk-acme2.db"} {
		if _, err := os.Stat(filepath.Join(e.dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	isoOpenTicket(e, "acme", "Ada Acme", "acme only question")
	if r := acme2.browser.get("/dash"); r.has("acme only question") {
		t.Error("acme2 sees acme's ticket")
	}
	if r := acme.browser.get("/dash"); !r.has("acme only question") {
		t.Error("acme lacks its ticket")
	}
	// Names in the URL are checked too.
	for _, u := range []string{"/..%2fx/open-ticket", "/CON/open-ticket", "/%2e%2e/open-ticket", "/agent/..%2fcatalog/login"} {
		if r := c.get(u); r.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", u, r.status)
		}
	}
}

// TestInvalidFormKeepsValues: 422 with a message beside the field and the typed values, never
// a password.
func TestInvalidFormKeepsValues(t *testing.T) {
	e := newEnv(t)
	o := e.register("formco")
	o.browser.get("/dash")
	c := e.client()
	c.get("/register")
	r := c.post("/register", form("name", "Gamma Ltd", "website", "https://gamma.example", "username", "gamma",
		"email", "not-an-email", "password", "Gamma secret pw 1", "password_repeat", "Gamma secret pw 1"))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	for _, want := range []string{`value="Gamma Ltd"`, `value="https://gamma.example"`, `value="gamma"`, `value="not-an-email"`, `id="email-error"`} {
		if !r.has(want) {
			t.Errorf("register 422 lacks %s", want)
		}
	}
	if r.has("Gamma secret pw 1") {
		t.Error("register 422 echoes the password")
	}

	r = c.post("/register", form("name", "Gamma Ltd", "website", "", "username", "gamma",
		"email", "boss@gamma.example", "password", "Gamma secret pw 1", "password_repeat", "Gamma secret pw 2"))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !r.has(`id="password_repeat-error"`) || r.has("Gamma secret pw") {
		t.Errorf("mismatched passwords: message %v, password echoed %v", r.has(`id="password_repeat-error"`), r.has("Gamma secret pw"))
	}

	cu := e.client()
	cu.get("/formco/open-ticket")
	r = cu.post("/formco/open-ticket", form("customer_name", "Quinn Query", "customer_email", "quinn@", "query", "keep my question"))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	for _, want := range []string{`value="Quinn Query"`, `value="quinn@"`, "keep my question", `id="customer_email-error"`} {
		if !r.has(want) {
			t.Errorf("open-ticket 422 lacks %s", want)
		}
	}

	r = o.browser.post("/agents", form("full_name", "Ann Invalid", "email", "ann at example"))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !r.has(`value="Ann Invalid"`) || !r.has(`id="agent-email-error"`) || r.has(`id="agent-initial-password"`) {
		t.Errorf("onboard 422: name kept %v, message %v", r.has(`value="Ann Invalid"`), r.has(`id="agent-email-error"`))
	}

	l := e.client()
	l.get("/login")
	r = l.post("/login", form("email", "who@example.com", "password", ""))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !r.has(`value="who@example.com"`) || !r.has(`id="password-error"`) {
		t.Errorf("login 422: email kept %v, message %v", r.has(`value="who@example.com"`), r.has(`id="password-error"`))
	}
}

// TestDuplicates: a taken username or email (in any case) is 409 with the form again.
func TestDuplicates(t *testing.T) {
	e := newEnv(t)
	o := e.register("dupco")
	o.browser.get("/dash")
	c := e.client()
	c.get("/register")
	for _, tc := range []struct {
		name, username, email, errID string
	}{
		{"same username", "dupco", "other@example.com", `id="username-error"`},
		{"same email, other case", "dupco2", "DUPCO@Example.com", `id="email-error"`},
	} {
		r := c.post("/register", form("name", "Dup Co", "website", "", "username", tc.username, "email", tc.email,
			"password", "long enough password", "password_repeat", "long enough password"))
		if r.status != http.StatusConflict || !r.has(tc.errID) {
			t.Errorf("%s: status %d (want 409), message %v", tc.name, r.status, r.has(tc.errID))
		}
		if !r.has(`value="` + tc.username + `"`) {
			t.Errorf("%s: the username is not kept", tc.name)
		}
	}
	if _, err := e.cat.ByUsername(t.Context(), "dupco2"); err == nil {
		t.Error("dupco2 was created with a taken email")
	}
	wantStatus(t, o.browser.post("/agents", form("full_name", "Dan Dup", "email", "dan@dupco.example")), http.StatusOK)
	r := o.browser.post("/agents", form("full_name", "Dan Again", "email", "DAN@dupco.example"))
	if r.status != http.StatusConflict || !r.has(`id="agent-email-error"`) {
		t.Errorf("duplicate agent email: status %d, want 409 with a message", r.status)
	}
}

var alertRE = regexp.MustCompile(`class="error-message" role="alert">([^<]*)<`)

// TestWrongCredentials: 401 with one message for a wrong password and an unknown account;
// an unknown organization's agent login is 404.
func TestWrongCredentials(t *testing.T) {
	e := newEnv(t)
	o := e.register("credco")
	a := e.onboard(o, "Cal Cred")
	c := e.client()
	message := func(r response) string {
		m := alertRE.FindStringSubmatch(r.body)
		if m == nil {
			return ""
		}
		return m[1]
	}
	for _, tc := range []struct {
		name, page, email, password string
		want                        int
	}{
		{"org wrong password", "/login", o.email, o.password + "x", 401},
		{"org unknown email", "/login", "nobody@example.com", o.password, 401},
		{"org other case email, wrong password", "/login", strings.ToUpper(o.email), "wrong password", 401},
		{"agent wrong password", "/agent/credco/login", a.email, a.password + "x", 401},
		{"agent unknown email", "/agent/credco/login", "nobody@credco.example", a.password, 401},
		{"org password at agent login", "/agent/credco/login", o.email, o.password, 401},
		{"agent password at org login", "/login", a.email, a.password, 401},
	} {
		c.get(tc.page)
		r := c.post(tc.page, form("email", tc.email, "password", tc.password))
		if r.status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, r.status, tc.want)
			continue
		}
		if got := message(r); got != "Wrong email or password." {
			t.Errorf("%s: message %q, want the one generic message", tc.name, got)
		}
		if r.has(tc.password) {
			t.Errorf("%s: the password is echoed", tc.name)
		}
		if _, ok := c.cookies[sessionCookie]; ok && c.get("/dash").status == http.StatusOK {
			t.Fatalf("%s: logged in", tc.name)
		}
	}
	wantStatus(t, c.get("/agent/nope/login"), http.StatusNotFound)
	c.get("/login")
	wantStatus(t, c.post("/agent/nope/login", form("email", a.email, "password", a.password)), http.StatusNotFound)
}

// TestRateLimit: the 4th login in a window is 429 with Retry-After; X-Forwarded-For from an
// untrusted client changes nothing; another organization's agent login has its own counter
// (ASVS 6.3.1).
func TestRateLimit(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = 3
	cfg.RateWindow = time.Minute
	e := newEnv(t, cfg)
	o := e.register("alpha")
	e.register("beta")
	c := e.client()
	c.get("/login")
	try := func(path string, hdr map[string]string) response {
		return c.post(path, form("email", o.email, "password", "wrong password"), hdr)
	}
	for i := 1; i <= 3; i++ {
		if r := try("/login", nil); r.status != http.StatusUnauthorized {
			t.Fatalf("login attempt %d: status %d, want 401", i, r.status)
		}
	}
	r := try("/login", nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("4th login: status %d Retry-After %q, want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	for _, h := range []map[string]string{
		{"X-Forwarded-For": "198.51.100.7"},
		{"X-Real-IP": "198.51.100.8"},
		{"X-Forwarded-For": "198.51.100.9, 203.0.113.1", "Forwarded": "for=198.51.100.9"},
	} {
		if r := try("/login", h); r.status != http.StatusTooManyRequests {
			t.Errorf("login with %v: status %d, want 429", h, r.status)
		}
	}
	// Even the right password waits.
	if r := c.post("/login", form("email", o.email, "password", o.password)); r.status != http.StatusTooManyRequests {
		t.Errorf("right password while limited: status %d, want 429", r.status)
	}

	// Agent logins: alpha's counter runs out, beta's is untouched.
	c.get("/agent/alpha/login")
	for i := 1; i <= 3; i++ {
		if r := try("/agent/alpha/login", nil); r.status != http.StatusUnauthorized {
			t.Fatalf("alpha agent login %d: status %d, want 401", i, r.status)
		}
	}
	if r := try("/agent/alpha/login", nil); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("4th alpha agent login: status %d, want 429 with Retry-After", r.status)
	}
	c.get("/agent/beta/login")
	if r := try("/agent/beta/login", nil); r.status != http.StatusUnauthorized {
		t.Errorf("beta agent login after alpha's limit: status %d, want 401", r.status)
	}
}

// TestHealth: /healthz while serving; /readyz follows readiness and the catalog.
func TestHealth(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	wantStatus(t, c.get("/healthz"), http.StatusOK)
	wantStatus(t, c.get("/readyz"), http.StatusOK)
	e.srv.SetReady(false)
	wantStatus(t, c.get("/readyz"), http.StatusServiceUnavailable)
	wantStatus(t, c.get("/healthz"), http.StatusOK)
	e.srv.SetReady(true)
	wantStatus(t, c.get("/readyz"), http.StatusOK)
	e.cat.DB().Close()
	r := c.get("/readyz")
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the catalog closed: status %d, want 503", r.status)
	}
	if leaks := secLeaks(e, r.body); len(leaks) > 0 {
		t.Errorf("readyz body shows %v: %q", leaks, r.body)
	}
}

// TestErrorPageKeepsSession: an error page shown while a one-time message is pending (right
// after registration, closing a ticket, opening a ticket) leaves the visitor logged in.
func TestErrorPageKeepsSession(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, url string
		hdr       map[string]string
	}{
		{"unknown page", "/no/such/page", nil},
		{"unknown conversation", "/conversation/999", nil},
		{"method not allowed", "/logout", nil},
		{"unknown page htmx", "/no/such/page", htmx},
	} {
		name := "keep" + strings.ReplaceAll(strings.ReplaceAll(tc.name, " ", ""), "htmx", "hx")
		if len(name) > 30 {
			name = name[:30]
		}
		o := e.register(name) // leaves the welcome message pending
		before := o.browser.cookies[sessionCookie]
		r := o.browser.get(tc.url, tc.hdr)
		set := r.header.Values("Set-Cookie")
		if r := o.browser.get("/dash"); r.status != http.StatusOK {
			t.Errorf("%s right after registration: then /dash is %d (Location %q), want 200; the error page sent %q (cookie before: %q)",
				tc.name, r.status, r.header.Get("Location"), set, before)
		}
	}
}
