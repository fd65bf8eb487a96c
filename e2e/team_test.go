package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A team of three works on the same tickets: the organization's owner and two agents, Ann and
// Ben, each in a browser of their own. The customer writes through its private page.

// team is an organization with two agents, prepared through the public forms.
type team struct {
	user, orgName, orgPassword string
	org                        *client // the owner's plain HTTP client
	ann, ben                   *client
	annEmail, benEmail         string
}

const (
	annName, benName         = "Ann Able", "Ben Baker"
	annPassword, benPassword = "agent password ann", "agent password ben"
)

func seedTeam(t *testing.T, user, orgName string) team {
	t.Helper()
	tm := team{user: user, orgName: orgName, orgPassword: "org password " + user,
		annEmail: "ann@" + user + ".example", benEmail: "ben@" + user + ".example"}
	tm.org = seedOrg(t, orgName, user, tm.orgPassword)
	tm.ann = seedAgent(t, tm.org, user, annName, tm.annEmail, annPassword)
	tm.ben = seedAgent(t, tm.org, user, benName, tm.benEmail, benPassword)
	return tm
}

// browsers signs the owner (when owner is set), Ann and Ben in, each in a browser with
// JavaScript.
func (tm team) browsers(t *testing.T, owner bool) (org, ann, ben *person) {
	t.Helper()
	ann, ben = newPerson(t, "Ann", true), newPerson(t, "Ben", true)
	loginAgent(ann, tm.user, tm.annEmail, annPassword, "/agent/"+tm.user+"/dash")
	loginAgent(ben, tm.user, tm.benEmail, benPassword, "/agent/"+tm.user+"/dash")
	if owner {
		org = newPerson(t, "owner", true)
		loginOrg(org, tm.user, tm.orgPassword)
	}
	return org, ann, ben
}

// dash is an agent's queue view.
func (tm team) dash(view string) string { return "/agent/" + tm.user + "/dash?view=" + view }

// optionValue is the value of the option of select sel whose text is label.
func optionValue(p *person, sel, label string) string {
	p.t.Helper()
	v := eval[string](p, fmt.Sprintf(`(() => {
		const o = [...document.querySelectorAll(%q + ' option')].find(o => o.textContent.trim() === %q);
		return o ? o.value : '';
	})()`, sel, label))
	if v == "" {
		p.fail("%s offers no %q", sel, label)
	}
	return v
}

// choose selects the option of select sel whose text is label.
func choose(p *person, sel, label string) {
	p.t.Helper()
	p.do(chromedp.SetValue(chromedp.CSS(sel), optionValue(p, sel, label)))
}

// activityLines is the text of the activity lines on p's page.
func activityLines(p *person) string {
	p.t.Helper()
	return eval[string](p, `[...document.querySelectorAll('#messages [data-sender="activity"]')].map(e => e.textContent).join('\n')`)
}

// waitActivity waits (at most d) for an activity line containing text on p's page.
func waitActivity(p *person, text string, d time.Duration) {
	p.t.Helper()
	waitTrue(p, fmt.Sprintf(`[...document.querySelectorAll('#messages [data-sender="activity"]')].some(e => e.textContent.includes(%q))`, text),
		d, "an activity line "+jsString(text))
}

// rowOf is the id of the first ticket row on p's queue.
func rowOf(p *person) string {
	p.t.Helper()
	id := eval[string](p, `(document.querySelector('#tickets .ticket') || {}).id || ''`)
	if id == "" {
		p.fail("no ticket in the queue")
	}
	return id
}

// noTeamOnlyContent fails when the customer's page shows anything meant for the team only.
func noTeamOnlyContent(p *person, secrets ...string) {
	p.t.Helper()
	if p.has(`#messages [data-sender="note"], #messages [data-sender="activity"], #presence, #note-composer`) {
		p.fail("the customer's page shows a note, an activity line or presence")
	}
	html := eval[string](p, `document.documentElement.outerHTML`)
	for _, s := range append(secrets, "took the ticket", "internal note", "is viewing") {
		if i := strings.Index(html, s); i >= 0 {
			p.fail("the customer's page contains %q: …%s…", s, html[max(0, i-200):min(len(html), i+100)])
		}
	}
}

// TestTeamTakeAndHandOver: Ann takes a ticket from the Unassigned queue (Ben's queue loses it
// by itself); Ben can read it and add notes but not write to the customer; Ann hands it over
// to Ben, whose open page turns into one he may write on, and whose Mine queue has it; Ann
// keeps no composer. Reassigning a colleague's ticket takes the owner (or an admin): the
// owner gives it back.
func TestTeamTakeAndHandOver(t *testing.T) {
	t.Parallel()
	tm := seedTeam(t, "handover", "Hand Over Inc")
	cust, custPage := seedTicket(t, tm.user, "Carl Customer", "carl@customer.example", "My invoice shows the wrong VAT number.")
	owner, ann, ben := tm.browsers(t, true)

	// Both agents start on the Unassigned queue, with the ticket in it.
	row := rowOf(ann)
	ann.wantText("#count-unassigned", "1")
	ben.wantText("#"+row, "Carl Customer")
	if a := eval[string](ben, `document.getElementById(`+jsString(row)+`).dataset.assignee`); a != "" {
		ben.fail("the unassigned ticket has data-assignee %q", a)
	}
	benDash := markPage(ben)

	// Ann takes it from her queue.
	ann.submit("#"+row+` button[type="submit"]`, 200)
	talk := ann.location()
	if !strings.HasPrefix(talk, "/agent/"+tm.user+"/talk/") {
		ann.fail("Take led to %s", talk)
	}
	ann.waitFor("#composer", actionTimeout)
	ann.wantText("#ticket-status", "open")
	if ann.has("#take-ticket") || ann.has("#assigned-notice") {
		ann.fail("Ann's own ticket offers to take it or says someone else has it")
	}
	waitActivity(ann, annName+" took the ticket.", actionTimeout)
	annID, benID := optionValue(ann, "#agent_id", annName), optionValue(ann, "#agent_id", benName)
	if v := eval[string](ann, `document.getElementById('agent_id').value`); v != annID {
		ann.fail("the assignee field shows %q, want Ann (%s)", v, annID)
	}

	// Ben's Unassigned queue loses it by itself; All open shows it as Ann's.
	start := time.Now()
	waitTrue(ben, `!document.getElementById(`+jsString(row)+`)`, dashPollInterval+pollSlack, "the taken ticket leaves Ben's Unassigned queue")
	t.Logf("Ben's queue dropped the taken ticket after %v", time.Since(start).Round(10*time.Millisecond))
	benDash()
	ben.wantText("#count-unassigned", "0")
	ben.submit("#view-all", 200)
	if a := eval[string](ben, `document.getElementById(`+jsString(row)+`).dataset.assignee`); a != annID {
		ben.fail("in All open the ticket has data-assignee %q, want Ann's id %s", a, annID)
	}
	ben.wantText("#"+row+" .assignee", annName)

	// Ben opens it: he reads it and may add notes, not write to the customer nor take it.
	ben.submit("#"+row+` a[href*="/talk/"]`, 200)
	if ben.location() != talk {
		ben.fail("the row led Ben to %s, want %s", ben.location(), talk)
	}
	ben.wantText("#assigned-notice", annName+" has this ticket")
	if ben.has("#composer") || ben.has("#take-ticket") {
		ben.fail("Ben may write or take a ticket Ann has")
	}
	if !ben.has("#note-composer") {
		ben.fail("Ben cannot add a note to Ann's ticket")
	}
	if !eval[bool](ben, `document.getElementById('agent_id').disabled`) {
		ben.fail("Ben may reassign Ann's ticket")
	}

	// Ann hands it over to Ben: she keeps a page to read and note, without a composer.
	choose(ann, "#agent_id", benName)
	ann.submit(`#assign-form button[type="submit"]`, 200)
	if ann.location() != talk {
		ann.fail("assigning led to %s", ann.location())
	}
	waitActivity(ann, annName+" assigned the ticket to "+benName+".", actionTimeout)
	ann.wantText("#assigned-notice", benName+" has this ticket")
	if ann.has("#composer") {
		ann.fail("Ann still has a composer on a ticket she handed over")
	}
	if !ann.has("#note-composer") {
		ann.fail("Ann cannot add notes after handing the ticket over")
	}

	// Ben's open page notices by itself and now lets him write.
	start = time.Now()
	ben.waitFor("#composer", 2*pollInterval+pollSlack)
	t.Logf("Ben's page offered the composer %v after the hand-over", time.Since(start).Round(10*time.Millisecond))
	if ben.has("#assigned-notice") {
		ben.fail("Ben's page still says someone else has the ticket")
	}
	waitActivity(ben, annName+" assigned the ticket to "+benName+".", actionTimeout)
	answer := "Hello Carl, I am correcting the VAT number on your invoice now."
	ben.do(focus("#message"))
	ben.typeText(answer)
	ben.press("Enter", false)
	waitMessage(ben, answer, actionTimeout)
	if _, body := cust.get(custPage); !strings.Contains(body, answer) || strings.Contains(body, "assigned the ticket") ||
		strings.Contains(body, `data-sender="activity"`) {
		t.Errorf("the customer's page lacks Ben's answer or shows the team's activity lines")
	}

	// The ticket is in Ben's Mine queue, not in Ann's.
	ben.open(tm.dash("mine"), 200)
	ben.wantText("#count-mine", "1")
	if a := eval[string](ben, `(document.getElementById(`+jsString(row)+`) || {dataset: {}}).dataset.assignee || ''`); a != benID {
		ben.fail("Ben's Mine queue: the ticket's data-assignee is %q, want %s", a, benID)
	}
	ann.open(tm.dash("mine"), 200)
	ann.wantText("#count-mine", "0")
	ann.waitFor("#queue-empty", actionTimeout)
	benMine := markPage(ben)

	// Ann may no longer reassign it; the owner may: it goes back to Ann.
	_, body := tm.ann.get(talk)
	if !strings.Contains(body, `id="agent_id" name="agent_id" disabled`) {
		t.Errorf("Ann's page of Ben's ticket lets her reassign it")
	}
	owner.open("/conversation/"+lastSegment(talk), 200)
	choose(owner, "#agent_id", annName)
	owner.submit(`#assign-form button[type="submit"]`, 200)
	waitActivity(owner, "assigned the ticket to "+annName+".", actionTimeout)
	if v := eval[string](owner, `document.getElementById('agent_id').value`); v != annID {
		owner.fail("after reassigning, the assignee field shows %q", v)
	}
	waitTrue(ben, `!document.getElementById(`+jsString(row)+`)`, dashPollInterval+pollSlack, "the ticket leaves Ben's Mine queue")
	benMine()
	ben.wantText("#count-mine", "0")
}

// TestTeamNoteWithMention: Ann writes an internal note mentioning Ben with the "@" picker;
// the ticket appears in Ben's Mentions queue by itself; the owner and Ben see the note; the
// customer's page, polling all along, never shows the note nor any activity line.
func TestTeamNoteWithMention(t *testing.T) {
	t.Parallel()
	tm := seedTeam(t, "mentions", "Mentions Ltd")
	_, custPage := seedTicket(t, tm.user, "Mia Customer", "mia@customer.example", "Can I pay by bank transfer?")
	talk := seedTake(t, tm.ann, tm.user)
	_, ann, ben := tm.browsers(t, false)
	cust := newPerson(t, "customer", true)

	ben.open(tm.dash("mentions"), 200)
	ben.wantText("#count-mentions", "0")
	ben.waitFor("#queue-empty", actionTimeout)
	benDash := markPage(ben)
	cust.open(custPage, 200)
	custLive := markPage(cust)

	// Ann writes the note with the keyboard: "@be" opens the colleagues' picker, Enter picks.
	ann.open(talk, 200)
	ann.do(focus("#note"))
	ann.typeText("Could @be")
	ann.waitFor("#mention-picker", actionTimeout)
	if got := eval[string](ann, `[...document.querySelectorAll('#mention-picker [role=option]')].filter(o => !o.hidden).map(o => o.textContent.trim()).join('|')`); !strings.HasPrefix(got, benName) || strings.Contains(got, annName) {
		ann.fail("the picker offers %q for @be", got)
	}
	if eval[string](ann, `document.getElementById('note').getAttribute('aria-expanded')`) != "true" {
		ann.fail("the note field does not say that its picker is open")
	}
	ann.press("Enter", false)
	if v := eval[string](ann, `document.getElementById('note').value`); v != "Could @ben " {
		ann.fail("after picking, the note holds %q", v)
	}
	if !eval[bool](ann, `document.getElementById('mention-picker').hidden`) {
		ann.fail("the picker stays open after picking")
	}
	ann.typeText("check whether we accept transfers from Austria?")
	note := "Could @ben check whether we accept transfers from Austria?"
	navs := ann.navigations()
	ann.press("Enter", false)
	noteID := waitMessage(ann, note, actionTimeout)
	if s := sender(ann, noteID); s != "note" {
		ann.fail("the note has data-sender %q", s)
	}
	if !strings.Contains(eval[string](ann, `document.getElementById(`+jsString(noteID)+`).textContent`), "internal note") {
		ann.fail("the note is not marked as an internal note")
	}
	waitTrue(ann, `document.getElementById('note').value === ''`, 5*time.Second, "the note field is empty after sending")
	if ann.navigations() != navs {
		ann.fail("sending the note reloaded the page")
	}

	// Ben's Mentions queue shows the ticket by itself.
	start := time.Now()
	ben.waitFor("#tickets .ticket", dashPollInterval+pollSlack)
	t.Logf("the ticket reached Ben's Mentions queue %v after the note", time.Since(start).Round(10*time.Millisecond))
	benDash()
	ben.wantText("#count-mentions", "1")
	ben.wantText("#tickets .ticket", "Mia Customer")
	ben.submit(`#tickets a[href*="/talk/"]`, 200)
	ben.waitFor("#"+noteID, actionTimeout)
	if s := sender(ben, noteID); s != "note" {
		ben.fail("Ben sees the note with data-sender %q", s)
	}
	// The owner sees it as well.
	if _, body := tm.org.get("/conversation/" + lastSegment(talk)); !containsAll(body, `id="`+noteID+`"`, `data-sender="note"`, "check whether we accept transfers") {
		t.Errorf("the owner's page of the ticket lacks the note")
	}

	// Ann answers the customer: once the answer is on the customer's page, its polls have
	// run past the note; neither the note nor the activity lines are there.
	answer := "Hi Mia, we are checking that for you."
	ann.do(focus("#message"))
	ann.typeText(answer)
	ann.press("Enter", false)
	answerID := waitMessage(ann, answer, actionTimeout)
	waitLive(cust, answerID, time.Now())
	custLive()
	noTeamOnlyContent(cust, "transfers from Austria", noteID)
	if _, body := newClient(t).get(custPage); strings.Contains(body, "transfers from Austria") || strings.Contains(body, `data-sender="note"`) {
		t.Errorf("the customer's page, loaded again, shows the note")
	}
}

// TestTeamSnoozeAndWake: in an organization on India's time (set on the settings page), a
// pending ticket opens again when the customer writes; Ann snoozes it until the next minute;
// it shows in the Snoozed queue and wakes by itself at that time: Ann's open page and Ben's
// Snoozed queue follow without a reload.
func TestTeamSnoozeAndWake(t *testing.T) {
	t.Parallel()
	const zone = "Asia/Kolkata"
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatalf("the test needs the time zone database: %v", err)
	}
	tm := seedTeam(t, "sleepy", "Sleepy Co")
	_, custPage := seedTicket(t, tm.user, "Sue Customer", "sue@customer.example", "When does my subscription renew?")
	talk := seedTake(t, tm.ann, tm.user)
	owner, ann, ben := tm.browsers(t, true)
	cust := newPerson(t, "customer", true)

	// The owner sets the time zone.
	owner.open("/dash", 200)
	owner.submit("#settings-link", 200)
	owner.fill("#time_zone", zone)
	owner.submit(`#settings-form button[type="submit"]`, 200)
	owner.wantText("#flash", "Times are now shown in "+zone)
	if v := eval[string](owner, `document.getElementById('time_zone').value`); v != zone {
		owner.fail("the settings show the zone %q", v)
	}

	// Pending: waiting on the customer, whose answer opens the ticket again.
	ann.open(talk, 200)
	ann.wantText(`label[for="snooze_until"]`, zone)
	choose(ann, "#status", "pending")
	ann.submit(`#status-form button[type="submit"]`, 200)
	ann.wantText("#ticket-status", "pending")
	waitActivity(ann, annName+" set the status to pending.", actionTimeout)
	cust.open(custPage, 200)
	cust.wantText("#ticket-status", "waiting for your reply")
	reply := "It renews on the first of each month, I believe?"
	cust.do(focus("#message"))
	cust.typeText(reply)
	cust.press("Enter", false)
	waitMessage(cust, reply, actionTimeout)
	start := time.Now()
	waitTrue(ann, `(document.getElementById('ticket-status') || {}).textContent === 'open'`, 2*pollInterval+pollSlack,
		"Ann's page shows the ticket open again after the customer wrote")
	t.Logf("Ann's page showed the ticket open %v after the customer wrote", time.Since(start).Round(10*time.Millisecond))
	waitActivity(ann, "The customer wrote again; the ticket is open.", actionTimeout)
	ann.waitFor("#"+messageID(ann, reply), actionTimeout)
	noTeamOnlyContent(cust)

	// Ben watches the Snoozed queue.
	ben.open(tm.dash("snoozed"), 200)
	ben.wantText("#count-snoozed", "0")
	benDash := markPage(ben)

	// Snooze until the next whole minute in the organization's zone (the form has minutes).
	now := time.Now().In(loc)
	until := now.Truncate(time.Minute).Add(time.Minute)
	if until.Sub(now) < 10*time.Second {
		until = until.Add(time.Minute) // leave time for the form to arrive before it
	}
	choose(ann, "#status", "snoozed")
	ann.do(chromedp.SetValue(chromedp.CSS("#snooze_until"), until.Format("2006-01-02T15:04")))
	ann.submit(`#status-form button[type="submit"]`, 200)
	ann.wantText("#ticket-status", "snoozed")
	waitActivity(ann, annName+" snoozed the ticket until "+until.Format("Mon 2 Jan 2006, 15:04")+" IST.", actionTimeout)
	t.Logf("snoozed until %s (%v ahead)", until.Format(time.RFC3339), time.Until(until).Round(time.Second))
	start = time.Now()
	waitTrue(ben, `!!document.querySelector('#tickets .ticket')`, dashPollInterval+pollSlack, "the ticket reaches Ben's Snoozed queue")
	t.Logf("Ben's Snoozed queue showed the ticket after %v", time.Since(start).Round(10*time.Millisecond))
	benDash()
	row := rowOf(ben)
	ben.wantText("#count-snoozed", "1")
	ben.wantText("#"+row+" .ticket-meta", "Snoozed until")
	if st := eval[string](ben, `document.getElementById(`+jsString(row)+`).dataset.status`); st != "snoozed" {
		ben.fail("the row has data-status %q", st)
	}
	// A snoozed ticket is nobody's current work: not in Ann's Mine queue.
	if _, body := tm.ann.get(tm.dash("mine")); strings.Contains(body, `id="`+row+`"`) {
		t.Errorf("the snoozed ticket is in Ann's Mine queue")
	}

	// It wakes at its time, by itself: Ann's page (reloaded by its poll) and Ben's queue.
	wait := time.Until(until) + 20*time.Second
	waitTrue(ann, `(document.getElementById('ticket-status') || {}).textContent === 'open'`, wait, "the ticket wakes up")
	woke := time.Now()
	if woke.Before(until) {
		t.Errorf("the ticket woke at %s, before its time %s", woke.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	t.Logf("Ann's page showed the ticket awake %v after its time", woke.Sub(until).Round(10*time.Millisecond))
	waitActivity(ann, "The snooze ended; the ticket is open again.", actionTimeout)
	waitTrue(ben, `!document.getElementById(`+jsString(row)+`)`, dashPollInterval+pollSlack, "the woken ticket leaves the Snoozed queue")
	benDash()
	ben.wantText("#count-snoozed", "0")
	if _, body := tm.ann.get(tm.dash("mine")); !strings.Contains(body, `id="`+row+`"`) {
		t.Errorf("the woken ticket is not back in Ann's Mine queue")
	}
	noTeamOnlyContent(cust, "snoozed", "snooze")
}

// TestTeamCannedReplies: the owner saves canned replies on its page; Ann inserts one with
// JavaScript ("/" and letters of the title, Enter) and Ben without JavaScript (the select and
// the Insert button); placeholders are filled in for each ticket and agent.
func TestTeamCannedReplies(t *testing.T) {
	t.Parallel()
	tm := seedTeam(t, "canned", "Canned Goods")
	_, page1 := seedTicket(t, tm.user, "Rita Refund", "rita@customer.example", "Where is my refund?")
	talk1 := seedTake(t, tm.ann, tm.user)
	_, page2 := seedTicket(t, tm.user, "Rob Refund", "rob@customer.example", "I returned the parcel, what now?")
	talk2 := seedTake(t, tm.ben, tm.user)

	owner := newPerson(t, "owner", true)
	loginOrg(owner, tm.user, tm.orgPassword)
	owner.submit("#canned-link", 200)
	owner.waitFor("#canned-empty", actionTimeout)
	const refundBody = "Hi {{customer_name}}, the refund for ticket #{{ticket_id}} reaches your card within 5 days. — {{agent_name}}, {{org_name}}"
	for _, c := range []struct{ title, body string }{
		{"Greeting", "Hello {{customer_name}}, thanks for writing!"},
		{"Refund timing", refundBody},
	} {
		owner.fill("#title", c.title)
		owner.fill("#body", c.body)
		owner.submit(`#canned-form button[type="submit"]`, 200)
		owner.wantText("#flash", "The canned reply is saved.")
	}
	owner.wantText("#canned", "Refund timing")
	owner.wantText("#canned", "{{ticket_id}}")

	ticketNumber := func(c *client, talk string) string { return ticketIDOf(t, c, talk) }
	want1 := fmt.Sprintf("Hi Rita Refund, the refund for ticket #%s reaches your card within 5 days. — %s, %s",
		ticketNumber(tm.ann, talk1), annName, tm.orgName)
	want2 := fmt.Sprintf("Hi Rob Refund, the refund for ticket #%s reaches your card within 5 days. — %s, %s",
		ticketNumber(tm.ben, talk2), benName, tm.orgName)

	// With JavaScript: "/" in the empty composer opens the picker, letters filter it, Enter
	// inserts, Enter again sends.
	ann := newPerson(t, "Ann", true)
	loginAgent(ann, tm.user, tm.annEmail, annPassword, "/agent/"+tm.user+"/dash")
	ann.open(talk1, 200)
	ann.do(focus("#message"))
	ann.typeText("/")
	ann.waitFor("#canned-picker", actionTimeout)
	if n := eval[int](ann, `[...document.querySelectorAll('#canned-picker [role=option]')].filter(o => !o.hidden).length`); n != 2 {
		ann.fail("\"/\" offers %d canned replies, want both", n)
	}
	ann.typeText("ref")
	if got := eval[string](ann, `[...document.querySelectorAll('#canned-picker [role=option]')].filter(o => !o.hidden).map(o => o.textContent.trim()).join('|')`); got != "Refund timing" {
		ann.fail("\"/ref\" offers %q", got)
	}
	if sel := eval[string](ann, `(document.querySelector('#canned-picker [role=option]:not([hidden])[aria-selected=true]') || {}).textContent || ''`); strings.TrimSpace(sel) != "Refund timing" {
		ann.fail("the highlighted canned reply is %q", sel)
	}
	ann.press("Enter", false)
	if v := eval[string](ann, `document.getElementById('message').value`); v != want1 {
		ann.fail("the canned reply inserted %q, want %q", v, want1)
	}
	if !eval[bool](ann, `document.getElementById('canned-picker').hidden`) {
		ann.fail("the picker stays open after inserting")
	}
	navs := ann.navigations()
	ann.press("Enter", false)
	waitMessage(ann, want1, actionTimeout)
	waitTrue(ann, `document.getElementById('message').value === ''`, 5*time.Second, "the composer is empty after sending")
	if ann.navigations() != navs {
		ann.fail("sending the canned reply reloaded the page")
	}
	if _, body := newClient(t).get(page1); !strings.Contains(body, "reaches your card within 5 days. — "+annName) {
		t.Errorf("Rita's page lacks the canned reply")
	}

	// Without JavaScript: the select and the Insert button fill the composer.
	ben := newPerson(t, "Ben without JavaScript", false)
	loginAgent(ben, tm.user, tm.benEmail, benPassword, "/agent/"+tm.user+"/dash")
	ben.open(talk2, 200)
	ben.do(chromedp.Click(chromedp.CSS("#canned-insert summary")))
	ben.waitFor("#canned-choice", actionTimeout)
	choose(ben, "#canned-choice", "Refund timing")
	ben.submit(`#canned-insert button[type="submit"]`, 200)
	if !strings.Contains(ben.location(), "canned=") {
		ben.fail("Insert led to %s", ben.location())
	}
	if v := eval[string](ben, `document.getElementById('message').value`); v != want2 {
		ben.fail("Insert put %q into the composer, want %q", v, want2)
	}
	ben.submit(`#composer button[type="submit"]`, 200)
	if messageID(ben, want2) == "" {
		ben.fail("the canned reply was not sent")
	}
	if _, body := newClient(t).get(page2); !strings.Contains(body, "reaches your card within 5 days. — "+benName) {
		t.Errorf("Rob's page lacks the canned reply")
	}
}

// TestTeamPresence: Ben and the owner watch a ticket's page; they see "Ann is viewing" within
// 4 s of Ann opening it, "is writing…" while she types in the composer, and nothing of her
// within 10 s after she left. Their pages are never reloaded for it; the customer sees none
// of it.
func TestTeamPresence(t *testing.T) {
	t.Parallel()
	tm := seedTeam(t, "presence", "Presence Partners")
	_, custPage := seedTicket(t, tm.user, "Pia Customer", "pia@customer.example", "Is anybody looking at this?")
	talk := seedTake(t, tm.ann, tm.user)
	owner, ann, ben := tm.browsers(t, true)

	ben.open(talk, 200)
	owner.open("/conversation/"+lastSegment(talk), 200)
	// Ben's page shows the owner, who is there too, and no Ann yet.
	waitTrue(ben, `document.getElementById('presence').textContent.includes('is viewing')`, 2*pollInterval+pollSlack, "Ben sees the owner")
	if strings.Contains(ben.text("#presence"), annName) {
		ben.fail("Ben sees Ann before she opened the ticket")
	}
	benPage, ownerPage := markPage(ben), markPage(owner)

	const presence = `document.getElementById('presence').textContent`
	seen := func(p *person, want string, d time.Duration, what string) time.Duration {
		p.t.Helper()
		start := time.Now()
		waitTrue(p, presence+`.includes(`+jsString(want)+`)`, d, what)
		return time.Since(start)
	}

	// Ann opens the ticket.
	ann.open(talk, 200)
	d := seen(ben, annName+" is viewing", 4*time.Second+pollSlack, "Ben sees that Ann is viewing")
	t.Logf("Ben saw Ann viewing %v after her page loaded", d.Round(10*time.Millisecond))
	seen(owner, annName+" is viewing", 4*time.Second+pollSlack, "the owner sees that Ann is viewing")
	ann.wantText("#presence", benName+" is viewing")

	// Ann types a reply (without sending it).
	ann.do(focus("#message"))
	ann.typeText("Hi Pia, I am looking at it right now")
	d = seen(ben, annName+" is writing…", 4*time.Second+pollSlack, "Ben sees that Ann is writing")
	t.Logf("Ben saw Ann writing %v after she typed", d.Round(10*time.Millisecond))
	if !ben.has("#presence .present.typing") {
		ben.fail("Ann's presence is not marked as typing")
	}
	// When she stops, she is viewing again.
	d = seen(ben, annName+" is viewing", 4*time.Second+2*pollInterval+pollSlack, "Ann counts as viewing again after she stopped typing")
	t.Logf("Ben saw Ann stop writing %v later", d.Round(10*time.Millisecond))

	// Ann leaves.
	ann.open("/agent/"+tm.user+"/dash", 200)
	left := time.Now()
	waitTrue(ben, `!`+presence+`.includes(`+jsString(annName)+`)`, 10*time.Second+pollSlack, "Ann is gone from Ben's page")
	t.Logf("Ann was gone from Ben's page %v after she left", time.Since(left).Round(10*time.Millisecond))
	waitTrue(owner, `!`+presence+`.includes(`+jsString(annName)+`)`, 10*time.Second+pollSlack, "Ann is gone from the owner's page")
	benPage()
	ownerPage()

	// The customer's page knows nothing of it.
	if _, body := newClient(t).get(custPage); strings.Contains(body, `id="presence"`) || strings.Contains(body, "is viewing") {
		t.Errorf("the customer's page shows who of the team is there")
	}
}
