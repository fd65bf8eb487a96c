package handlers_test

// The hot paths answer from memory (the desk's caches, sessioncache.go). These tests change a
// tenant's data around the HTTP layer — through the desk service as a non-HTTP caller would
// (an email receiver, a timer), and straight into the database file from another process —
// and check that the polls see it: at once for the first, within two seconds for the second.

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// org returns the catalog row of username.
func (e *env) org(t *testing.T, username string) *catalog.Organization {
	t.Helper()
	org, err := e.cat.ByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return &org
}

// customerOf is the desk actor of the customer whose private page is page.
func customerOf(page string) desk.Actor {
	return desk.AsCustomer(sha256.Sum256([]byte(page[strings.LastIndex(page, "/")+1:])))
}

func lastMessageID(t *testing.T, c *client, page string) string {
	t.Helper()
	ids := messageIDs(c.get(page).body)
	if len(ids) == 0 {
		t.Fatalf("no messages on %s", page)
	}
	return ids[len(ids)-1]
}

// A change made through the desk by something other than a request — an email receiver, a
// timer — reaches the feed and the very next poll, and what the pages post reaches the feed
// too.
func TestChangesOfOtherCallersReachPollsAndFeed(t *testing.T) {
	e := newEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	cust := e.openTicket("acme", "Is the cache honest?")
	talk := e.engage(ann)
	last := lastMessageID(t, ann.browser, talk) // the team sees more (the take's activity line)
	poll := "/messages?after=" + last
	sub := e.desk.Subscribe(64)
	defer sub.Close()

	// Warm every cache: both polls answer 204 from memory from now on.
	for range 3 {
		wantStatus(t, cust.browser.get(cust.page+poll, htmx), http.StatusNoContent)
		wantStatus(t, ann.browser.get(talk+poll, htmx), http.StatusNoContent)
	}

	// A message sent through the page is on the feed and in the other side's next poll.
	wantStatus(t, ann.browser.post(talk+"/messages", form("message", "Through the handlers."), htmx), http.StatusOK)
	if r := cust.browser.get(cust.page+poll, htmx); r.status != http.StatusOK || !r.has("Through the handlers.") {
		t.Fatalf("customer poll after a send: %d\n%s", r.status, r.body)
	}
	viaHTTP := wantEvent(t, sub, desk.MessageAdded)

	// A message added by another caller of the desk, as the customer: feed and both polls.
	org := e.org(t, "acme")
	m, err := e.desk.AddMessage(context.Background(), org, customerOf(cust.page), 0, "Through the desk.")
	if err != nil {
		t.Fatal(err)
	}
	ev := wantEvent(t, sub, desk.MessageAdded)
	if ev.MessageID != m.ID || ev.MessageID <= viaHTTP.MessageID || ev.Tenant.Name != org.DBName {
		t.Errorf("event %+v for message %d (the page's was %d)", ev, m.ID, viaHTTP.MessageID)
	}
	for _, c := range []struct {
		who  *client
		page string
	}{{cust.browser, cust.page}, {ann.browser, talk}} {
		if r := c.who.get(c.page+poll, htmx); r.status != http.StatusOK || !r.has("Through the handlers.") || !r.has("Through the desk.") {
			t.Fatalf("poll of %s after a desk call: %d\n%s", c.page, r.status, r.body)
		}
	}

	// The ticket is closed by the system: the customer's page is told to reload at once.
	tk, err := e.desk.Ticket(context.Background(), org, customerOf(cust.page), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.desk.CloseTicket(context.Background(), org, desk.AsSystem(), tk.ID); err != nil {
		t.Fatal(err)
	}
	if ev := wantEvent(t, sub, desk.TicketChanged); ev.TicketID != tk.ID || ev.Changed&desk.ChangedStatus == 0 {
		t.Errorf("close event = %+v", ev)
	}
	r := cust.browser.get(cust.page+"/messages?state=open&after=999999", htmx)
	if r.status != http.StatusNoContent || r.header.Get("HX-Refresh") != "true" {
		t.Fatalf("customer poll after a close by the system: %d, HX-Refresh %q", r.status, r.header.Get("HX-Refresh"))
	}
	if r := cust.browser.get(cust.page); !r.has(`id="closed-banner"`) {
		t.Fatalf("customer page after the close lacks the closed banner:\n%.2000s", r.body)
	}
}

// wantEvent waits for the next event of kind on sub (others are skipped).
func wantEvent(t *testing.T, sub *desk.Subscription, kind desk.EventKind) desk.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event of kind %d within 5 s", kind)
			return desk.Event{}
		}
	}
}

// A message written into the tenant's file by another process (as sqlite3 or an operator
// command would, while the server runs) appears in the polls within two seconds, whether the
// server has the database open or closed it meanwhile.
func TestWritesOfAnotherProcessReachPolls(t *testing.T) {
	for _, evicted := range []bool{false, true} {
		t.Run(fmt.Sprintf("evicted=%v", evicted), func(t *testing.T) {
			e := newEnv(t)
			acme := e.register("acme")
			ann := e.onboard(acme, "Ann Agent")
			cust := e.openTicket("acme", "Anyone out there?")
			talk := e.engage(ann)
			last := lastMessageID(t, ann.browser, talk) // the team sees more (the take's activity line)
			poll := "/messages?after=" + last
			for range 3 {
				wantStatus(t, cust.browser.get(cust.page+poll, htmx), http.StatusNoContent)
				wantStatus(t, ann.browser.get(talk+poll, htmx), http.StatusNoContent)
			}
			if evicted {
				// No pause before the eviction: the desk takes its watch baseline before the
				// first read it caches, so what the polls above cached already counts.
				// Open enough other tenants to push acme's database out of the registry.
				for i := range 10 {
					e.register(fmt.Sprintf("filler%d", i))
					h, err := e.reg.Acquire(context.Background(), *e.org(t, fmt.Sprintf("filler%d", i)))
					if err != nil {
						t.Fatal(err)
					}
					h.Release()
				}
				if e.reg.IsOpen("tenantdesk-acme") {
					t.Fatal("acme's database is still open; the eviction case tests nothing")
				}
				// Closing it was this process's own doing, not a change: the polls still
				// answer from memory, without opening it again.
				time.Sleep(1500 * time.Millisecond) // a watcher look or more
				for _, c := range []struct {
					who  *client
					page string
				}{{cust.browser, cust.page}, {ann.browser, talk}} {
					wantStatus(t, c.who.get(c.page+poll, htmx), http.StatusNoContent)
				}
				if e.reg.IsOpen("tenantdesk-acme") {
					t.Fatal("a poll with nothing new opened the evicted tenant's database again")
				}
			}
			conv := strings.TrimPrefix(talk, "/agent/acme/talk/")
			writeFromAnotherProcess(t, filepath.Join(e.dir, "tenantdesk-acme.db"), conv, "Written by another process.")
			deadline := time.Now().Add(2 * time.Second)
			for _, c := range []struct {
				who  *client
				page string
			}{{cust.browser, cust.page}, {ann.browser, talk}} {
				for {
					r := c.who.get(c.page+poll, htmx)
					if r.status == http.StatusOK && r.has("Written by another process.") {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s's poll did not show the message within 2 s: %d %s", c.page, r.status, r.body)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
}

// writeFromAnotherProcess runs this test binary again as a child process that appends a
// customer message to conversation conv in the database file at path.
func writeFromAnotherProcess(t *testing.T, path, conv, body string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriteMessage$")
	cmd.Env = append(os.Environ(), "TENANTDESK_HELPER_DB="+path, "TENANTDESK_HELPER_CONV="+conv,
		"TENANTDESK_HELPER_BODY="+body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
}

// TestHelperWriteMessage is the child process of writeFromAnotherProcess; run on its own it
// does nothing.
func TestHelperWriteMessage(t *testing.T) {
	path := os.Getenv("TENANTDESK_HELPER_DB")
	if path == "" {
		return
	}
	db, err := sqlite.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conv, err := strconv.ParseInt(os.Getenv("TENANTDESK_HELPER_CONV"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO messages (conversation_id, sender, body, created_at) VALUES (?, 'customer', ?, ?)`,
		conv, os.Getenv("TENANTDESK_HELPER_BODY"), time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
}

func TestRemovedAgentLosesAccessAtOnce(t *testing.T) {
	e := newEnv(t)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	e.openTicket("acme", "Who is there?")
	talk := e.engage(ann)
	poll := talk + "/messages?after=0"
	for range 3 {
		wantStatus(t, ann.browser.get(poll, htmx), http.StatusOK)
	}
	id, err := strconv.ParseInt(e.agentID("acme", ann.email), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.desk.RemoveAgent(context.Background(), e.org(t, "acme"), desk.AsSystem(), id); err != nil {
		t.Fatal(err)
	}
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
	poll := "/conversation/" + conv + "/messages?after=0"
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
	poll := "/messages?after=0"
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
	if got := e.engage(bob); got != talk {
		t.Logf("new conversation %s (old %s)", got, talk)
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
	poll := talk + "/messages?after=0"
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
	last, _ := strconv.Atoi(lastMessageID(t, ann.browser, talk))
	wantStatus(t, cust.browser.get(cust.page+"/messages?after="+strconv.Itoa(last), htmx), http.StatusNoContent)
	e2 := e.restart()
	cust.browser.on(e2)
	ann.browser.on(e2)
	wantStatus(t, ann.browser.post(talk+"/messages", form("message", "After the restart."), htmx), http.StatusOK)
	if r := cust.browser.get(cust.page+"/messages?after="+strconv.Itoa(last), htmx); !r.has("After the restart.") {
		t.Fatalf("poll after a restart: %d\n%s", r.status, r.body)
	}
}
