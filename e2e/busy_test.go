package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// holdRequests pauses the requests of p's tab whose URL matches pattern (Fetch domain
// wildcards) before they leave the browser: the page stays in its "request running" state
// until release lets every held request go on.
func holdRequests(p *person, pattern string) (waitHeld func(), release func()) {
	p.t.Helper()
	events := chromedp.Events(p.ctx, fetch.RequestPaused) // subscribe before anything is paused
	if _, err := chromedp.Call(p.ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: pattern}}}); err != nil {
		p.t.Fatal(err)
	}
	paused := make(chan fetch.RequestID, 16)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			paused <- ev.RequestID
		}
	}()
	var held []fetch.RequestID
	waitHeld = func() {
		p.t.Helper()
		select {
		case id := <-paused:
			held = append(held, id)
		case <-time.After(actionTimeout):
			p.fail("no request to %s was made", pattern)
		}
	}
	release = func() {
		p.t.Helper()
		for {
			select {
			case id := <-paused:
				held = append(held, id)
				continue
			default:
			}
			break
		}
		for _, id := range held {
			if _, err := chromedp.Call(p.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id}); err != nil {
				p.t.Fatal(err)
			}
		}
		held = nil
		if _, err := chromedp.Call(p.ctx, fetch.Disable, cdp.Empty{}); err != nil {
			p.t.Fatal(err)
		}
	}
	return waitHeld, release
}

// waitTrue waits (at most d) until the JavaScript expression js is true.
func waitTrue(p *person, js string, d time.Duration, what string) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for !eval[bool](p, js) {
		if time.Now().After(deadline) {
			p.fail("not within %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBusyWhileWaiting slows the network down and looks at the page while requests run: the
// composer's button is disabled and its spinner shows while a message is on its way, a second
// Enter does not send it twice; a plain form's button shows that it is working.
func TestBusyWhileWaiting(t *testing.T) {
	t.Parallel()
	const user = "busy"
	org := seedOrg(t, "Busy Bees", user, "org password busy")
	a := seedAgent(t, org, user, "Bo Busy", "bo@busy.example", "agent password busy")
	seedTicket(t, user, "Cy Customer", "cy@customer.example", "Is anyone there?")
	talk := seedTake(t, a, user)

	agent := newPerson(t, "agent", true)
	loginAgent(agent, user, "bo@busy.example", "agent password busy", "/agent/"+user+"/dash")
	agent.open(talk, 200)

	// The message's POST is held: the page shows that it is sending.
	waitHeld, release := holdRequests(agent, "*/talk/*/messages")
	agent.do(focus("#message"))
	agent.typeText("Yes, I am here.")
	agent.press("Enter", false)
	waitHeld()
	if !eval[bool](agent, `document.querySelector('#composer button[type="submit"]').disabled`) {
		agent.fail("the Send button is not disabled while sending")
	}
	if !eval[bool](agent, `getComputedStyle(document.querySelector('#composer .spinner')).display !== 'none'`) {
		agent.fail("no spinner while sending")
	}
	agent.press("Enter", false) // impatient: must not send a second copy
	time.Sleep(100 * time.Millisecond)
	release()
	waitMessage(agent, "Yes, I am here.", actionTimeout)
	waitTrue(agent, `!document.querySelector('#composer button[type="submit"]').disabled`, 5*time.Second, "the Send button is enabled again")
	if eval[bool](agent, `getComputedStyle(document.querySelector('#composer .spinner')).display !== 'none'`) {
		agent.fail("the spinner still shows after sending")
	}
	if a := eval[string](agent, `document.activeElement.id`); a != "message" {
		agent.fail("after sending, the focus is on %q", a)
	}
	time.Sleep(300 * time.Millisecond)
	n := eval[int](agent, `[...document.querySelectorAll('#messages .msg-body')].filter(e => e.textContent === 'Yes, I am here.').length`)
	if n != 1 {
		agent.fail("the message is on the page %d times, want once", n)
	}

	// A plain form (closing the ticket): its button shows a spinner and is disabled while the
	// next page loads, so it cannot be sent twice. The page is gone once the answer is there,
	// so a watcher notes what it saw in sessionStorage, which outlives the navigation.
	eval[bool](agent, `(() => {
		sessionStorage.removeItem('e2e-busy');
		const b = document.getElementById('close-ticket');
		new MutationObserver(() => {
			if (b.disabled && b.classList.contains('is-busy') && b.getAttribute('aria-busy') === 'true') {
				sessionStorage.setItem('e2e-busy', 'seen');
			}
		}).observe(b, {attributes: true});
		return true;
	})()`)
	agent.submit("#close-ticket", 200)
	agent.wantText("#flash", "Ticket closed")
	if got := eval[string](agent, `String(sessionStorage.getItem('e2e-busy'))`); got != "seen" {
		agent.fail("the Close button did not show that the form was being sent (%s)", got)
	}
}

// TestDashboardLoadsMore fills a queue past one page: it shows the 50 tickets that waited
// longest, and a "Load more" that adds the next ones in place with JavaScript (the keyboard
// focus moves to the first ticket added), and as a plain link without.
func TestDashboardLoadsMore(t *testing.T) {
	t.Parallel()
	const user, total = "loadmore", 53
	seedOrg(t, "Load More Ltd", user, "org password more")
	for i := 1; i <= total; i++ {
		seedTicket(t, user, fmt.Sprintf("Customer %02d", i), fmt.Sprintf("c%02d@customer.example", i), fmt.Sprintf("Question number %d", i))
	}
	count := `document.querySelectorAll('#tickets .ticket').length`

	for _, js := range []bool{true, false} {
		name := map[bool]string{true: "organization", false: "organization without JavaScript"}[js]
		org := newPerson(t, name, js)
		loginOrg(org, user, "org password more")
		if n := eval[int](org, count); n != 50 {
			org.fail("%d open tickets shown, want the first 50", n)
		}
		org.wantText("#count-all", fmt.Sprint(total))
		org.wantText("#view-all", "All open")
		if eval[string](org, `document.getElementById('view-all').getAttribute('aria-current')`) != "page" {
			org.fail("the owner's dashboard does not show the All open queue")
		}
		// The customer who has waited longest comes first.
		org.wantText("#tickets .ticket:first-child", "Customer 01")
		org.wantText("#tickets .ticket:nth-child(50)", "Customer 50")
		if js {
			check := markPage(org)
			org.do(chromedp.Click(chromedp.CSS("#queue-live .load-more")))
			waitTrue(org, count+` === 53`, actionTimeout, "all 53 tickets after Load more")
			check()
			// The keyboard focus moves on to the first ticket added.
			waitTrue(org, `(() => { const a = document.activeElement;
				return !!a && !!a.closest('#tickets .ticket:nth-child(51)'); })()`, 2*time.Second,
				"the focus is on the first added ticket after Load more")
			org.wantText("#tickets .ticket:nth-child(51)", "Customer 51")
		} else {
			org.submit("#queue-live .load-more", 200)
			if n := eval[int](org, count); n != total {
				org.fail("%d tickets after Load more, want %d", n, total)
			}
			if !strings.Contains(org.location(), "n=100") {
				org.fail("Load more without JavaScript led to %s", org.location())
			}
		}
		if org.has("#queue-live .load-more") {
			org.fail("Load more is still offered with every ticket shown")
		}
	}
}
