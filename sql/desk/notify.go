package desk

// Who gets which email, decided in the transaction of the change (a producer of the outbox):
//
//   - the customer: "we received your ticket" (unless the organization turned it off, or the
//     ticket came from automatic mail), each answer of an agent, and the ticket closed (with
//     the rating link). Never a note or an activity line: the customer's emails are built
//     from the ticket, an agent's message and fixed words only;
//   - agents: a new unassigned ticket (those who opted in), a ticket assigned to them by
//     someone else, a mention in a note, the customer answering the ticket assigned to them.
//
// Every email is composed here (its Message-ID recorded for the ticket's thread) and stored
// whole in the outbox, so that a retry sends the same bytes. Each has a key of its own — the
// event and the address — so an event never emails one address twice.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/email"
)

// Email audiences: who saw an email (email_ids.audience).
const (
	audienceCustomer = "customer"
	audienceTeam     = "team"
)

// mailTicket is what a notification says of its ticket.
type mailTicket struct {
	ID, ConversationID, AssigneeID, Access int64
	Name, Email, Query, Subject, Status    string
}

func (t mailTicket) subject() string {
	if t.Subject != "" {
		return t.Subject
	}
	line, _, _ := strings.Cut(strings.TrimSpace(t.Query), "\n")
	if r := []rune(line); len(r) > 80 {
		line = string(r[:80]) + "…"
	}
	return line
}

func loadMailTicket(ctx context.Context, q querier, id int64) (mailTicket, error) {
	var t mailTicket
	err := q.QueryRowContext(ctx, `SELECT t.id, v.id, COALESCE(t.assignee_id, 0), t.access_version,
		CAST(t.customer_name AS BLOB), CAST(t.customer_email AS BLOB), CAST(t.query AS BLOB),
		CAST(COALESCE(e.subject, '') AS BLOB), CAST(t.status AS BLOB)
		FROM tickets t JOIN conversations v ON v.ticket_id = t.id LEFT JOIN email_tickets e ON e.ticket_id = t.id
		WHERE t.id = ?`, id).Scan(&t.ID, &t.ConversationID, &t.AssigneeID, &t.Access, &t.Name, &t.Email, &t.Query,
		&t.Subject, &t.Status)
	return t, err
}

// mailAgent is an agent as notifications need it.
type mailAgent struct {
	ID         int64
	Name       string
	Email      string
	NewTickets bool
}

func loadMailAgents(ctx context.Context, q querier) ([]mailAgent, error) {
	rows, err := q.QueryContext(ctx, `SELECT a.id, CAST(a.full_name AS BLOB), CAST(a.email AS BLOB), COALESCE(p.new_tickets, 0)
		FROM agents a LEFT JOIN agent_email_prefs p ON p.agent_id = a.id WHERE a.password_hash <> '' ORDER BY a.id LIMIT 1000`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mailAgent
	for rows.Next() {
		var a mailAgent
		if err := rows.Scan(&a.ID, &a.Name, &a.Email, &a.NewTickets); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// note is one email to write.
type note struct {
	to       email.Address
	audience string
	// key names the event (the address is added); cause is the message that caused it.
	key   string
	cause int64
	text  string
	// agent is the recipient agent's id (its reply address), 0 for the customer.
	agent int64
	// files are the files of an agent's answer, sent with its email to the customer.
	files []File
}

// notify is the email channel's producer (see the top of the file).
func (s *Service) notify(ctx context.Context, q querier, org *catalog.Organization, c change) ([]OutboxItem, error) {
	m := s.mail
	if m == nil || c.Quiet || c.TicketID == 0 {
		return nil, nil
	}
	ts := s.tenant(org)
	om, err := s.orgMailIn(ctx, q, org, ts)
	if err != nil {
		return nil, err
	}
	from, ok := m.sender(org, om)
	if !ok {
		return nil, nil
	}
	tk, err := loadMailTicket(ctx, q, c.TicketID)
	if err != nil {
		return nil, fmt.Errorf("desk: notify: %w", err)
	}
	var agents []mailAgent
	needAgents := func() ([]mailAgent, error) {
		if agents == nil {
			var err error
			if agents, err = loadMailAgents(ctx, q); err != nil {
				return nil, err
			}
		}
		return agents, nil
	}
	agentNote := func(id int64, key, text string) (*note, error) {
		as, err := needAgents()
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.ID == id {
				return &note{to: email.Address{Name: a.Name, Address: a.Email}, audience: audienceTeam, key: key,
					cause: c.MessageID, text: text, agent: a.ID}, nil
			}
		}
		return nil, nil // removed meanwhile
	}
	customer := func(key, text string) *note {
		return &note{to: email.Address{Name: tk.Name, Address: tk.Email}, audience: audienceCustomer, key: key,
			cause: c.MessageID, text: text}
	}
	ref := "#" + strconv.FormatInt(tk.ID, 10)
	var notes []*note
	switch {
	case c.Kind == TicketChanged && c.Changed&ChangedCreated != 0:
		if om.autoAck {
			notes = append(notes, customer("ack:"+strconv.FormatInt(tk.ID, 10),
				"Hello "+tk.Name+",\n\nthank you for writing to "+org.Name+". We received your question and will answer "+
					"as soon as we can; your ticket is "+ref+".\n\nYour question:\n\n"+quote(tk.Query)))
		}
		as, err := needAgents()
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.NewTickets {
				notes = append(notes, &note{to: email.Address{Name: a.Name, Address: a.Email}, audience: audienceTeam,
					key: "new:" + strconv.FormatInt(tk.ID, 10), cause: c.MessageID, agent: a.ID,
					text: "A new ticket " + ref + " from " + tk.Name + " <" + tk.Email + "> waits for someone to take it:\n\n" + quote(tk.Query)})
			}
		}
	case c.Kind == MessageAdded && c.Sender == SenderAgent && c.Message != nil:
		name := c.Message.AgentName
		if name == "" {
			name = org.Name
		}
		body := c.Message.Body
		if body == "" {
			body = "(Files only.)"
		}
		n := customer("reply:"+strconv.FormatInt(c.MessageID, 10), name+" answered your ticket "+ref+":\n\n"+body)
		n.files = c.Message.Files
		notes = append(notes, n)
	case c.Kind == MessageAdded && c.Sender == SenderCustomer && c.Message != nil && tk.AssigneeID != 0:
		n, err := agentNote(tk.AssigneeID, "answered:"+strconv.FormatInt(c.MessageID, 10),
			tk.Name+" answered on ticket "+ref+" (assigned to you):\n\n"+c.Message.Body)
		if err != nil {
			return nil, err
		}
		notes = append(notes, n)
	case c.Kind == MessageAdded && c.Sender == SenderNote && c.Message != nil:
		for _, id := range c.Mentioned {
			if id == c.Message.AgentID {
				continue
			}
			n, err := agentNote(id, "mention:"+strconv.FormatInt(c.MessageID, 10),
				c.Message.AgentName+" mentioned you in a note on ticket "+ref+":\n\n"+c.Message.Body)
			if err != nil {
				return nil, err
			}
			notes = append(notes, n)
		}
	case c.Kind == TicketChanged && c.Changed&ChangedAssignee != 0 && c.Activity != nil:
		if tk.AssigneeID == 0 || c.By.Kind == AgentActor && c.By.AgentID == tk.AssigneeID {
			break
		}
		by := c.Activity.By
		if by == "" {
			by = org.Name
		}
		n, err := agentNote(tk.AssigneeID, "assigned:"+strconv.FormatInt(c.ActivityID, 10),
			by+" assigned ticket "+ref+" from "+tk.Name+" to you:\n\n"+quote(tk.Query))
		if err != nil {
			return nil, err
		}
		notes = append(notes, n)
	case c.Kind == TicketChanged && c.Changed&ChangedStatus != 0 && c.Activity != nil && c.Activity.To == StatusClosed:
		notes = append(notes, customer("closed:"+strconv.FormatInt(c.ActivityID, 10),
			"Hello "+tk.Name+",\n\nyour ticket "+ref+" is closed. We hope we could help. How did we do? "+
				"Rate our answer (1 to 5 stars) on the ticket's page below."))
	}
	var out []OutboxItem
	for _, n := range notes {
		if n == nil || email.ValidAddress(n.to.Address) != nil {
			continue
		}
		it, err := s.composeNote(ctx, q, org, from, tk, n, c.Now)
		if err != nil {
			return nil, err
		}
		if it != nil {
			out = append(out, *it)
		}
	}
	return out, nil
}

// quote indents text as a quoted block of plain text.
func quote(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// composeNote writes n as an email about tk and records its Message-ID for the ticket's
// thread; nil when the email was enqueued before (the same event and address).
func (s *Service) composeNote(ctx context.Context, q querier, org *catalog.Organization, from email.Address,
	tk mailTicket, n *note, now time.Time) (*OutboxItem, error) {
	m := s.mail
	key := n.key + ":" + email.NormalizeAddress(n.to.Address)
	var exists int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE kind = ? AND dedupe_key = ?", mailKind, key).Scan(&exists); err != nil {
		return nil, err
	}
	if exists > 0 {
		return nil, nil
	}
	id, err := email.NewMessageID(m.cfg.Domain)
	if err != nil {
		return nil, err
	}
	thread, err := emailThread(ctx, q, tk.ID, n.audience == audienceCustomer)
	if err != nil {
		return nil, err
	}
	var link, replyTo string
	text := n.text + "\n\n"
	var attach []int64
	if n.agent == 0 {
		if len(n.files) > 0 {
			var named string
			attach, named = m.sentFiles(n.files)
			text += named
		}
		link = m.cfg.PublicURL + m.signedLink(org, tk.ID, tk.Access, now)
		replyTo = m.replyAddress(org, ReplyTag{Ticket: tk.ID}, tk.Access)
		text += "Follow the conversation and answer on your ticket's page:\n" + link + "\n"
		if replyTo != "" {
			text += "\nOr simply reply to this email.\n"
		}
		text += "\n— " + org.Name + "\n"
	} else {
		link = m.cfg.PublicURL + "/agent/" + org.Username + "/talk/" + strconv.FormatInt(tk.ConversationID, 10)
		replyTo = m.replyAddress(org, ReplyTag{Ticket: tk.ID, Agent: n.agent}, 0)
		text += "Open the ticket:\n" + link + "\n"
		if replyTo != "" {
			text += "\nReplying to this email answers the customer as you.\n"
		}
		text += "\n— " + org.Name + " on tenantdesk\n"
	}
	nt := email.Notification{From: from, To: []email.Address{n.to}, Domain: m.cfg.Domain, MessageID: id,
		Ref: tk.ID, Subject: tk.subject(), Thread: thread, Text: text, Date: now}
	if replyTo != "" {
		nt.ReplyTo = &email.Address{Name: org.Name, Address: replyTo}
	}
	out, err := email.Compose(nt)
	if err != nil {
		return nil, fmt.Errorf("desk: compose: %w", err)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO email_ids (message_id, ticket_id, audience, created_at) VALUES (?, ?, ?, ?)`,
		id, tk.ID, n.audience, now.Unix()); err != nil {
		return nil, err
	}
	p := emailPayload{From: out.From, To: out.To, Raw: out.Raw}
	if len(attach) > 0 {
		p.FilesOf, p.Files = n.cause, attach
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return &OutboxItem{Kind: mailKind, Key: key, Target: email.NormalizeAddress(n.to.Address), TicketID: tk.ID,
		MessageID: n.cause, Payload: payload}, nil
}

// sentFiles decides which of an answer's files its email to the customer carries: all of
// them when together they are within MaxSentFilesBytes, else none. It returns their ids and
// the lines of the email's text that name them (those not sent are on the ticket's page).
func (m *mailer) sentFiles(fs []File) ([]int64, string) {
	var total int64
	var ids []int64
	var names []string
	for _, f := range fs {
		total += f.Size
		ids = append(ids, f.ID)
		names = append(names, "- "+f.Name+" ("+byteSize(int(f.Size))+")")
	}
	if total <= m.cfg.MaxSentFilesBytes {
		return ids, "Attached to this email:\n" + strings.Join(names, "\n") + "\n\n"
	}
	return nil, "Files with this answer, too large to send by email (" + byteSize(int(total)) + " together, the limit is " +
		byteSize(int(m.cfg.MaxSentFilesBytes)) + "); they are on your ticket's page:\n" + strings.Join(names, "\n") + "\n\n"
}

// maxThread bounds the Message-IDs an email chains: the first and the latest.
const maxThread = 50

// emailThread returns the Message-IDs of ticket's emails, oldest first: the first and the
// latest maxThread-1; only those the customer saw when customerOnly.
func emailThread(ctx context.Context, q querier, ticket int64, customerOnly bool) ([]string, error) {
	filter := ""
	if customerOnly {
		filter = " AND audience = 'customer'"
	}
	rows, err := q.QueryContext(ctx, `SELECT CAST(message_id AS BLOB) FROM (
		SELECT id, message_id FROM (SELECT id, message_id FROM email_ids WHERE ticket_id = ?`+filter+` ORDER BY id LIMIT 1)
		UNION SELECT id, message_id FROM (SELECT id, message_id FROM email_ids WHERE ticket_id = ?`+filter+` ORDER BY id DESC LIMIT ?)
	) ORDER BY id`, ticket, ticket, maxThread-1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		if email.ValidMessageID(id) {
			out = append(out, id)
		}
	}
	return out, rows.Err()
}

// NewTicketEmails reports whether agent a gets an email for every new unassigned ticket.
func (s *Service) NewTicketEmails(ctx context.Context, org *catalog.Organization, a Actor) (bool, error) {
	if a.Kind != AgentActor {
		return false, apperr.New(apperr.Forbidden, CodeForbidden)
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return false, err
	}
	defer release()
	var on bool
	err = db.db.QueryRowContext(ctx, "SELECT COALESCE((SELECT new_tickets FROM agent_email_prefs WHERE agent_id = ?), 0)", a.AgentID).Scan(&on)
	return on, err
}

// SetNewTicketEmails opts agent a in to (or out of) an email for every new unassigned ticket:
// the agent itself.
func (s *Service) SetNewTicketEmails(ctx context.Context, org *catalog.Organization, a Actor, on bool) error {
	if a.Kind != AgentActor {
		return apperr.New(apperr.Forbidden, CodeForbidden)
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return err
	}
	defer release()
	v := 0
	if on {
		v = 1
	}
	if _, err := db.db.ExecContext(ctx, `INSERT INTO agent_email_prefs (agent_id, new_tickets) VALUES (?, ?)
		ON CONFLICT (agent_id) DO UPDATE SET new_tickets = excluded.new_tickets`, a.AgentID, v); err != nil {
		return fmt.Errorf("desk.SetNewTicketEmails: %w", err)
	}
	return nil
}
