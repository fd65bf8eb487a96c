package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email"
)

// isoEmailWorld receives email into the isolation world: two emails into beta (stored
// emails 1 and 2 there; the second with an attachment, beta's file 3 on a ticket of its own)
// and one into alpha (its email 1), from alpha's existing customer so that alpha gets no
// contact of beta's ids.
func isoEmailWorld(t *testing.T, w *isoWorld) {
	t.Helper()
	ctx := context.Background()
	receive := func(orgName, from, body, attachment string) desk.Received {
		org, err := w.e.cat.Lookup(ctx, orgName)
		if err != nil {
			t.Fatal(err)
		}
		head := fmt.Sprintf("From: %s\r\nTo: %s@%s\r\nSubject: %s\r\nMessage-ID: <%s@example.net>\r\n",
			from, orgName, testMailDomain, body, randomToken()[:12])
		raw := []byte(head + "\r\n" + body + "\r\n")
		if attachment != "" {
			raw = []byte(head + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
				"Content-Type: text/plain\r\n\r\n" + body + "\r\n--b\r\nContent-Type: text/plain; name=Betasecret-mail.txt\r\n" +
				"Content-Disposition: attachment; filename=Betasecret-mail.txt\r\n\r\n" + attachment + "\r\n--b--\r\n")
		}
		msg := email.Parse(raw, email.ParseOptions{Domain: testMailDomain})
		r, err := w.e.desk.ReceiveEmail(ctx, org, desk.AsSystem(), desk.InboundEmail{Key: email.Key(msg, raw), Message: msg,
			Raw: raw, Source: desk.SourceSMTP})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	receive("beta", "bob@example.net", "Betasecret emailed question", "")
	r := receive("beta", "bo@example.net", "Betasecret second email", "beta secret mail attachment")
	receive("alpha", "carla@example.net", "alpha emailed question", "")

	beta, err := w.e.cat.Lookup(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	q, err := w.e.desk.Queue(ctx, beta, desk.AsOwner(beta.Name), desk.QueueQuery{View: desk.ViewAll, Priority: -1, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range q {
		if tk.ID == r.TicketID {
			w.betaMailConv = strconv.FormatInt(tk.ConversationID, 10)
		}
	}
	th, err := w.e.desk.Thread(ctx, beta, desk.AsOwner(beta.Name), tk64(t, w.betaMailConv), 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range th.Messages {
		if m.ID == r.MessageID && len(m.Files) == 1 {
			w.betaMailFile = strconv.FormatInt(m.Files[0].ID, 10)
		}
	}
	if w.betaMailFile != "3" {
		t.Fatalf("the emailed file of beta's is %q, want 3 (alpha has no file 3)", w.betaMailFile)
	}
}

func tk64(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("id %q: %v", s, err)
	}
	return n
}

// isoEmailCases are the email channel's rows of the isolation table: the organization's
// email settings and an agent's choice of emails. (Renewing a customer's access is among the
// ticket actions.)
func isoEmailCases(w *isoWorld) []isoCase {
	const (
		rEmail     = "/dash/settings/email"
		rPrefs     = "/agent/:org/email-prefs"
		rOriginal  = "/agent/:org/emails/:emailId"
		rOrgOrigin = "/dash/emails/:emailId"
		rPortal    = "/:org/my-tickets"
		get, post  = http.MethodGet, http.MethodPost
	)
	var alpha, alphaAgent, alphaAdmin, betaOther, anon, alphaCust *client
	if w.e != nil {
		alpha, alphaAgent, alphaAdmin, betaOther, anon = w.alpha.browser, w.alphaAgent.browser, w.alphaAdmin.browser, w.betaOther.browser, w.anon
		alphaCust = w.alphaCust.browser
	}
	beta := form("org", "beta", "org_id", "2", "action", "save", "auto_ack", "on", "smtp_security", "smtp", "mail_from", "Mallory <m@evil.example>",
		"new_tickets", "on")
	var out []isoCase
	add := func(c isoCase) { out = append(out, c) }
	// The settings are the session's organization's, whatever the request names.
	add(isoCase{name: "alpha org: email settings with org=beta", who: alpha, method: get, route: rEmail,
		url: rEmail + "?org=beta&org_id=2", want: 200, has: "alpha@" + testMailDomain})
	add(isoCase{name: "alpha admin: email settings with org=beta", who: alphaAdmin, method: get, route: rEmail,
		url: rEmail + "?org=beta", want: 200, has: "alpha@" + testMailDomain})
	// (A valid save answers 303 and its htmx twin 200; this one is refused, changing nothing.)
	badPort := form("org", "beta", "org_id", "2", "action", "save", "smtp_host", "smtp.evil.example", "smtp_port", "99999",
		"smtp_security", "smtp", "mail_from", "Mallory <m@evil.example>")
	add(isoCase{name: "alpha org: save email settings naming beta", who: alpha, method: post, route: rEmail, url: rEmail,
		form: badPort, want: 422})
	add(isoCase{name: "anonymous: email settings", who: anon, method: get, route: rEmail, url: rEmail, want: 303, loc: "/login"})
	add(isoCase{name: "anonymous: save email settings", who: anon, method: post, route: rEmail, url: rEmail, form: beta, want: 303, loc: "/login"})
	add(isoCase{name: "alpha agent: email settings", who: alphaAgent, method: get, route: rEmail, url: rEmail, want: 403})
	add(isoCase{name: "alpha agent: save email settings", who: alphaAgent, method: post, route: rEmail, url: rEmail, form: beta, want: 403})
	add(isoCase{name: "other beta agent: email settings", who: betaOther, method: get, route: rEmail, url: rEmail, want: 403,
		mayOpenBeta: true, insider: true})
	add(isoCase{name: "other beta agent: save email settings", who: betaOther, method: post, route: rEmail, url: rEmail, form: beta,
		want: 403, mayOpenBeta: true, insider: true})
	// An agent's choice is its own, at its own organization.
	for _, who := range []struct {
		name string
		c    *client
	}{{"alpha org", alpha}, {"alpha agent", alphaAgent}, {"alpha admin", alphaAdmin}, {"anonymous", anon}} {
		add(isoCase{name: who.name + ": beta's email choice", who: who.c, method: post, route: rPrefs, url: "/agent/beta/email-prefs",
			form: beta, want: 303, loc: "/agent/beta/login"})
	}
	add(isoCase{name: "unknown org: email choice", who: alphaAgent, method: post, route: rPrefs, url: "/agent/nope/email-prefs",
		form: beta, want: 404})

	// Received emails: beta's email 2 does not exist at alpha; alpha's own 1 is alpha's
	// whatever the request names; beta's pages lead to beta's login.
	add(isoCase{name: "alpha org: beta's received email id", who: alpha, method: get, route: rOrgOrigin, url: "/dash/emails/2", want: 404})
	add(isoCase{name: "alpha org: own received email, beta named", who: alpha, method: get, route: rOrgOrigin,
		url: "/dash/emails/1?org=beta&org_id=2", want: 200, has: "alpha emailed question"})
	for _, who := range []struct {
		name string
		c    *client
	}{{"alpha agent", alphaAgent}, {"alpha admin", alphaAdmin}} {
		add(isoCase{name: who.name + ": beta's received email id at alpha", who: who.c, method: get, route: rOriginal,
			url: "/agent/alpha/emails/2", want: 404})
		add(isoCase{name: who.name + ": beta's received email", who: who.c, method: get, route: rOriginal,
			url: "/agent/beta/emails/1", want: 303, loc: "/agent/beta/login"})
		add(isoCase{name: who.name + ": org's received email page", who: who.c, method: get, route: rOrgOrigin,
			url: "/dash/emails/1", want: 303, loc: "/login"})
	}
	add(isoCase{name: "alpha org: beta's received email page", who: alpha, method: get, route: rOriginal, url: "/agent/beta/emails/1",
		want: 303, loc: "/agent/beta/login"})
	add(isoCase{name: "anonymous: received email", who: anon, method: get, route: rOriginal, url: "/agent/beta/emails/1",
		want: 303, loc: "/agent/beta/login"})
	add(isoCase{name: "anonymous: org's received email", who: anon, method: get, route: rOrgOrigin, url: "/dash/emails/1",
		want: 303, loc: "/login"})
	add(isoCase{name: "other beta agent: beta's received email", who: betaOther, method: get, route: rOriginal,
		url: "/agent/beta/emails/2", want: 200, has: "Betasecret second email", mayOpenBeta: true, insider: true})

	// A file that came with an email (beta's file 3) is served as any other file: to beta's
	// team, never to alpha (alpha has no file 3), nor to beta's customer of another ticket.
	const (
		rOrgFiles  = "/conversation/:conversationId/files/:fileId"
		rFiles     = "/agent/:org/talk/:conversationId/files/:fileId"
		rCustFiles = "/customer/:org/t/:token/files/:fileId"
	)
	mc, mf := w.betaMailConv, w.betaMailFile
	var betaCust *client
	if w.e != nil {
		betaCust = w.betaCust.browser
	}
	add(isoCase{name: "alpha org: beta's emailed file", who: alpha, method: get, route: rOrgFiles, url: "/conversation/" + mc + "/files/" + mf, want: 404})
	add(isoCase{name: "alpha org: beta's emailed file id in alpha's conversation", who: alpha, method: get, route: rOrgFiles,
		url: "/conversation/1/files/" + mf, want: 404})
	for _, who := range []struct {
		name string
		c    *client
	}{{"alpha agent", alphaAgent}, {"alpha admin", alphaAdmin}} {
		add(isoCase{name: who.name + ": beta's emailed file at alpha", who: who.c, method: get, route: rFiles,
			url: "/agent/alpha/talk/" + mc + "/files/" + mf, want: 404})
		add(isoCase{name: who.name + ": beta's emailed file", who: who.c, method: get, route: rFiles,
			url: "/agent/beta/talk/" + mc + "/files/" + mf, want: 303, loc: "/agent/beta/login"})
	}
	add(isoCase{name: "anonymous: beta's emailed file", who: anon, method: get, route: rFiles, url: "/agent/beta/talk/" + mc + "/files/" + mf,
		want: 303, loc: "/agent/beta/login"})
	if w.e != nil {
		add(isoCase{name: "alpha customer: beta's emailed file id", who: alphaCust, method: get, route: rCustFiles,
			url: w.alphaCust.page + "/files/" + mf, want: 404})
		add(isoCase{name: "beta customer: the emailed file of another ticket", who: betaCust, method: get, route: rCustFiles,
			url: w.betaCust.page + "/files/" + mf, want: 404, mayOpenBeta: true})
	}
	add(isoCase{name: "other beta agent: beta's emailed file", who: betaOther, method: get, route: rFiles,
		url: "/agent/beta/talk/" + mc + "/files/" + mf, want: 200, has: "beta secret mail attachment", mayOpenBeta: true, insider: true})

	// The customer portal: a token is looked up only at the organization of the URL; beta's
	// private ticket token is no sign-in token there either; asking at alpha (which sends no
	// email here) never reaches beta.
	signIn := randomToken()
	for _, r := range []struct{ method, url string }{{get, "/nope/my-tickets"}, {post, "/nope/my-tickets"}, {get, "/BETA/my-tickets"}} {
		add(isoCase{name: "unknown org: portal " + r.method + " " + r.url, who: alphaCust, method: r.method, route: rPortal, url: r.url,
			form: form("email", "bettina@example.net"), want: 404})
	}
	add(isoCase{name: "alpha customer: portal link page", who: alphaCust, method: get, route: rPortal, url: "/alpha/my-tickets?k=" + signIn,
		want: 200, has: `id="portal-sign-in"`})
	add(isoCase{name: "alpha customer: unknown sign-in token", who: alphaCust, method: post, route: rPortal, url: "/alpha/my-tickets?org=beta",
		form: form("token", signIn, "org", "beta"), want: 404, has: `id="portal-expired"`})
	add(isoCase{name: "alpha customer: beta's ticket token as a sign-in token", who: alphaCust, method: post, route: rPortal,
		url: "/beta/my-tickets", form: form("token", w.betaToken), want: 404, has: `id="portal-expired"`, mayOpenBeta: true})
	add(isoCase{name: "alpha customer: beta's customer's address at alpha", who: alphaCust, method: post, route: rPortal,
		url: "/alpha/my-tickets", form: form("email", "bettina@example.net", "org", "beta"), want: 409, has: `id="portal-off"`})
	add(isoCase{name: "anonymous: beta's portal", who: anon, method: get, route: rPortal, url: "/beta/my-tickets", want: 200, has: `name="email"`})
	return out
}
