package e2e

import (
	"testing"
	"time"
)

// TestKeyboardOnlySending reaches the composer with Tab alone, writes two lines (Shift+Enter
// makes the new line) and sends with Enter: the message is sent, the composer is empty and
// keeps the focus, and the focus is visible. Enter in an empty composer sends nothing.
func TestKeyboardOnlySending(t *testing.T) {
	t.Parallel()
	const user = "keyboard"
	org := seedOrg(t, "Keyboard Co", user, "org password keys")
	seedAgent(t, org, user, "Kim Keys", "kim@keyboard.example", "agent password keys")
	cust, page := seedTicket(t, user, "Lee Learner", "lee@customer.example", "Where do I find my invoices?")

	agent := newPerson(t, "agent", true)
	// Sign in with the keyboard: type, Tab to the next field, Enter submits the form.
	agent.open("/agent/"+user+"/login", 200)
	agent.do(focus("#email"))
	agent.typeText("kim@keyboard.example")
	agent.press("Tab", false)
	agent.typeText("agent password keys")
	agent.press("Enter", false)
	agent.waitFor("#tickets", actionTimeout)
	if got := agent.location(); got != "/agent/"+user+"/dash" {
		agent.fail("signing in with the keyboard led to %s", got)
	}
	// Take the ticket with the keyboard: Tab to its Take button, Enter.
	tabTo(agent, `#tickets button[type="submit"]`, 40)
	agent.press("Enter", false)
	agent.waitFor("#composer", actionTimeout)

	// From the top of the conversation page, Tab alone reaches the composer.
	agent.open(agent.location(), 200)
	tabTo(agent, "#message", 40)
	if style := eval[string](agent, `getComputedStyle(document.activeElement).outlineStyle`); style == "none" {
		agent.fail("the focused composer shows no focus outline")
	}

	agent.typeText("First line")
	agent.press("Enter", true)
	agent.typeText("second line")
	if v := eval[string](agent, `document.getElementById('message').value`); v != "First line\nsecond line" {
		agent.fail("after Shift+Enter the composer holds %q, want two lines", v)
	}
	navs := agent.navigations()
	agent.press("Enter", false)
	id := waitMessage(agent, "First line\nsecond line", actionTimeout)
	// The composer clears when the server answered; give the swap a moment.
	deadline := time.Now().Add(5 * time.Second)
	for eval[string](agent, `document.getElementById('message').value`) != "" {
		if time.Now().After(deadline) {
			agent.fail("the composer still holds %q after sending", eval[string](agent, `document.getElementById('message').value`))
		}
		time.Sleep(25 * time.Millisecond)
	}
	if a := eval[string](agent, `document.activeElement.id`); a != "message" {
		agent.fail("after sending, the focus is on %q, want the composer", a)
	}
	if agent.navigations() != navs {
		agent.fail("sending with Enter reloaded the page")
	}
	if n := eval[int](agent, chatMessages); n != 2 {
		agent.fail("%d messages on the page, want the question and one answer", n)
	}

	// Enter with nothing written sends nothing and says why.
	agent.press("Enter", false)
	agent.wantText("#composer-error", "Write a message first.")
	time.Sleep(300 * time.Millisecond)
	if n := eval[int](agent, chatMessages); n != 2 {
		agent.fail("an empty Enter sent a message (%d messages)", n)
	}
	if a := eval[string](agent, `document.activeElement.id`); a != "message" {
		agent.fail("after an empty Enter, the focus is on %q", a)
	}
	if v := eval[string](agent, `document.getElementById('message').value`); v != "" {
		agent.fail("Enter put %q into the composer; it must only send", v)
	}

	// The customer got the two lines as one message.
	_, body := cust.get(page)
	if !containsAll(body, id, "First line\nsecond line") {
		t.Errorf("the customer's page lacks %s with both lines", id)
	}
}

// chatMessages counts the messages between customer and agent on a page (not the team's
// activity lines and notes).
const chatMessages = `document.querySelectorAll('#messages [data-sender="customer"], #messages [data-sender="agent"]').length`

// tabTo presses Tab until the element sel has the focus, at most max times.
func tabTo(p *person, sel string, max int) {
	p.t.Helper()
	check := `document.activeElement && document.activeElement.matches(` + jsString(sel) + `)`
	for i := 0; i < max; i++ {
		if eval[bool](p, check) {
			return
		}
		p.press("Tab", false)
	}
	p.fail("%s not reached with %d presses of Tab (focus is on %s)", sel, max,
		eval[string](p, `document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : 'nothing'`))
}
