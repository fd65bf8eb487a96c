package handlers_test

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// tenantDo runs fn on an organization's tenant database (as the registry lends it), behind
// the desk's back.
func (e *env) tenantDo(orgUser string, fn func(db *sql.DB, exec func(q string, args ...any))) {
	e.t.Helper()
	org, err := e.cat.ByUsername(e.t.Context(), orgUser)
	if err != nil {
		e.t.Fatal(err)
	}
	h, err := e.reg.Acquire(e.t.Context(), org)
	if err != nil {
		e.t.Fatal(err)
	}
	defer h.Release()
	fn(h.DB, func(q string, args ...any) {
		if _, err := h.DB.ExecContext(e.t.Context(), q, args...); err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
	})
}

// agentID looks an agent up by email.
func (e *env) agentID(orgUser, email string) string {
	e.t.Helper()
	var id int64
	e.tenantDo(orgUser, func(db *sql.DB, _ func(string, ...any)) {
		if err := db.QueryRowContext(e.t.Context(), "SELECT id FROM agents WHERE email = ?", email).Scan(&id); err != nil {
			e.t.Fatal(err)
		}
	})
	return strconv.FormatInt(id, 10)
}

// ageInitialPasswords makes every one-time password of orgUser older than d, writing to the
// tenant's file on a connection of its own, as another process would: the server sees it when
// its watcher next looks (within about a second).
func (e *env) ageInitialPasswords(orgUser string, d time.Duration) {
	e.t.Helper()
	db, err := sqlite.Open(filepath.Join(e.dir, "tenantdesk-"+orgUser+".db"), 1)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE agents SET updated_at = updated_at - ? WHERE must_change_password = 1", int64(d.Seconds())); err != nil {
		e.t.Fatal(err)
	}
}

// eventually retries check until it holds, for at most d.
func eventually(t *testing.T, d time.Duration, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loginAgent logs a fresh browser in as an agent and returns it.
func (e *env) loginAgent(orgUser, email, password, wantLocation string) *client {
	e.t.Helper()
	c := e.client()
	c.get("/agent/" + orgUser + "/login")
	wantRedirect(e.t, c.post("/agent/"+orgUser+"/login", form("email", email, "password", password)), wantLocation)
	return c
}

// wantLoggedOut checks that a browser's agent session is dead, as a page and as an htmx poll.
func wantLoggedOut(t *testing.T, c *client, page, loginURL string) {
	t.Helper()
	if r := c.get(page, htmx); r.status != http.StatusUnauthorized || r.header.Get("HX-Redirect") != loginURL {
		t.Errorf("htmx %s after revocation: status %d HX-Redirect %q, want 401 to %s", page, r.status, r.header.Get("HX-Redirect"), loginURL)
	}
	wantRedirect(t, c.get(page), loginURL)
}

// TestRemoveAgent: removing an agent ends its sessions at once (every browser, pages and
// polls), its password stops working, its conversation stays readable to the organization and
// goes back to the queue, where another agent takes it over with its history; a reset restores
// the agent with a new one-time password (ASVS 7.4.2, 8.3.2).
func TestRemoveAgent(t *testing.T) {
	e := newEnv(t)
	o := e.register("remco")
	ann := e.onboard(o, "Ann Leaving")
	ben := e.onboard(o, "Ben Staying")
	annPhone := e.loginAgent("remco", ann.email, ann.password, "/agent/remco/dash")
	cust := e.openTicket("remco", "who will help me now")
	cust.browser.get(cust.page)
	talk := e.engage(ann)
	wantStatus(t, ann.browser.post(talk+"/messages", form("message", "history from ann"), htmx), http.StatusOK)
	conv := strings.TrimPrefix(talk, "/agent/remco/talk/")
	id := e.agentID("remco", ann.email)

	o.browser.get("/dash")
	wantRedirect(t, o.browser.post("/agents/"+id+"/remove", nil), "/dash")
	r := o.browser.get("/dash")
	if !r.has("Ann Leaving was removed") || !regexp.MustCompile(`id="agent-`+id+`"[^>]*data-removed`).MatchString(r.body) {
		t.Errorf("dashboard after removal lacks the flash or the removed mark:\n%.3000s", r.body)
	}

	for _, c := range []*client{ann.browser, annPhone} {
		wantLoggedOut(t, c, talk+"/messages?after=0", "/agent/remco/login")
		wantLoggedOut(t, c, "/agent/remco/dash", "/agent/remco/login")
	}
	l := e.client()
	l.get("/agent/remco/login")
	if r := l.post("/agent/remco/login", form("email", ann.email, "password", ann.password)); r.status != http.StatusUnauthorized || !r.has("Wrong email or password.") {
		t.Errorf("removed agent's login: status %d, want 401 with the usual message", r.status)
	}

	// The organization still reads the conversation, with who unassigned it; the customer
	// still sees its history, waits for an agent, and may keep writing meanwhile.
	if r := o.browser.get("/conversation/" + conv); r.status != http.StatusOK || !r.has("history from ann") || !r.has("who will help me now") ||
		!r.has("unassigned Ann Leaving") {
		t.Errorf("organization's view of the removed agent's conversation: status %d\n%.3000s", r.status, r.body)
	}
	r = cust.browser.get(cust.page)
	if r.status != http.StatusOK || !r.has("history from ann") || !r.has("waiting for an agent") || r.has("unassigned") {
		t.Errorf("customer page after the removal: status %d, history %v, waiting %v", r.status, r.has("history from ann"), r.has("waiting for an agent"))
	}
	wantStatus(t, cust.browser.post(cust.page+"/messages", form("message", "hello?")), http.StatusSeeOther)

	// Ben takes the conversation over: the same conversation, history included.
	if got := e.engage(ben); got != talk {
		t.Fatalf("Ben engaged %s, want the queued conversation %s", got, talk)
	}
	wantStatus(t, ben.browser.post(talk+"/messages", form("message", "ben here now"), htmx), http.StatusOK)
	r = cust.browser.get(cust.page)
	if !r.has("history from ann") || !r.has("ben here now") || !r.has("an agent is helping you") {
		t.Errorf("customer page after the takeover lacks the history or Ben's reply:\n%.3000s", r.body)
	}
	wantStatus(t, cust.browser.post(cust.page+"/messages", form("message", "thanks ben")), http.StatusSeeOther)

	// A reset restores Ann with a new one-time password; her old password stays dead.
	o.browser.get("/dash")
	r = o.browser.post("/agents/"+id+"/reset-password", nil)
	wantStatus(t, r, http.StatusOK)
	m := initialPasswordRE.FindStringSubmatch(r.body)
	if m == nil || !r.has("has a new one-time password") {
		t.Fatalf("reset answered without a new one-time password:\n%.2000s", r.body)
	}
	if strings.Contains(e.logs.String(), m[1]) {
		t.Error("the new one-time password is in the logs")
	}
	wantStatus(t, l.post("/agent/remco/login", form("email", ann.email, "password", ann.password)), http.StatusUnauthorized)
	e.loginAgent("remco", ann.email, m[1], "/agent/remco/password")

	// Unknown and malformed ids.
	for _, bad := range []string{"999", "0", "-1", "x", "1e3"} {
		if r := o.browser.post("/agents/"+bad+"/remove", nil); r.status != http.StatusNotFound {
			t.Errorf("remove agent %q: status %d, want 404", bad, r.status)
		}
	}
	// Ben was never affected.
	wantStatus(t, ben.browser.get("/agent/remco/dash"), http.StatusOK)
}

// TestAgentPasswordResetEndsSessions: the organization's reset ends the agent's sessions and
// its old password; an agent that changes its own password keeps the browser it did it in
// and loses every other (ASVS 7.4.3).
func TestAgentPasswordResetEndsSessions(t *testing.T) {
	e := newEnv(t)
	o := e.register("resetco")
	a := e.onboard(o, "Rita Reset")
	id := e.agentID("resetco", a.email)
	other := e.loginAgent("resetco", a.email, a.password, "/agent/resetco/dash")

	// Own change in one browser: the other one is logged out.
	a.browser.get("/agent/resetco/password")
	wantRedirect(t, a.browser.post("/agent/resetco/password", form("current_password", a.password,
		"password", "rita second secret", "password_repeat", "rita second secret")), "/agent/resetco/dash")
	wantStatus(t, a.browser.get("/agent/resetco/dash"), http.StatusOK)
	wantLoggedOut(t, other, "/agent/resetco/dash", "/agent/resetco/login")

	// The organization's reset: the agent's own browser is logged out too.
	o.browser.get("/dash")
	r := o.browser.post("/agents/"+id+"/reset-password", nil)
	wantStatus(t, r, http.StatusOK)
	m := initialPasswordRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no one-time password after the reset")
	}
	wantLoggedOut(t, a.browser, "/agent/resetco/dash", "/agent/resetco/login")
	l := e.client()
	l.get("/agent/resetco/login")
	wantStatus(t, l.post("/agent/resetco/login", form("email", a.email, "password", "rita second secret")), http.StatusUnauthorized)
	c := e.loginAgent("resetco", a.email, m[1], "/agent/resetco/password")
	wantRedirect(t, c.get("/agent/resetco/dash"), "/agent/resetco/password")
}

// TestInitialPasswordExpires: a one-time password older than InitialPasswordTTL no longer logs
// in (with a message saying to ask for a new one), a session still on it ends, and a reset
// issues a fresh one (ASVS 6.4.1).
func TestInitialPasswordExpires(t *testing.T) {
	e := newEnv(t)
	o := e.register("expco")
	o.browser.get("/dash")
	r := o.browser.post("/agents", form("full_name", "Eve Late", "email", "eve@expco.example"))
	m := initialPasswordRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no initial password")
	}
	// Fresh: it logs in (to the set-your-password page).
	pending := e.loginAgent("expco", "eve@expco.example", m[1], "/agent/expco/password")
	wantStatus(t, pending.get("/agent/expco/password"), http.StatusOK)

	e.ageInitialPasswords("expco", 7*24*time.Hour+time.Minute)
	l := e.client()
	l.get("/agent/expco/login")
	r = l.post("/agent/expco/login", form("email", "eve@expco.example", "password", m[1]))
	if r.status != http.StatusUnauthorized || !r.has("expired") || !r.has("Ask your organization for a new one") {
		t.Errorf("expired one-time password: status %d, want 401 saying it expired:\n%.1500s", r.status, r.body)
	}
	eventually(t, 3*time.Second, "the session on an expired one-time password ends", func() bool {
		r := pending.get("/agent/expco/password")
		return r.status == http.StatusSeeOther && r.header.Get("Location") == "/agent/expco/login"
	})

	// A wrong password still says only "wrong": expiry is told only to the password's holder.
	if r := l.post("/agent/expco/login", form("email", "eve@expco.example", "password", "not the password")); r.has("expired") {
		t.Error("a wrong password learns that the account's password expired")
	}

	// The organization issues a new one.
	o.browser.get("/dash")
	r = o.browser.post("/agents/"+e.agentID("expco", "eve@expco.example")+"/reset-password", nil)
	m2 := initialPasswordRE.FindStringSubmatch(r.body)
	if m2 == nil || m2[1] == m[1] {
		t.Fatalf("reset gave %v", m2)
	}
	e.loginAgent("expco", "eve@expco.example", m2[1], "/agent/expco/password")

	// An agent's own password does not expire.
	a := e.onboard(o, "Olga Ownpassword")
	e.ageInitialPasswords("expco", 365*24*time.Hour)
	e.loginAgent("expco", a.email, a.password, "/agent/expco/dash")
}

// TestOrgPasswordChange: the organization re-authenticates with its current password (ASVS
// 7.5.1), the new password follows the password rules, and the change ends every other
// session of the organization but not the one that made it, nor the agents' sessions.
func TestOrgPasswordChange(t *testing.T) {
	e := newEnv(t)
	o := e.register("pwchco")
	a := e.onboard(o, "Ada Unaffected")
	second := e.client()
	second.get("/login")
	wantRedirect(t, second.post("/login", form("email", o.email, "password", o.password)), "/dash")

	wantStatus(t, o.browser.get("/dash/password"), http.StatusOK)
	const next = "a brand new org secret"
	for _, tc := range []struct {
		name    string
		f       map[string]string
		want    int
		errorID string
	}{
		{"wrong current password", map[string]string{"current_password": "not it at all", "password": next, "password_repeat": next}, 401, "current_password-error"},
		{"no current password", map[string]string{"password": next, "password_repeat": next}, 401, "current_password-error"},
		{"common new password", map[string]string{"current_password": o.password, "password": "Sunshine", "password_repeat": "Sunshine"}, 422, "password-error"},
		{"short new password", map[string]string{"current_password": o.password, "password": "short", "password_repeat": "short"}, 422, "password-error"},
		{"repeat differs", map[string]string{"current_password": o.password, "password": next, "password_repeat": next + "!"}, 422, "password_repeat-error"},
		{"same as current", map[string]string{"current_password": o.password, "password": o.password, "password_repeat": o.password}, 422, "password-error"},
	} {
		f := form()
		for k, v := range tc.f {
			f.Set(k, v)
		}
		r := o.browser.post("/dash/password", f)
		if r.status != tc.want || !r.has(`id="`+tc.errorID+`"`) {
			t.Errorf("%s: status %d, want %d with #%s", tc.name, r.status, tc.want, tc.errorID)
		}
		for _, v := range tc.f {
			if len(v) >= 8 && r.has(`value="`+v) {
				t.Errorf("%s: a password is echoed in the form", tc.name)
			}
		}
		wantStatus(t, second.get("/dash"), http.StatusOK) // nothing changed yet
	}

	wantRedirect(t, o.browser.post("/dash/password", form("current_password", o.password, "password", next, "password_repeat", next)), "/dash")
	if r := o.browser.get("/dash"); r.status != http.StatusOK || !r.has("Every other session was logged out") {
		t.Errorf("the changing browser: /dash status %d", r.status)
	}
	wantRedirect(t, second.get("/dash"), "/login")
	if r := second.get("/dash", htmx); r.status != http.StatusUnauthorized {
		t.Errorf("htmx request of the other session: status %d, want 401", r.status)
	}
	wantStatus(t, a.browser.get("/agent/pwchco/dash"), http.StatusOK)

	l := e.client()
	l.get("/login")
	wantStatus(t, l.post("/login", form("email", o.email, "password", o.password)), http.StatusUnauthorized)
	wantRedirect(t, l.post("/login", form("email", o.email, "password", next)), "/dash")
	if strings.Contains(e.logs.String(), next) {
		t.Error("the new password is in the logs")
	}
	if !strings.Contains(e.logs.String(), "organization password changed") {
		t.Error("the change is not logged")
	}
}

// TestCommonPasswordsRefused: the block list applies wherever a password is chosen —
// registration, an agent's own password, an organization's change — case-insensitively, with
// a message beside the field (ASVS 6.2.4).
func TestCommonPasswordsRefused(t *testing.T) {
	e := newEnv(t)
	for _, pw := range []string{"password", "PASSWORD1", "12345678", "qwertyuiop", "Sunshine", "iloveyou"} {
		c := e.client()
		c.get("/register")
		r := c.post("/register", form("name", "Common Co", "username", "commonco", "email", "common@example.com",
			"password", pw, "password_repeat", pw))
		if r.status != http.StatusUnprocessableEntity || !r.has(`id="password-error"`) || !r.has("most common") {
			t.Errorf("registration with %q: status %d, want 422 with the common-password message", pw, r.status)
		}
	}
	if _, err := e.cat.ByUsername(t.Context(), "commonco"); err == nil {
		t.Error("an organization was registered with a common password")
	}

	o := e.register("blockco")
	o.browser.get("/dash")
	r := o.browser.post("/agents", form("full_name", "Cole Common", "email", "cole@blockco.example"))
	m := initialPasswordRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no initial password")
	}
	ag := e.loginAgent("blockco", "cole@blockco.example", m[1], "/agent/blockco/password")
	ag.get("/agent/blockco/password")
	if r := ag.post("/agent/blockco/password", form("password", "Football1", "password_repeat", "Football1")); r.status != http.StatusUnprocessableEntity || !r.has("most common") {
		t.Errorf("agent password Football1: status %d, want 422", r.status)
	}
	wantRedirect(t, ag.post("/agent/blockco/password", form("password", "cole's uncommon pw", "password_repeat", "cole's uncommon pw")), "/agent/blockco/dash")
}
