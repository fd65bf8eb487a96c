package handlers_test

// The hot paths answer from memory (hotcache.go, sessioncache.go). These tests write behind
// the handlers' backs — straight through the stores, as an operator command or a future
// feature would — and check that the very next request sees it: the write counters in the
// driver, not remembered invalidations, keep the caches honest.

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/crm"
)

// store returns the tenant's CRM store straight from the registry (release when done).
func (e *env) store(t *testing.T, username string) (*crm.Store, catalog.Organization, func()) {
	t.Helper()
	org, err := e.cat.ByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	h, err := e.reg.Acquire(context.Background(), org)
	if err != nil {
		t.Fatal(err)
	}
	return h.CRM, org, h.Release
}

func tokenOf(page string) []byte {
	sum := sha256.Sum256([]byte(page[strings.LastIndex(page, "/")+1:]))
	return sum[:]
}

func lastMessageID(t *testing.T, c *client, page string) string {
	t.Helper()
	ids := messageIDs(c.get(page).body)
	if len(ids) == 0 {
		t.Fatalf("no messages on %s", page)
	}
	return ids[len(ids)-1]
}

func TestPollsSeeWritesMadeBehindTheHandlers(t *testing.T) {
	e := newEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	cust := e.openTicket("acme", "Is the cache honest?")
	talk := e.engage(ann)
	last := lastMessageID(t, cust.browser, cust.page)
	poll := "/messages?state=engaged&after=" + last

	// Warm every cache: both polls answer 204 from memory from now on.
	for range 3 {
		wantStatus(t, cust.browser.get(cust.page+poll, htmx), http.StatusNoContent)
		wantStatus(t, ann.browser.get(talk+poll, htmx), http.StatusNoContent)
	}

	// A message sent through the page is seen by the other side's next poll.
	r := ann.browser.post(talk+"/messages", form("message", "Through the handlers."), htmx)
	wantStatus(t, r, http.StatusOK)
	if r = cust.browser.get(cust.page+poll, htmx); r.status != http.StatusOK || !r.has("Through the handlers.") {
		t.Fatalf("customer poll after a send: %d\n%s", r.status, r.body)
	}

	// The ticket is closed straight through the store: the customer's page is told to reload.
	store, _, release := e.store(t, "acme")
	tk, err := store.TicketByToken(context.Background(), tokenOf(cust.page))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CloseTicket(context.Background(), tk.ID, tk.AgentID); err != nil {
		t.Fatal(err)
	}
	release()
	r = cust.browser.get(cust.page+"/messages?state=engaged&after=999999", htmx)
	if r.status != http.StatusNoContent || r.header.Get("HX-Refresh") != "true" {
		t.Fatalf("customer poll after a close behind the handlers: %d, HX-Refresh %q", r.status, r.header.Get("HX-Refresh"))
	}
	if r := cust.browser.get(cust.page); !r.has(`id="closed-banner"`) {
		t.Fatalf("customer page after the close lacks the closed banner:\n%.2000s", r.body)
	}
}

func TestRemovedAgentLosesAccessAtOnce(t *testing.T) {
	e := newEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	e.openTicket("acme", "Who is there?")
	talk := e.engage(ann)
	poll := talk + "/messages?state=engaged&after=0"
	for range 3 {
		wantStatus(t, ann.browser.get(poll, htmx), http.StatusOK)
	}
	store, _, release := e.store(t, "acme")
	a, err := store.AgentByEmail(context.Background(), ann.email)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RemoveAgent(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	release()
	r := ann.browser.get(poll, htmx)
	if r.status != http.StatusUnauthorized || r.header.Get("HX-Redirect") != "/agent/acme/login" {
		t.Fatalf("removed agent's poll: %d HX-Redirect %q, want 401 to the login", r.status, r.header.Get("HX-Redirect"))
	}
}

func TestOrgPasswordChangeEndsSessionsAtOnce(t *testing.T) {
	e := newEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	e.openTicket("acme", "Hello")
	talk := e.engage(ann)
	conv := strings.TrimPrefix(talk, "/agent/acme/talk/")
	poll := "/conversation/" + conv + "/messages?state=engaged&after=0"
	for range 3 {
		wantStatus(t, acme.browser.get(poll, htmx), http.StatusOK)
	}
	org, err := e.cat.ByUsername(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cat.SetPassword(context.Background(), org.ID, "$2a$04$changedchangedchangedchangedchangedchangedchangedcha"); err != nil {
		t.Fatal(err)
	}
	if r := acme.browser.get(poll, htmx); r.status != http.StatusUnauthorized {
		t.Fatalf("organization poll after its password changed: %d, want 401", r.status)
	}
}

func TestDeletedOrgLeavesNothingCached(t *testing.T) {
	e := newEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	cust := e.openTicket("acme", "First life")
	talk := e.engage(ann)
	conv := strings.TrimPrefix(talk, "/agent/acme/talk/")
	poll := "/messages?state=engaged&after=0"
	wantStatus(t, cust.browser.get(cust.page+poll, htmx), http.StatusOK)
	wantStatus(t, acme.browser.get("/conversation/"+conv+poll, htmx), http.StatusOK)

	acme.browser.get("/dash")
	wantRedirect(t, acme.browser.post("/dash/delete", form("confirm_name", "acme", "password", acme.password)), "/")
	// The old links die, also after the name is registered again, whose conversation 1 is
	// someone else's.
	wantStatus(t, cust.browser.get(cust.page+poll, htmx), http.StatusNotFound)
	again := e.register("acme")
	bob := e.onboard(again, "Bob Agent")
	e.openTicket("acme", "Second life")
	// The point is a conversation id the deleted organization used too: both databases are
	// new, so the ids are the same; if they ever differ this test checks nothing.
	if got := e.engage(bob); got != talk {
		t.Fatalf("the new organization's conversation is %s, the old one's %s: the ids must match for this test to check anything", got, talk)
	}
	wantStatus(t, cust.browser.get(cust.page+poll, htmx), http.StatusNotFound)
	if r := ann.browser.get(talk+poll, htmx); r.status == http.StatusOK {
		t.Fatalf("the deleted organization's agent polls the new one's conversation: %d", r.status)
	}
	if r := again.browser.get("/conversation/"+conv+poll, htmx); r.status == http.StatusOK && r.has("First life") {
		t.Fatal("the new organization sees the old one's messages")
	}
}

func TestLoggedOutSessionIsNotServedFromMemory(t *testing.T) {
	e := newEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	e.openTicket("acme", "Hello")
	talk := e.engage(ann)
	poll := talk + "/messages?state=engaged&after=0"
	for range 3 {
		wantStatus(t, ann.browser.get(poll, htmx), http.StatusOK)
	}
	stolen := map[string]string{}
	for k, v := range ann.browser.cookies {
		stolen[k] = v
	}
	ann.browser.get("/agent/acme/dash")
	wantStatus(t, ann.browser.post("/logout", nil), http.StatusSeeOther)
	replay := &client{e: e, cookies: stolen}
	if r := replay.get(poll, htmx); r.status != http.StatusUnauthorized {
		t.Fatalf("replayed session after logout: %d, want 401", r.status)
	}
}

func TestPollAnswersAfterARestart(t *testing.T) {
	e := newEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	cust := e.openTicket("acme", "Still there?")
	talk := e.engage(ann)
	last, _ := strconv.Atoi(lastMessageID(t, cust.browser, cust.page))
	wantStatus(t, cust.browser.get(cust.page+"/messages?state=engaged&after="+strconv.Itoa(last), htmx), http.StatusNoContent)
	e2 := e.restart()
	cust.browser.on(e2)
	ann.browser.on(e2)
	wantStatus(t, ann.browser.post(talk+"/messages", form("message", "After the restart."), htmx), http.StatusOK)
	if r := cust.browser.get(cust.page+"/messages?state=engaged&after="+strconv.Itoa(last), htmx); !r.has("After the restart.") {
		t.Fatalf("poll after a restart: %d\n%s", r.status, r.body)
	}
}
