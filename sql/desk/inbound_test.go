package desk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email"
)

// An agent replying by email to a closed ticket's notification leaves a note on that ticket:
// the reply never opens a ticket with the agent as its customer.
func TestAgentEmailReplyToAClosedTicket(t *testing.T) {
	ctx := context.Background()
	tm, mp := mailTeam(t)
	org := tm.org
	tk, _, err := tm.svc.OpenTicket(ctx, org, desk.AsPublic(), desk.NewTicket{CustomerName: "Jo", CustomerEmail: "jo@example.org",
		Query: "Help"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.Assign(ctx, org, desk.AsAgent(tm.maria), tk.ID, tm.thomas.ID); err != nil {
		t.Fatal(err)
	}
	var tag string
	waitFor(t, "Thomas's assignment email", func() bool {
		for _, s := range mp.Messages(t) {
			if m := mp.Message(t, s.ID); m.To[0].Address == "thomas@acme.example" && len(m.ReplyTo) == 1 {
				local, _, _ := strings.Cut(m.ReplyTo[0].Address, "@")
				_, tag, _ = strings.Cut(local, "+")
				return true
			}
		}
		return false
	})
	if _, err := tm.svc.CloseTicket(ctx, org, desk.AsAgent(tm.thomas), tk.ID); err != nil {
		t.Fatal(err)
	}
	before := len(tm.tickets(t, org))
	raw := rawMail("Thomas <thomas@acme.example>", "Re: [#1] Help", "One more thing for the record.")
	msg := email.Parse(raw, email.ParseOptions{Domain: mailDomain})
	r, err := tm.svc.ReceiveEmail(ctx, org, desk.AsSystem(), desk.InboundEmail{Key: email.Key(msg, raw), Message: msg, Raw: raw,
		Source: desk.SourceSMTP, Tag: tag})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Note || r.Created || r.TicketID != tk.ID {
		t.Errorf("Thomas's reply to the closed ticket: %+v", r)
	}
	if n := len(tm.tickets(t, org)); n != before {
		t.Errorf("%d tickets after the reply, %d before", n, before)
	}
}
