package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestScreenshots writes screenshots of the main pages at phone and desktop widths (and a few
// in the dark theme) into the directory SCREENSHOTS names (relative to the module root):
//
//	SCREENSHOTS=docs/screenshots go test -tags libsqlite3 ./e2e -run Screenshots   (make screenshots)
//
// Without SCREENSHOTS it has nothing to do. The pages come from a small seeded helpdesk.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("SCREENSHOTS")
	if dir == "" {
		t.Skip("set SCREENSHOTS=dir to write screenshots (make screenshots)")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const user, orgName = "northwind", "Northwind Traders"
	s := seedDemo(t, user, orgName)

	anon := newPerson(t, "visitor", true)
	cust := newPerson(t, "customer", true)
	org := newPerson(t, "organization", true)
	agent := newPerson(t, "agent", true)
	loginOrg(org, user, s.orgPassword)
	loginAgent(agent, user, s.agentEmail, s.agentPassword, "/agent/"+user+"/dash")

	shots := []struct {
		name string
		who  *person
		path string
		dark bool
	}{
		{"landing", anon, "/", false},
		{"register", anon, "/register", false},
		{"open-ticket", anon, "/" + user + "/open-ticket", false},
		{"org-dashboard", org, "/dash", false},
		{"org-conversation", org, s.convEngaged, false},
		{"agent-dashboard", agent, "/agent/" + user + "/dash", false},
		{"agent-conversation", agent, s.talkEngaged, false},
		{"customer-ticket", cust, s.engagedPage, false},
		{"customer-ticket-closed", cust, s.closed, false},
		{"org-dashboard-dark", org, "/dash", true},
		{"agent-conversation-dark", agent, s.talkEngaged, true},
		{"customer-ticket-dark", cust, s.engagedPage, true},
		{"reports", org, "/dash/reports?preset=7d", false},
		{"reports-dark", org, "/dash/reports?preset=7d", true},
		{"settings", org, "/dash/settings", false},
	}
	for _, vp := range []viewport{phone, desktop} {
		for _, sh := range shots {
			p := sh.who
			p.setViewport(vp)
			if sh.dark {
				p.setColorScheme("dark")
			} else {
				p.setColorScheme("light")
			}
			p.open(sh.path, 200)
			// Fonts, the first poll and the scroll to the newest message settle.
			time.Sleep(300 * time.Millisecond)
			png := get(p, chromedp.FullScreenshot(100)) // quality 100: PNG
			file := filepath.Join(dir, vp.name+"-"+sh.name+".png")
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d KB)", file, len(png)/1024)
		}
	}
}

// demoSite is a small helpdesk that looks in use.
type demoSite struct {
	orgPassword, agentEmail, agentPassword string
	engagedPage, closed                    string
	talkEngaged, convEngaged               string
}

// seedDemo fills an organization with agents and tickets in every state.
func seedDemo(t *testing.T, user, orgName string) demoSite {
	t.Helper()
	s := demoSite{orgPassword: "org password " + user, agentEmail: "maria@" + user + ".example",
		agentPassword: "agent password " + user}
	org := seedOrg(t, orgName, user, s.orgPassword)
	maria := seedAgent(t, org, user, "Maria Anders", s.agentEmail, s.agentPassword)
	tom := seedAgent(t, org, user, "Thomas Hardy", "thomas@"+user+".example", "agent password thomas")
	org.mustPost("/dash", "/agents", 200, "full_name", "Hanna Moos", "email", "hanna@"+user+".example")
	seedCanned(t, org, "Refund on its way", "Hi {{customer_name}}, the refund is on its way: you will see it in 3–5 business days. — {{agent_name}}")
	seedCanned(t, org, "Delivery times", "We deliver Monday to Saturday; most orders arrive within two days.")

	// Closed and rated.
	for _, c := range []struct{ name, q, a, rating string }{
		{"Yoshi Tannamuri", "My order #10248 arrived with a broken jar of marmalade.", "So sorry! A replacement is on its way, no need to return the broken one.", "5"},
		{"Liu Wong", "Can I change the delivery address of order #10252?", "Done — it now goes to your office on Main Street.", "4"},
	} {
		cust, page := seedTicket(t, user, c.name, slug(c.name)+"@customer.example", c.q)
		talk := seedTake(t, tom, user)
		seedSay(t, tom, talk, c.a)
		seedSay(t, cust, page, "Thank you!")
		seedClose(t, tom, user, talk)
		seedRate(t, cust, page, c.rating)
		s.closed = page
	}
	// Closed, not rated yet: the page the screenshot shows with the rating widget.
	cust, page := seedTicket(t, user, "Paula Wilson", "paula@customer.example", "Do you deliver on Saturdays?")
	talk := seedTake(t, maria, user)
	seedSay(t, maria, talk, "We do, between 9:00 and 13:00 in most cities.")
	seedSay(t, cust, page, "Perfect, thanks.")
	seedClose(t, maria, user, talk)
	s.closed = page

	// In progress, with a real conversation.
	cust, page = seedTicket(t, user, "Carlos Hernández", "carlos@customer.example",
		"Hi! I was charged twice for order #10263. Can you help?")
	talk = seedTake(t, maria, user)
	seedSay(t, maria, talk, "Hello Carlos, I'm Maria. I can see both charges — let me check with billing.")
	seedSay(t, cust, page, "Thanks! The second charge is from yesterday evening.")
	seedSay(t, maria, talk, "Found it: the second charge was a duplicate. I've refunded it; you'll see it in 3–5 business days.")
	seedSay(t, cust, page, "Great, that was quick.\nOne more thing: can I get the invoice as PDF?")
	seedNote(t, maria, talk, "@thomas can you send Carlos the PDF invoice from the billing tool?")
	seedTicketAction(t, maria, talk, "priority", "priority", "high")
	seedTicketAction(t, maria, talk, "tags", "tags", "billing, refund")
	s.engagedPage, s.talkEngaged, s.convEngaged = page, talk, "/conversation/"+lastSegment(talk)

	// Waiting for an agent.
	seedTicket(t, user, "Helen Bennett", "helen@customer.example", "Is the Chai tea available in 500 g packs?")
	seedTicket(t, user, "Jonas Bergulfsen", "jonas@customer.example", "I'd like to return two items from order #10270. How does that work?")
	return s
}
