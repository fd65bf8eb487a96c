package handlers_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
)

// portalMails are the sign-in emails mailpit holds, newest first.
func portalMails(t *testing.T, mp *mailtest.Mailpit) []mailtest.Message {
	t.Helper()
	var out []mailtest.Message
	for _, s := range mp.Messages(t) {
		if strings.HasPrefix(s.Subject, "Your tickets with") {
			out = append(out, mp.Message(t, s.ID))
		}
	}
	return out
}

var portalSentRE = regexp.MustCompile(`(?s)<p class="notice" role="status" id="portal-sent">.*?</p>`)

// The customer portal: asking answers the same whether or not the address has tickets; only
// an address with tickets gets the link; opening the link spends nothing, the button does,
// once; the list's links open the tickets; one organization's link lists nothing at another.
func TestPortalSignIn(t *testing.T) {
	e, mp := newMailEnv(t)
	e.register("acme")
	e.register("beta")
	e.openTicket("acme", "Where is my parcel")
	e.openTicket("beta", "Betasecret beta question")
	mp.WaitMessages(t, 2) // the acknowledgments

	c := e.client()
	if r := c.get("/acme/my-tickets"); r.status != http.StatusOK || !r.has(`name="email"`) {
		t.Fatalf("the portal form: %d\n%.1500s", r.status, r.body)
	}
	ask := func(addr string) string {
		t.Helper()
		r := c.post("/acme/my-tickets", form("email", addr))
		wantStatus(t, r, http.StatusOK)
		p := portalSentRE.FindString(r.body)
		if p == "" {
			t.Fatalf("no answer to the request for %s:\n%.2000s", addr, r.body)
		}
		return strings.ReplaceAll(p, addr, "ADDRESS")
	}
	withTickets, without := ask("carla@example.net"), ask("nobody@example.net")
	if withTickets != without {
		t.Errorf("the answers differ:\n%s\n%s", withTickets, without)
	}
	if r := c.post("/acme/my-tickets", form("email", "not-an-address")); r.status != http.StatusUnprocessableEntity || !r.has(`id="email-error"`) {
		t.Errorf("an invalid address: %d", r.status)
	}
	var sent []mailtest.Message
	waitFor(t, "the sign-in email", func() bool { sent = portalMails(t, mp); return len(sent) > 0 })
	if len(sent) != 1 || sent[0].To[0].Address != "carla@example.net" {
		t.Fatalf("sign-in emails: %d, first to %v", len(sent), sent[0].To)
	}
	m := regexp.MustCompile(regexp.QuoteMeta(testPublicURL) + `(/acme/my-tickets\?k=[A-Za-z0-9_-]+)`).FindStringSubmatch(sent[0].Text)
	if m == nil {
		t.Fatalf("no sign-in link in:\n%s", sent[0].Text)
	}
	link := m[1]
	token := strings.TrimPrefix(link, "/acme/my-tickets?k=")

	// Opening the link twice lists nothing yet and spends nothing.
	cust := e.client()
	for range 2 {
		if r := cust.get(link); r.status != http.StatusOK || !r.has(`id="portal-sign-in"`) || r.has("Where is my parcel") {
			t.Fatalf("the link's page: %d\n%.1500s", r.status, r.body)
		}
	}
	// The token at another organization: nothing, and it still works at its own.
	beta := e.client()
	beta.get("/beta/my-tickets")
	if r := beta.post("/beta/my-tickets", form("token", token)); r.status != http.StatusNotFound || r.has("Where is my parcel") ||
		!r.has(`id="portal-expired"`) {
		t.Errorf("acme's token at beta: %d\n%.1500s", r.status, r.body)
	}
	r := cust.post("/acme/my-tickets", form("token", token))
	wantStatus(t, r, http.StatusOK)
	if !r.has("Where is my parcel") || r.has("Betasecret") {
		t.Fatalf("the list:\n%.2000s", r.body)
	}
	ticket := regexp.MustCompile(`href="(/customer/acme/t/e1\.[A-Za-z0-9_.-]+)"`).FindStringSubmatch(r.body)
	if ticket == nil {
		t.Fatalf("no ticket link in the list:\n%.2000s", r.body)
	}
	if r := e.client().get(ticket[1]); r.status != http.StatusOK || !r.has("Where is my parcel") {
		t.Errorf("the ticket's link: %d", r.status)
	}
	// Once only.
	if r := cust.post("/acme/my-tickets", form("token", token)); r.status != http.StatusNotFound || r.has("Where is my parcel") {
		t.Errorf("the link used again: %d", r.status)
	}
	// A malformed token in the link asks for a new one.
	if r := cust.get("/acme/my-tickets?k=..%2F"); r.status != http.StatusOK || !r.has(`id="portal-expired"`) {
		t.Errorf("a malformed link: %d", r.status)
	}
}
