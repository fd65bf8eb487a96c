package handlers_test

// Regression tests for the findings of an adversarial review of the running server: each test is
// named after its finding and fails on the code the review ran against.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLoginEmailNULBypassesLockout: a NUL (or any control character) in the login email must
// neither log in past a locked account nor count wrong passwords under a key of its own. The
// limiter once keyed on the raw string while the database lookup stopped at the NUL.
func TestLoginEmailNULBypassesLockout(t *testing.T) {
	e := accountEnv(t, 0, 3)
	lock := e.register("lock")
	ann := e.onboard(lock, "Ann Agent")
	ip := 0
	login := func(path, email, pw string) response {
		ip++
		c := e.client()
		c.get(path, fromAddr(ip))
		return c.post(path, form("email", email, "password", pw), fromAddr(ip))
	}
	window := 15 * time.Minute
	for _, tc := range []struct {
		name, path, email, password, home string
	}{
		{"organization", "/login", lock.email, lock.password, "/dash"},
		{"agent", "/agent/lock/login", ann.email, ann.password, "/agent/lock/dash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Before any lock: an email with a control character is refused as invalid input,
			// with the right password too, and never reaches the account.
			// (Whitespace around the address is trimmed, as registration trims it.)
			for _, bad := range []string{"\x00zz", "\x00", "\x01", "\x7fzz", "\u0085zz", "\u200bzz"} {
				r := login(tc.path, tc.email+bad, tc.password)
				if r.status != http.StatusUnprocessableEntity {
					t.Fatalf("email %q with the right password: status %d (Location %q), want 422",
						tc.email+bad, r.status, r.header.Get("Location"))
				}
			}
			// Wrong passwords under NUL-suffixed spellings count for nothing: the account is
			// not locked by them, and they are not a way around the lock either.
			for i := range 5 {
				wantStatus(t, login(tc.path, fmt.Sprintf("%s\x00v%d", tc.email, i), "wrong password"),
					http.StatusUnprocessableEntity)
			}
			for range 3 {
				wantStatus(t, login(tc.path, tc.email, "wrong password"), http.StatusUnauthorized)
			}
			want429(t, "the right password once locked", login(tc.path, tc.email, tc.password), window)
			for _, spelling := range []string{tc.email + "\x00zz", strings.ToUpper(tc.email), " " + tc.email + " "} {
				r := login(tc.path, spelling, tc.password)
				if r.status == http.StatusSeeOther {
					t.Fatalf("locked account logged in as %q: %d → %s", spelling, r.status, r.header.Get("Location"))
				}
				if r.status != http.StatusTooManyRequests && r.status != http.StatusUnprocessableEntity {
					t.Fatalf("locked account as %q: status %d, want 429 or 422", spelling, r.status)
				}
			}
		})
	}
}

// TestNULTruncatesLongText: NUL and the other C0 controls (tab and newlines aside) are refused
// in every text field whatever its length; go-libsql passes strings to SQLite as C strings, so
// a NUL once cut "visible\x00HIDDEN" down to "visible".
func TestNULTruncatesLongText(t *testing.T) {
	e := newEnv(t)
	o := e.register("nulco")
	a := e.onboard(o, "Nia Agent")
	open := func(name, email, query string) response {
		c := e.client()
		c.get("/nulco/open-ticket")
		return c.post("/nulco/open-ticket", form("customer_name", name, "customer_email", email, "query", query))
	}
	for _, tc := range []struct{ field, name, email, query string }{
		{"query", "Carla", "carla@example.net", "visible\x00HIDDEN"},
		{"query", "Carla", "carla@example.net", "escape \x1b[2J sequence"},
		{"query", "Carla", "carla@example.net", "bell\x07"},
		{"query", "Carla", "carla@example.net", "next line \u0085 control"},
		{"customer_name", "Carla\x07", "carla@example.net", "question"},
		{"customer_name", "Carla\x00Evil", "carla@example.net", "question"},
		{"customer_email", "Carla", "carla@example.net\x00x", "question"},
	} {
		r := open(tc.name, tc.email, tc.query)
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s %q: status %d, want 422", tc.field, tc.name+tc.email+tc.query, r.status)
		}
	}
	// Tabs and newlines are text, kept as typed (CRLF becomes LF).
	r := open("Carla", "carla@example.net", "line one\r\n\tindented line two")
	wantStatus(t, r, http.StatusSeeOther)
	talk := e.engage(a)
	page := a.browser.get(talk)
	if !page.has("line one\n\tindented line two") {
		t.Fatalf("the question with a tab and a newline was not kept:\n%.2000s", page.body)
	}
	// Messages, agent names and organization names alike.
	for _, msg := range []string{"zqx\x00there", "zqx\x01", "\x1b[31mzqx"} {
		r := a.browser.post(talk+"/messages", form("message", msg))
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("message %q: status %d, want 422", msg, r.status)
		}
	}
	if r := a.browser.get(talk); r.has("zqx") {
		t.Errorf("a refused message was stored:\n%.2000s", r.body)
	}
	o.browser.get("/dash")
	if r := o.browser.post("/agents", form("full_name", "Ned\x00Nul", "email", "ned@nulco.example")); r.status != http.StatusUnprocessableEntity {
		t.Errorf("agent name with NUL: status %d, want 422", r.status)
	}
	reg := e.client()
	reg.get("/register")
	r = reg.post("/register", form("name", "Nul\x00Org", "website", "", "username", "nulorg", "email", "boss@nulorg.example",
		"password", "long enough password", "password_repeat", "long enough password"))
	if r.status != http.StatusUnprocessableEntity {
		t.Errorf("organization name with NUL: status %d, want 422", r.status)
	}
}

// TestAgentPasswordChangeWithSessionAlone: once its one-time password is gone, an agent changes
// its password only with its current one; failures count like a login; a change ends the
// agent's other sessions. A stolen session alone must not become a permanent takeover.
func TestAgentPasswordChangeWithSessionAlone(t *testing.T) {
	e := accountEnv(t, 0, 3)
	o := e.register("pwco")
	a := e.onboard(o, "Pat Agent") // the one-time password needed no current password
	other := e.client()
	other.get("/agent/pwco/login")
	wantRedirect(t, other.post("/agent/pwco/login", form("email", a.email, "password", a.password)), "/agent/pwco/dash")

	page := a.browser.get("/agent/pwco/password")
	wantStatus(t, page, http.StatusOK)
	if !page.has(`name="current_password"`) {
		t.Fatalf("the agent's password page asks no current password:\n%.2000s", page.body)
	}
	if !a.browser.get("/agent/pwco/dash").has(`href="/agent/pwco/password"`) {
		t.Error("the agent dashboard does not link to the password page")
	}
	a.browser.get("/agent/pwco/password")
	const next = "a brand new agent secret"
	change := func(current string, ip int) response {
		return a.browser.post("/agent/pwco/password", form("current_password", current,
			"password", next, "password_repeat", next), fromAddr(ip))
	}
	r := a.browser.post("/agent/pwco/password", form("password", next, "password_repeat", next), fromAddr(1))
	if r.status != http.StatusUnauthorized || !r.has("current_password-error") {
		t.Fatalf("change without the current password: status %d, want 401 with the field's error:\n%.1500s", r.status, r.body)
	}
	wantStatus(t, change("wrong password", 2), http.StatusUnauthorized)
	wantStatus(t, change("wrong again", 3), http.StatusUnauthorized)
	want429(t, "the right current password after 3 failures", change(a.password, 4), 15*time.Minute)
	wantStatus(t, other.get("/agent/pwco/dash"), http.StatusOK)
	// The lock is this agent's alone: a second agent changes its password.
	b := e.onboard(o, "Bo Agent")
	b.browser.get("/agent/pwco/password")
	wantRedirect(t, b.browser.post("/agent/pwco/password", form("current_password", b.password,
		"password", next, "password_repeat", next), fromAddr(5)), "/agent/pwco/dash")

	// A fresh server with the counters cleared: a good change ends every other session.
	e2 := accountEnv(t, 0, 3)
	o2 := e2.register("pwco")
	a2 := e2.onboard(o2, "Pat Agent")
	other2 := e2.client()
	other2.get("/agent/pwco/login")
	wantRedirect(t, other2.post("/agent/pwco/login", form("email", a2.email, "password", a2.password)), "/agent/pwco/dash")
	a2.browser.get("/agent/pwco/password")
	wantRedirect(t, a2.browser.post("/agent/pwco/password", form("current_password", a2.password,
		"password", next, "password_repeat", next)), "/agent/pwco/dash")
	wantStatus(t, a2.browser.get("/agent/pwco/dash"), http.StatusOK)
	wantRedirect(t, other2.get("/agent/pwco/dash"), "/agent/pwco/login")
	fresh := e2.client()
	fresh.get("/agent/pwco/login")
	wantStatus(t, fresh.post("/agent/pwco/login", form("email", a2.email, "password", a2.password)), http.StatusUnauthorized)
	wantRedirect(t, fresh.post("/agent/pwco/login", form("email", a2.email, "password", next)), "/agent/pwco/dash")
}

// rawRequest writes req (a whole HTTP/1.1 request head, and body if any) to the server at base
// and returns its answer.
func rawRequest(t *testing.T, base, req string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return res
}

// securityHeaderNames are the headers every answer must carry, with the same values as a page.
var securityHeaderNames = []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
	"Referrer-Policy", "Cross-Origin-Opener-Policy", "Cross-Origin-Resource-Policy", "Cross-Origin-Embedder-Policy",
	"Origin-Agent-Cluster", "X-DNS-Prefetch-Control", "X-Download-Options", "X-Permitted-Cross-Domain-Policies",
	"X-XSS-Protection", "Cache-Control"}

// TestErrorsBeforeMiddlewareLackSecurityHeaders: answers written before the middleware chain
// runs (a body over the limit, an oversized URL or header, an unknown method) carry the same
// security headers as every page.
func TestErrorsBeforeMiddlewareLackSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	e.register("hdrco")
	base := e.listen()
	host := strings.TrimPrefix(base, "http://")
	ref := rawRequest(t, base, "GET /login HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	if ref.StatusCode != http.StatusOK {
		t.Fatalf("reference page: %d", ref.StatusCode)
	}
	for _, name := range securityHeaderNames {
		if ref.Header.Get(name) == "" {
			t.Fatalf("the reference page lacks %s", name)
		}
	}
	for _, tc := range []struct {
		name   string
		req    string
		status int
	}{
		{"300 KB POST", fmt.Sprintf("POST /hdrco/open-ticket HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
			"Content-Length: %d\r\n\r\nquery=a", host, 300<<10), http.StatusRequestEntityTooLarge},
		{"9,000-character URL", "GET /?" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge},
		{"20 KB header", "GET / HTTP/1.1\r\nHost: " + host + "\r\nX-Big: " + strings.Repeat("b", 20<<10) + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge},
		{"PROPFIND", "PROPFIND / HTTP/1.1\r\nHost: " + host + "\r\n\r\n", http.StatusBadRequest},
		{"not found", "GET /no/such/page HTTP/1.1\r\nHost: " + host + "\r\n\r\n", http.StatusNotFound},
	} {
		res := rawRequest(t, base, tc.req)
		if res.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, res.StatusCode, tc.status)
			continue
		}
		for _, name := range securityHeaderNames {
			if got, want := res.Header.Get(name), ref.Header.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q as on every page", tc.name, name, got, want)
			}
		}
	}
}

// cardRE finds the landing page's organization cards; tagRE strips tags from one.
var (
	cardRE = regexp.MustCompile(`(?s)<li class="org-card">(.*?)</li>`)
	tagRE  = regexp.MustCompile(`<[^>]*>`)
)

// TestNameImpersonation: names refuse bidi controls and invisible format characters, and two
// organizations of the same name and website are told apart on the landing page by their
// usernames.
func TestNameImpersonation(t *testing.T) {
	e := newEnv(t)
	o := e.register("nameco")
	registerAs := func(name, username string) response {
		c := e.client()
		c.get("/register")
		return c.post("/register", form("name", name, "website", "https://alpha.test", "username", username,
			"email", "boss@"+username+".example", "password", "long enough password", "password_repeat", "long enough password"))
	}
	invisible := map[string]string{
		"right-to-left override": "\u202e", "left-to-right isolate": "\u2066", "pop directional isolate": "\u2069",
		"right-to-left mark": "\u200f", "arabic letter mark": "\u061c", "zero-width space": "\u200b",
		"zero-width joiner": "\u200d", "word joiner": "\u2060", "byte order mark": "\ufeff", "soft hyphen": "\u00ad",
		"variation selector": "\ufe0f", "hangul filler": "\u3164", "braille blank": "\u2800", "tag character": "\U000e0041",
		"line separator": "\u2028", "combining grapheme joiner": "\u034f",
	}
	o.browser.get("/dash")
	n := 0
	for what, r := range invisible {
		n++
		if got := registerAs("Alpha"+r+"Org", fmt.Sprintf("spoof%d", n)); got.status != http.StatusUnprocessableEntity {
			t.Errorf("organization name with a %s: status %d, want 422", what, got.status)
		}
		if got := o.browser.post("/agents", form("full_name", "Nora"+r+" Agent", "email", fmt.Sprintf("nora%d@nameco.example", n))); got.status != http.StatusUnprocessableEntity {
			t.Errorf("agent name with a %s: status %d, want 422", what, got.status)
		}
		c := e.client()
		c.get("/nameco/open-ticket")
		if got := c.post("/nameco/open-ticket", form("customer_name", "Car"+r+"la", "customer_email", "carla@example.net",
			"query", "hello")); got.status != http.StatusUnprocessableEntity {
			t.Errorf("customer name with a %s: status %d, want 422", what, got.status)
		}
	}
	// Visible text of any script passes, and so may a text field's own content (messages keep
	// what people type: a right-to-left mark belongs in Arabic and Hebrew prose).
	wantRedirect(t, registerAs("Ålpha Ørg — Zürich 北京 ☕ عربى", "intl"), "/dash")

	// Two organizations with the same name and website: each card shows its own username.
	wantRedirect(t, registerAs("Alpha Org", "alpha"), "/dash")
	wantRedirect(t, registerAs("Alpha Org", "alphafake"), "/dash")
	home := e.client().get("/")
	seen := 0
	for _, m := range cardRE.FindAllStringSubmatch(home.body, -1) {
		text := tagRE.ReplaceAllString(m[1], " ")
		if !strings.Contains(text, "Alpha Org") {
			continue
		}
		seen++
		href := regexp.MustCompile(`href="/([a-z0-9]+)/open-ticket"`).FindStringSubmatch(m[1])
		if href == nil {
			t.Fatalf("a card without its ticket link:\n%s", m[1])
		}
		if !strings.Contains(text, "@"+href[1]) {
			t.Errorf("the card of %s does not show its username:\n%s", href[1], m[1])
		}
	}
	if seen != 2 {
		t.Fatalf("found %d cards named Alpha Org, want 2:\n%.3000s", seen, home.body)
	}
}

// TestDeleteReregisterUnderPolls: an organization is deleted and its username registered again
// while its agent, owner and customer keep polling the old conversation. No poll fails with an
// internal error, no old link reaches the new organization, and the new organization's data
// survives a restart (run with -race, as make test does).
func TestDeleteReregisterUnderPolls(t *testing.T) {
	e := newEnv(t)
	logs := e.logs
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	cust := e.openTicket("acme", "First life")
	talk := e.engage(ann)
	conv := strings.TrimPrefix(talk, "/agent/acme/talk/")
	wantStatus(t, ann.browser.post(talk+"/messages", form("message", "old reply")), http.StatusSeeOther)
	acme.browser.get("/dash")

	type poller struct {
		path    string
		cookies map[string]string
	}
	copyCookies := func(c *client) map[string]string {
		m := map[string]string{}
		for k, v := range c.cookies {
			m[k] = v
		}
		return m
	}
	pollers := []poller{
		{cust.page + "/messages?after=0", copyCookies(cust.browser)},
		{talk + "/messages?after=0", copyCookies(ann.browser)},
		{"/conversation/" + conv + "/messages?after=0", copyCookies(acme.browser)},
		{cust.page, copyCookies(cust.browser)},
	}
	stop := make(chan struct{})
	type result struct {
		polls    int
		statuses map[int]int
		err      error
	}
	results := make(chan result, len(pollers)*2)
	for i := range 2 * len(pollers) {
		p := pollers[i%len(pollers)]
		go func() {
			res := result{statuses: map[int]int{}}
			defer func() { results <- res }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				req.Header.Set("HX-Request", "true")
				var cookie []string
				for k, v := range p.cookies {
					cookie = append(cookie, k+"="+v)
				}
				req.Header.Set("Cookie", strings.Join(cookie, "; "))
				resp, err := e.app.Test(req, -1)
				if err != nil {
					res.err = err
					return
				}
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					res.err = err
				}
				resp.Body.Close()
				res.polls++
				res.statuses[resp.StatusCode]++
			}
		}()
	}

	wantRedirect(t, acme.browser.post("/dash/delete", form("confirm_name", "acme", "password", acme.password)), "/")
	again := e.register("acme")
	bob := e.onboard(again, "Bob Agent")
	second := e.openTicket("acme", "Second life")
	talk2 := e.engage(bob)
	for i := range 5 {
		wantStatus(t, bob.browser.post(talk2+"/messages", form("message", fmt.Sprintf("new reply %d", i))), http.StatusSeeOther)
		wantStatus(t, second.browser.post(second.page+"/messages", form("message", fmt.Sprintf("new question %d", i))), http.StatusSeeOther)
	}
	close(stop)
	total := 0
	for range 2 * len(pollers) {
		res := <-results
		if res.err != nil {
			t.Fatalf("a poll failed: %v", res.err)
		}
		total += res.polls
		for status, n := range res.statuses {
			switch status {
			case http.StatusOK, http.StatusNoContent, http.StatusUnauthorized, http.StatusSeeOther, http.StatusNotFound:
			case http.StatusServiceUnavailable:
				// A request that looked the organization up just before the deletion finds
				// its database gone; it never opens the new one (stillRegistered).
			default:
				t.Errorf("%d polls answered %d", n, status)
			}
		}
	}
	if total < 2*len(pollers) {
		t.Fatalf("the pollers made %d requests in all, want at least one each", total)
	}
	t.Logf("%d polls during the deletion and re-registration", total)

	// After a restart the new organization has everything it wrote, and the old links show
	// nothing of it.
	e = e.restart()
	again.browser.on(e)
	bob.browser.on(e)
	second.browser.on(e)
	cust.browser.on(e)
	r := bob.browser.get(talk2)
	wantStatus(t, r, http.StatusOK)
	for i := range 5 {
		for _, want := range []string{fmt.Sprintf("new reply %d", i), fmt.Sprintf("new question %d", i)} {
			if !r.has(want) {
				t.Errorf("after a restart the new organization's conversation lacks %q", want)
			}
		}
	}
	if r.has("old reply") || r.has("First life") {
		t.Error("the new organization's conversation shows the deleted one's messages")
	}
	wantStatus(t, cust.browser.get(cust.page), http.StatusNotFound)
	if d := again.browser.get("/dash"); d.status != http.StatusOK || !d.has("Second life") || d.has("First life") {
		t.Errorf("the new organization's dashboard after a restart: %d, Second life %v, First life %v",
			d.status, d.has("Second life"), d.has("First life"))
	}
}

// TestCSRFTokenAcceptedFromQueryString: a token in the URL (which logs and Referer headers
// keep) is no token: only the form body or the X-CSRF-Token header count.
func TestCSRFTokenAcceptedFromQueryString(t *testing.T) {
	e := newEnv(t)
	o := e.register("queryco")
	o.browser.get("/dash")
	token := o.browser.csrf
	for _, hdr := range []map[string]string{nil, htmx} {
		f := form("full_name", "Query Victim", "email", "victim@queryco.example")
		f["_csrf"] = []string{""}
		if r := o.browser.post("/agents?_csrf="+token, f, hdr); r.status != http.StatusForbidden {
			t.Errorf("token in the query string (htmx %v): status %d, want 403", hdr != nil, r.status)
		}
		o.browser.csrf = token
	}
	if r := o.browser.get("/dash"); r.has("victim@queryco.example") {
		t.Fatal("an agent was onboarded with the token in the URL")
	}
	// The same token in the body is accepted: the refusal above was about where it was.
	r := o.browser.post("/agents", form("full_name", "Query Victim", "email", "victim@queryco.example"))
	if r.status != http.StatusOK || !r.has(`id="agent-initial-password"`) {
		t.Fatalf("the token in the body: status %d", r.status)
	}
}

// TestCrossSitePostsNotRefusedByOrigin: a state-changing request that a browser marks as
// coming from another site — an Origin that is not the app's own (PUBLIC_URL when set, the
// request's host otherwise), Origin: null, or Sec-Fetch-Site: cross-site — is refused even with
// a valid token; the app's own origin and same-origin requests pass.
func TestCrossSitePostsNotRefusedByOrigin(t *testing.T) {
	for _, public := range []string{"", "https://help.example.org"} {
		t.Run("PUBLIC_URL="+public, func(t *testing.T) {
			cfg := testConfig()
			cfg.PublicURL = public
			e := newEnv(t, cfg)
			o := e.register("originco")
			own := "http://example.com" // httptest's requests go to example.com
			if public != "" {
				own = public
			}
			n := 0
			onboard := func(hdr map[string]string) response {
				n++
				o.browser.get("/dash")
				return o.browser.post("/agents", form("full_name", fmt.Sprintf("Agent %d", n),
					"email", fmt.Sprintf("agent%d@originco.example", n)), hdr)
			}
			refused := []map[string]string{
				{"Origin": "http://evil.test"},
				{"Origin": "null"},
				{"Sec-Fetch-Site": "cross-site"},
				{"Origin": own, "Sec-Fetch-Site": "cross-site"},
				{"Origin": own + ".evil.test"},
			}
			if public != "" {
				// The request's own host is not the app's origin once PUBLIC_URL says what is.
				refused = append(refused, map[string]string{"Origin": "http://example.com"})
			}
			for _, hdr := range refused {
				if r := onboard(hdr); r.status != http.StatusForbidden {
					t.Errorf("%v: status %d, want 403", hdr, r.status)
				}
			}
			for _, hdr := range []map[string]string{
				nil, // no Origin at all (an old browser, or a same-origin GET-form navigation)
				{"Origin": own},
				{"Origin": own, "Sec-Fetch-Site": "same-origin"},
				{"Sec-Fetch-Site": "none"}, // typed into the address bar
			} {
				if r := onboard(hdr); r.status != http.StatusOK || !r.has(`id="agent-initial-password"`) {
					t.Errorf("%v: status %d, want 200", hdr, r.status)
				}
			}
		})
	}
}
