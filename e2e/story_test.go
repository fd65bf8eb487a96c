package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The steps both stories share: every one goes through the real pages and forms.

// registerOrg registers an organization from the landing page and lands on its dashboard.
func registerOrg(p *person, name, user, password string) {
	p.t.Helper()
	p.open("/", 200)
	p.submit(`.hero a[href="/register"]`, 200)
	p.fill("#name", name)
	p.fill("#website", "https://"+user+".example")
	p.fill("#username", user)
	p.fill("#email", "owner@"+user+".example")
	p.fill("#password", password)
	p.fill("#password_repeat", password)
	p.submit(`form[action="/register"] button[type="submit"]`, 200)
	if got := p.location(); got != "/dash" {
		p.fail("registration led to %s, want /dash", got)
	}
	p.wantText("#flash", "Your helpdesk is ready")
	p.wantText(".brand-name", name)
}

// onboardAgent onboards an agent from the dashboard and returns the one-time password shown.
func onboardAgent(org *person, fullName, email string) string {
	org.t.Helper()
	org.fill("#full_name", fullName)
	org.fill("#agent-email", email)
	org.submit(`form[action="/agents"] button[type="submit"]`, 200)
	pw := org.text("#agent-initial-password")
	if len(pw) < 16 {
		org.fail("initial password %q is too short", pw)
	}
	return pw
}

// openTicket opens a ticket from the organization's card on the landing page and returns the
// customer's private page.
func openTicket(c *person, user, orgName, name, question string) string {
	c.t.Helper()
	c.open("/", 200)
	c.submit(`.org-card a[href="/`+user+`/open-ticket"]`, 200)
	c.wantText("h1", "Contact "+orgName+" support")
	c.wantText(".brand-name", orgName)
	c.fill("#customer_name", name)
	c.fill("#customer_email", slug(name)+"@customer.example")
	c.fill("#query", question)
	c.submit(`main form button[type="submit"]`, 200)
	page := c.location()
	if !strings.HasPrefix(page, "/customer/"+user+"/t/") {
		c.fail("opening the ticket led to %s", page)
	}
	c.wantText("#flash", "Your ticket is open")
	c.wantText("#ticket-status", "waiting for an agent")
	c.wantText("#waiting", "An agent will answer here soon")
	// The conversation starts with the question, and the customer may add to it at once.
	id := messageID(c, question)
	if id == "" {
		c.fail("the conversation does not start with the question")
	}
	if s := sender(c, id); s != "customer" {
		c.fail("the question has data-sender %q", s)
	}
	if !c.has("#composer") {
		c.fail("no composer while the ticket waits for an agent")
	}
	return page
}

// agentFirstLogin logs an agent in with its one-time password and sets its own.
func agentFirstLogin(a *person, user, email, initial, password string) {
	a.t.Helper()
	a.open("/agent/"+user+"/login", 200)
	a.fill("#email", email)
	a.fill("#password", initial)
	a.submit(`main form button[type="submit"]`, 200)
	if got := a.location(); got != "/agent/"+user+"/password" {
		a.fail("first login led to %s, want the password page", got)
	}
	a.fill("#password", password)
	a.fill("#password_repeat", password)
	a.submit(`main form button[type="submit"]`, 200)
	if got := a.location(); got != "/agent/"+user+"/dash" {
		a.fail("setting the password led to %s, want the dashboard", got)
	}
	a.wantText("#flash", "Your password is set")
}

// messageID finds the message (or note) whose text is body on p's page, or "". Activity
// lines have no body of their own: activityID finds those.
func messageID(p *person, body string) string {
	p.t.Helper()
	return eval[string](p, fmt.Sprintf(`(() => {
		const m = [...document.querySelectorAll('#messages .msg')]
			.find(e => { const b = e.querySelector('.msg-body'); return b && b.textContent === %q; });
		return m ? m.id : '';
	})()`, body))
}

// waitMessage waits (at most d) until p's page shows a message whose text is body, and
// returns its element id.
func waitMessage(p *person, body string, d time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if id := messageID(p, body); id != "" {
			return id
		}
		if time.Now().After(deadline) {
			p.fail("no message %q after %v", body, d)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// sender is the data-sender of message id on p's page.
func sender(p *person, id string) string {
	p.t.Helper()
	return eval[string](p, fmt.Sprintf(`document.getElementById(%q).dataset.sender`, id))
}

// markPage leaves a mark in the page's JavaScript state; the mark survives only as long as the
// page is not reloaded or left.
func markPage(p *person) (check func()) {
	p.t.Helper()
	mark := fmt.Sprintf("%s-%d", p.name, time.Now().UnixNano())
	eval[string](p, fmt.Sprintf(`window.__e2eMark = %q`, mark))
	navs := p.navigations()
	return func() {
		p.t.Helper()
		if got := eval[string](p, `String(window.__e2eMark)`); got != mark || p.navigations() != navs {
			p.fail("the page was reloaded or left (mark %q, want %q; navigations %d → %d)", got, mark, navs, p.navigations())
		}
	}
}

// waitLive waits for the element id to appear on p's page by itself, within one poll interval
// (plus slack), and returns how long it took.
func waitLive(p *person, id string, since time.Time) time.Duration {
	p.t.Helper()
	p.waitFor("#"+id, pollInterval+pollSlack)
	return time.Since(since)
}

// TestStoryWithJavaScript is the whole story in three browsers with JavaScript: an
// organization registers and onboards an agent, a customer opens a ticket, the agent signs in
// and takes it; messages reach the other side by polling without a reload; the organization
// watches; the agent closes and the customer rates.
func TestStoryWithJavaScript(t *testing.T) {
	t.Parallel()
	org := newPerson(t, "organization", true)
	cust := newPerson(t, "customer", true)
	agent := newPerson(t, "agent", true)
	const user, orgName = "storyjs", "Story Widgets"

	registerOrg(org, orgName, user, "org password js")
	// JavaScript runs: app.js shows the copy button that is hidden without it.
	if eval[bool](org, `document.querySelector('[data-copy="ticket-link"]').hidden`) {
		org.fail("the copy button stayed hidden: app.js did not run")
	}
	initial := onboardAgent(org, "Alex Agent", "alex@"+user+".example")
	agentFirstLogin(agent, user, "alex@"+user+".example", initial, "agent password js")
	agent.wantText("#queue-empty", "New tickets appear here by themselves")
	agent.wantText("#view-unassigned[aria-current=page]", "Unassigned")

	// A customer opens a ticket; the agent's queue shows it by itself (it polls).
	agentDash := markPage(agent)
	question := "My printer prints only blank pages."
	custTicket := openTicket(cust, user, orgName, "Casey Customer", question)
	start := time.Now()
	agent.waitFor("#tickets .ticket", dashPollInterval+pollSlack)
	t.Logf("the agent's queue showed the new ticket %v after it was opened", time.Since(start).Round(10*time.Millisecond))
	agentDash()
	agent.wantText("#tickets", "Casey Customer")
	agent.wantText("#count-unassigned", "1")
	if a := eval[string](agent, `document.querySelector('#tickets .ticket').dataset.assignee`); a != "" {
		agent.fail("an unassigned ticket has data-assignee %q", a)
	}

	// While nobody has it, the customer adds a detail; it joins the conversation.
	detail := "It started after the last driver update."
	cust.do(chromedp.Focus(chromedp.CSS("#message")))
	cust.typeText(detail)
	cust.press("Enter", false)
	detailID := waitMessage(cust, detail, actionTimeout)

	// The agent takes it and sees the whole conversation.
	agent.submit(`#tickets button[type="submit"]`, 200)
	talk := agent.location()
	if !strings.HasPrefix(talk, "/agent/"+user+"/talk/") {
		agent.fail("taking led to %s", talk)
	}
	if id := messageID(agent, question); id == "" {
		agent.fail("the conversation does not start with the customer's question")
	}
	agent.waitFor("#"+detailID, actionTimeout)
	agent.wantText("#messages [data-sender=activity]", "Alex Agent took the ticket.")

	// The organization opens the conversation from its dashboard.
	org.open("/dash", 200)
	org.wantText("#count-all", "1")
	org.wantText("#tickets .ticket .assignee", "Alex Agent")
	org.submit(`#tickets a[href^="/conversation/"]`, 200)
	org.wantText("h1", "Casey Customer")

	custPage, agentPage, orgPage := markPage(cust), markPage(agent), markPage(org)

	// The agent writes; the customer's page shows it within one poll interval, no reload.
	hello := "Hello Casey! Which printer model is it?"
	agent.do(chromedp.Click(chromedp.CSS("#message")))
	agent.typeText(hello)
	agent.do(chromedp.Click(chromedp.CSS(`#composer button[type="submit"]`)))
	helloID := waitMessage(agent, hello, actionTimeout)
	sent := time.Now()
	if v := eval[string](agent, `document.getElementById('message').value`); v != "" {
		agent.fail("the composer still holds %q after sending", v)
	}
	d := waitLive(cust, helloID, sent)
	t.Logf("agent → customer: %v (poll interval %v)", d.Round(10*time.Millisecond), pollInterval)
	custPage()
	if s := sender(cust, helloID); s != "agent" {
		cust.fail("the agent's message has data-sender %q", s)
	}
	if cust.has(`#messages [data-sender="activity"], #messages [data-sender="note"]`) {
		cust.fail("the customer's page shows the team's activity lines or notes")
	}

	// The customer answers with the keyboard; the agent's page shows it the same way.
	reply := "It is a LaserJet 4, bought in 1995."
	cust.do(chromedp.Focus(chromedp.CSS("#message")))
	cust.typeText(reply)
	cust.press("Enter", false)
	replyID := waitMessage(cust, reply, actionTimeout)
	sent = time.Now()
	d = waitLive(agent, replyID, sent)
	t.Logf("customer → agent: %v", d.Round(10*time.Millisecond))
	agentPage()

	// The organization's page got both, also without a reload.
	org.waitFor("#"+helloID, pollInterval+pollSlack)
	org.waitFor("#"+replyID, pollInterval+pollSlack)
	orgPage()

	// The customer's page says that an agent is helping, once it is loaded again.
	cust.open(custTicket, 200)
	cust.wantText("#ticket-status", "an agent is helping you")
	if cust.has("#waiting") {
		cust.fail("the page still says the ticket waits for an agent")
	}

	// The agent closes the ticket.
	agent.submit("#close-ticket", 200)
	agent.wantText("#flash", "Ticket closed")
	agent.wantText("#closed-banner", "This ticket is closed")
	agent.wantText("#ticket-status", "closed")
	if agent.has("#composer") {
		agent.fail("the composer is still there after closing")
	}

	// The customer's page shows the closed banner and the rating widget by itself.
	start = time.Now()
	cust.waitFor("#rating-form", pollInterval+pollSlack)
	t.Logf("customer page showed the rating widget %v after the close", time.Since(start).Round(10*time.Millisecond))
	cust.wantText("#closed-banner", "This ticket is closed")
	cust.wantText("#ticket-status", "closed")
	cust.do(chromedp.Click(chromedp.CSS(`label[for="rating-5"]`)))
	if !eval[bool](cust, `document.getElementById('rating-5').checked`) {
		cust.fail("clicking the fifth star did not choose 5")
	}
	cust.submit(`#rating-form button[type="submit"]`, 200)
	cust.wantText("#flash", "Thank you")
	cust.wantText("#rated", "5/5")
	if cust.has("#rating-form") {
		cust.fail("the rating form is still offered after rating")
	}

	// The organization's dashboard counts it.
	org.open("/dash", 200)
	org.wantText("#count-closed", "1")
	org.wantText("#count-all", "0")
	org.wantText("#average-rating", "5.0")
	org.submit("#view-closed", 200)
	if !org.has(`#tickets [data-rating="5"]`) {
		org.fail("the closed ticket does not show its rating")
	}
}

// TestStoryWithoutJavaScript is the same story with JavaScript disabled in all three
// browsers: plain form posts, redirects and refresh links.
func TestStoryWithoutJavaScript(t *testing.T) {
	t.Parallel()
	org := newPerson(t, "organization", false)
	cust := newPerson(t, "customer", false)
	agent := newPerson(t, "agent", false)
	const user, orgName = "storynojs", "Plain Forms Ltd"

	registerOrg(org, orgName, user, "org password nojs")
	// JavaScript really is off: app.js would have shown the copy button.
	if !eval[bool](org, `document.querySelector('[data-copy="ticket-link"]').hidden`) {
		org.fail("the copy button is visible: scripts ran")
	}
	initial := onboardAgent(org, "Nora Nojs", "nora@"+user+".example")
	question := "Can I change my delivery address?"
	page := openTicket(cust, user, orgName, "Dana Doe", question)
	agentFirstLogin(agent, user, "nora@"+user+".example", initial, "agent password nojs")

	agent.submit(`#tickets button[type="submit"]`, 200)
	if !strings.HasPrefix(agent.location(), "/agent/"+user+"/talk/") {
		agent.fail("taking led to %s", agent.location())
	}

	// The customer's page does not change by itself; its refresh link shows the news.
	time.Sleep(pollInterval + 500*time.Millisecond)
	cust.wantText("#ticket-status", "waiting for an agent")
	cust.submit(`.refresh-link a[href="`+page+`"]`, 200)
	cust.wantText("#ticket-status", "an agent is helping you")

	// Without JavaScript, Enter in the composer makes a new line; the button sends.
	hello := "Hi Dana, sure. What is the new address?"
	agent.do(chromedp.Focus(chromedp.CSS("#message")))
	agent.typeText("Hi Dana, sure.")
	navs := agent.navigations()
	agent.press("Enter", false)
	if v := eval[string](agent, `document.getElementById('message').value`); v != "Hi Dana, sure.\n" || agent.navigations() != navs {
		agent.fail("Enter without JavaScript: value %q, navigations %d → %d", v, navs, agent.navigations())
	}
	agent.fill("#message", hello)
	agent.submit(`#composer button[type="submit"]`, 200)
	if !strings.Contains(agent.location(), "#msg-") {
		agent.fail("sending led to %s, want the page at the new message", agent.location())
	}
	helloID := messageID(agent, hello)
	if helloID == "" {
		agent.fail("the sent message is not on the page")
	}

	cust.submit(`.refresh-link a`, 200)
	cust.waitFor("#"+helloID, actionTimeout)
	reply := "12 Harbour Street, Portsmouth."
	cust.fill("#message", reply)
	cust.submit(`#composer button[type="submit"]`, 200)
	replyID := messageID(cust, reply)
	if replyID == "" {
		cust.fail("the reply is not on the page")
	}

	agent.submit(`#messages + .refresh-link a`, 200)
	agent.waitFor("#"+replyID, actionTimeout)

	org.open("/dash", 200)
	org.submit(`#tickets a[href^="/conversation/"]`, 200)
	org.waitFor("#"+helloID, actionTimeout)
	org.waitFor("#"+replyID, actionTimeout)

	agent.submit("#close-ticket", 200)
	agent.wantText("#flash", "Ticket closed")

	cust.submit(`.refresh-link a`, 200)
	cust.wantText("#closed-banner", "This ticket is closed")
	cust.do(chromedp.Click(chromedp.CSS(`label[for="rating-4"]`)))
	cust.submit(`#rating-form button[type="submit"]`, 200)
	cust.wantText("#flash", "Thank you")
	cust.wantText("#rated", "4/5")

	org.open("/dash", 200)
	org.wantText("#count-closed", "1")
	org.wantText("#average-rating", "4.0")
}
