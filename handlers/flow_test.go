package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestWholeStory walks every page from registration to rating, as three browsers.
func TestWholeStory(t *testing.T) {
	e := newEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	cust := e.openTicket("acme", "My printer is on fire")

	// Before an agent takes it: the page says so, shows the question as the first message,
	// and the customer may add to it.
	r := cust.browser.get(cust.page)
	wantStatus(t, r, http.StatusOK)
	if !r.has("waiting for an agent") || !r.has("My printer is on fire") || len(messageIDs(r.body)) != 1 {
		t.Fatalf("waiting page lacks its state:\n%s", r.body)
	}
	first := messageIDs(r.body)[0]
	wantStatus(t, cust.browser.get(cust.page+"/messages?after="+first, htmx), http.StatusNoContent)
	wantStatus(t, cust.browser.post(cust.page+"/messages", form("message", "It smells of toner.")), http.StatusSeeOther)

	// The organization sees the waiting ticket in the unassigned queue.
	if r := acme.browser.get("/dash?view=unassigned"); !r.has("Carla Customer") || !r.has(`id="count-unassigned">1<`) {
		t.Fatalf("dashboard lacks the waiting ticket:\n%s", r.body)
	}

	talk := e.engage(ann)
	if !strings.HasPrefix(talk, "/agent/acme/talk/") {
		t.Fatalf("engage redirected to %q", talk)
	}
	r = ann.browser.get(talk)
	wantStatus(t, r, http.StatusOK)
	if !r.has("My printer is on fire") || !r.has("It smells of toner.") || !r.has("Ann Agent took the ticket.") {
		t.Fatalf("talk page lacks the customer's messages or the take:\n%s", r.body)
	}
	// The customer's page does not depend on who took the ticket: its poll goes on as before,
	// and shows nothing of the team's activity.
	r = cust.browser.get(cust.page+"/messages?after="+first+"&state=open", htmx)
	if r.status != http.StatusOK || r.header.Get("HX-Refresh") != "" || r.has("took the ticket") || len(messageIDs(r.body)) != 1 {
		t.Fatalf("customer poll after the take: %d HX-Refresh %q\n%s", r.status, r.header.Get("HX-Refresh"), r.body)
	}
	first = messageIDs(r.body)[0]

	// The agent sends with htmx: the answer is just the new message.
	r = ann.browser.post(talk+"/messages", form("message", "Hello Carla, unplug it."), htmx)
	wantStatus(t, r, http.StatusOK)
	agentMsg := messageIDs(r.body)
	if len(agentMsg) != 1 || !r.has(`data-sender="agent"`) || r.has("<html") {
		t.Fatalf("htmx send answered:\n%s", r.body)
	}

	// The customer's poll after the question returns only the agent's message.
	r = cust.browser.get(cust.page+"/messages?after="+first, htmx)
	wantStatus(t, r, http.StatusOK)
	if got := messageIDs(r.body); len(got) != 1 || got[0] != agentMsg[0] || !r.has("Hello Carla, unplug it.") {
		t.Fatalf("poll after %s = %v:\n%s", first, got, r.body)
	}
	wantStatus(t, cust.browser.get(cust.page+"/messages?after="+agentMsg[0], htmx), http.StatusNoContent)

	// The customer replies without JavaScript: a plain POST and 303 back to the page.
	r = cust.browser.post(cust.page+"/messages", form("message", "Done, thanks!"))
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); !strings.HasPrefix(loc, cust.page) {
		t.Fatalf("Location = %q", loc)
	}
	r = ann.browser.get(talk+"/messages?after="+agentMsg[0], htmx)
	wantStatus(t, r, http.StatusOK)
	if !r.has(`data-sender="customer"`) || !r.has("Done, thanks!") {
		t.Fatalf("agent poll:\n%s", r.body)
	}

	// The organization sees everything: the four messages and the take, and polls too.
	conv := strings.TrimPrefix(talk, "/agent/acme/talk/")
	r = acme.browser.get("/conversation/" + conv)
	wantStatus(t, r, http.StatusOK)
	if got := messageIDs(r.body); len(got) != 5 {
		t.Fatalf("organization view shows %v, want 4 messages and an activity line", got)
	}
	wantStatus(t, acme.browser.get("/conversation/"+conv+"/messages?after="+first, htmx), http.StatusOK)

	// Rating before closing is refused.
	wantStatus(t, cust.browser.post(cust.page+"/rating", form("rating", "5")), http.StatusConflict)

	// The agent closes; no more messages from either side.
	closeURL := closeAction(t, ann.browser.get(talk).body)
	wantStatus(t, ann.browser.post(closeURL, nil), http.StatusSeeOther)
	wantStatus(t, ann.browser.post(talk+"/messages", form("message", "one more")), http.StatusConflict)
	// A poll of the agent's page that still shows it open is told to reload.
	if r := ann.browser.get(talk+"/messages?after=999999&state=open.1", htmx); r.header.Get("HX-Refresh") != "true" {
		t.Errorf("agent poll after the close: HX-Refresh %q", r.header.Get("HX-Refresh"))
	}
	r = cust.browser.post(cust.page+"/messages", form("message", "wait"))
	wantStatus(t, r, http.StatusConflict)
	if !r.has("closed") {
		t.Fatalf("409 page does not say why:\n%s", r.body)
	}
	r = cust.browser.get(cust.page)
	if !r.has("This ticket is closed") || !r.has(`name="rating"`) {
		t.Fatalf("closed ticket page lacks banner or rating form:\n%s", r.body)
	}

	// Rating: out of range 422, then once, then never again.
	wantStatus(t, cust.browser.post(cust.page+"/rating", form("rating", "9")), http.StatusUnprocessableEntity)
	wantStatus(t, cust.browser.post(cust.page+"/rating", form("rating", "4")), http.StatusSeeOther)
	wantStatus(t, cust.browser.post(cust.page+"/rating", form("rating", "5")), http.StatusConflict)
	if r := acme.browser.get("/dash?view=closed"); !r.has(`data-rating="4"`) || !r.has(`id="count-closed">1<`) {
		t.Fatalf("dashboard lacks the rating:\n%s", r.body)
	}
	// The owner's dashboard shows its tickets open and closed: the latest closed below the queue.
	if r := acme.browser.get("/dash"); !r.has(`id="tickets-closed"`) || !r.has(`data-rating="4"`) {
		t.Fatalf("the dashboard's default view lacks the recently closed ticket:\n%s", r.body)
	}
	if r := acme.browser.get("/dash?view=closed"); r.has(`id="tickets-closed"`) {
		t.Fatal("the closed view repeats its tickets in a recently closed list")
	}
	// A view the URL names lists only its own tickets.
	for _, v := range []string{"unassigned", "all", "pending", "snoozed"} {
		if r := acme.browser.get("/dash?view=" + v); r.has(`data-status="closed"`) {
			t.Errorf("/dash?view=%s lists a closed ticket:\n%s", v, r.body)
		}
	}
}

func closeAction(t *testing.T, body string) string {
	t.Helper()
	i := strings.Index(body, "/tickets/")
	j := strings.Index(body, "/close\"")
	if i < 0 || j < 0 {
		t.Fatalf("no close form in:\n%s", body)
	}
	start := strings.LastIndex(body[:i], `"`) + 1
	return body[start : j+len("/close")]
}

// TestPolling pins how a poll answers: 204 when nothing is newer, one element per newer message,
// a malformed cursor is 422, and HX-Refresh when the page's ticket state is stale.
func TestPolling(t *testing.T) {
	e := newEnv(t)
	o := e.register("pollco")
	a := e.onboard(o, "Pat Poller")
	c := e.openTicket("pollco", "question")
	talk := e.engage(a)
	var last string
	for i := 0; i < 3; i++ {
		r := a.browser.post(talk+"/messages", form("message", "m"+string(rune('0'+i))), htmx)
		wantStatus(t, r, http.StatusOK)
		last = messageIDs(r.body)[0]
	}
	cases := []struct {
		name, url string
		want      int
		ids       int
	}{
		{"all", c.page + "/messages?after=0", 200, 4},
		{"none newer", c.page + "/messages?after=" + last, 204, 0},
		{"no cursor", c.page + "/messages", 200, 4},
		{"bad cursor", c.page + "/messages?after=abc", 422, 0},
		{"negative cursor", c.page + "/messages?after=-1", 422, 0},
		{"same state", c.page + "/messages?after=" + last + "&state=open", 204, 0},
		{"agent all", talk + "/messages?after=0", 200, 5}, // and the take's activity line
	}
	for _, tc := range cases {
		for _, hx := range []bool{true, false} {
			br := c.browser
			if strings.HasPrefix(tc.url, "/agent/") {
				br = a.browser
			}
			var r response
			if hx {
				r = br.get(tc.url, htmx)
			} else {
				r = br.get(tc.url)
			}
			if r.status != tc.want {
				t.Errorf("%s (htmx %v): status %d, want %d", tc.name, hx, r.status, tc.want)
				continue
			}
			if got := len(messageIDs(r.body)); tc.want == 200 && got != tc.ids {
				t.Errorf("%s: %d messages, want %d", tc.name, got, tc.ids)
			}
			if tc.want == 204 && r.body != "" {
				t.Errorf("%s: 204 with a body %q", tc.name, r.body)
			}
			if tc.want == 200 && r.has("<html") {
				t.Errorf("%s: poll answered a whole page", tc.name)
			}
		}
	}
}

// TestMessageValidation covers the message limits and that the sender comes from the session,
// never from the form.
func TestMessageValidation(t *testing.T) {
	e := newEnv(t)
	o := e.register("valco")
	a := e.onboard(o, "Val Agent")
	c := e.openTicket("valco", "q")
	talk := e.engage(a)

	wantStatus(t, c.browser.post(c.page+"/messages", form("message", "   ")), http.StatusUnprocessableEntity)
	long := strings.Repeat("é", 5001)
	r := c.browser.post(c.page+"/messages", form("message", long))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if r.has(long) == false && !r.has("too long") {
		t.Fatalf("422 page lacks the reason:\n%.500s", r.body)
	}
	wantStatus(t, c.browser.post(c.page+"/messages", form("message", strings.Repeat("x", 5000))), http.StatusSeeOther)

	// htmx errors are retargeted at the composer's error slot.
	r = c.browser.post(c.page+"/messages", form("message", ""), htmx)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if r.header.Get("HX-Retarget") != "#composer-error" || r.has("<html") {
		t.Fatalf("htmx 422: HX-Retarget=%q body=%q", r.header.Get("HX-Retarget"), r.body)
	}

	// A customer who claims to be the agent is still the customer.
	r = c.browser.post(c.page+"/messages", form("message", "I am the agent", "sender", "agent",
		"role", "agent", "internal", "1", "status", "closed", "agent_id", "1"), htmx)
	wantStatus(t, r, http.StatusOK)
	if !r.has(`data-sender="customer"`) || r.has(`data-sender="agent"`) {
		t.Fatalf("forged sender accepted:\n%s", r.body)
	}
	if r := a.browser.get(talk); r.has("This ticket is closed") {
		t.Fatal("a form field closed the ticket")
	}

	// A body over the server's limit is 413, answered from the request head (a real socket:
	// app.Test refuses such bodies itself; secRawPost sends only the head).
	if status, _ := secRawPost(t, e.listen(), c.page+"/messages", 300<<10); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("300 KiB body: status %d, want 413", status)
	}
}

// TestContentIsEscaped: user text renders as text, never as markup or htmx attributes.
func TestContentIsEscaped(t *testing.T) {
	e := newEnv(t)
	o := e.register("xssco")
	a := e.onboard(o, "Xavier Agent")
	c := e.client()
	c.get("/xssco/open-ticket")
	payloads := []string{`<img src=x onerror=alert(1)>`, `<div hx-get="/dash" hx-trigger="load">x</div>`, `x" hx-on:click="alert(1)`}
	r := c.post("/xssco/open-ticket", form("customer_name", payloads[2], "customer_email", "x@example.net",
		"query", payloads[0]+payloads[1]))
	wantStatus(t, r, http.StatusSeeOther)
	page := r.header.Get("Location")
	talk := e.engage(a)
	a.browser.post(talk+"/messages", form("message", payloads[1]), htmx)
	for name, body := range map[string]string{
		"customer page": c.get(page).body,
		"talk page":     a.browser.get(talk).body,
		"agent dash":    a.browser.get("/agent/xssco/dash").body,
		"org dash":      o.browser.get("/dash").body,
	} {
		for _, p := range payloads {
			if strings.Contains(body, p) {
				t.Errorf("%s contains the raw payload %q", name, p)
			}
		}
		if strings.Contains(body, `hx-on:click="alert`) || strings.Contains(body, `<img src=x`) {
			t.Errorf("%s renders an injected attribute or element", name)
		}
	}
}
