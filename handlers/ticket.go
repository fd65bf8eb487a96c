package handlers

// A ticket's page for the team — an agent's (/agent/{org}/talk/{conversation}) and the
// owner's (/conversation/{conversation}) — and the actions on it: taking, assigning, status,
// priority, tags, notes. The two seats share everything but their URLs.

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// seat is where a member of the team works from: the owner's URLs or an agent's.
type seat struct {
	Owner   bool
	OrgUser string
}

func (s *Server) seat(c *fiber.Ctx) seat {
	return seat{Owner: actor(c).Kind == desk.Owner, OrgUser: currentOrg(c).Username}
}

// Talk is a ticket's page.
func (st seat) Talk(conv int64) string {
	if st.Owner {
		return "/conversation/" + strconv.FormatInt(conv, 10)
	}
	return agentURL(st.OrgUser, "talk", strconv.FormatInt(conv, 10))
}

// Action is the URL of an action on ticket id.
func (st seat) Action(id int64, action string) string {
	if st.Owner {
		return "/dash/tickets/" + strconv.FormatInt(id, 10) + "/" + action
	}
	return agentURL(st.OrgUser, "tickets", strconv.FormatInt(id, 10), action)
}

// Contact is a contact's page.
func (st seat) Contact(id int64) string {
	if st.Owner {
		return "/dash/contacts/" + strconv.FormatInt(id, 10)
	}
	return agentURL(st.OrgUser, "contacts", strconv.FormatInt(id, 10))
}

// Dash is the seat's dashboard.
func (st seat) Dash() string {
	if st.Owner {
		return "/dash"
	}
	return agentURL(st.OrgUser, "dash")
}

// RowKind is how ticket rows link for the seat.
func (st seat) RowKind() string {
	if st.Owner {
		return "org"
	}
	return "agent"
}

// ticketPage is a ticket's page for the team.
type ticketPage struct {
	Page
	Seat     seat
	Chat     Chat
	May      desk.May
	Agents   []desk.Agent
	Others   []desk.Ticket
	Canned   []cannedOption
	Presence presence
	// CanTake offers the viewer (an agent) to take the ticket: it may, and it is not its own.
	CanTake bool
	// CannedID is the canned reply to put into the composer (?canned=).
	CannedID int64
	// Zone names the organization's time zone, in which snooze times are entered.
	Zone string
	// ActionError says why the last action was refused (422); ActionForm names the form it
	// stands in (assign, status, priority, tags), or "" for the top of the controls.
	ActionError string
	ActionForm  string
	// StatusChoice is the status the status form selects: the ticket's, or the one a refused
	// form asked for.
	StatusChoice string
	NoteDraft    string
	NoteError    string
	// SnoozeDefault is the snooze field's value: tomorrow 09:00 in the organization's zone, or
	// what a refused status form held.
	SnoozeDefault string
	Statuses      []string
	Priorities    []string
	Tags          string
	// Emails are the emails about the ticket, newest first (email on only).
	Emails []desk.OutboxItem
}

// cannedOption is a canned reply ready to insert into this ticket's composer.
type cannedOption struct {
	ID    int64
	Title string
	Body  string
}

// presence is who else is on the page, and the signature a poll compares with. OOB marks
// it for an out-of-band swap in a poll's answer.
type presence struct {
	Others []desk.Present
	Sig    string
	OOB    bool
}

func presenceOf(others []desk.Present) presence {
	h := sha256.New()
	for _, p := range others {
		h.Write([]byte(strconv.FormatInt(p.AgentID, 10) + "|" + p.Name + "|" + strconv.FormatBool(p.Typing) + "\n"))
	}
	return presence{Others: others, Sig: hex.EncodeToString(h.Sum(nil)[:8])}
}

// convParam is the route's conversation id.
func convParam(c *fiber.Ctx) (int64, error) { return paramID(c, "conversationId") }

// ticketView handles GET /agent/:org/talk/:conversationId and /conversation/:conversationId.
// ?canned=ID puts that canned reply into the composer (the way to insert one without
// JavaScript).
func (s *Server) ticketView(c *fiber.Ctx) error {
	conv, err := convParam(c)
	if err != nil {
		return err
	}
	p := ticketPage{}
	if id, ok := parseID(c.Query("canned")); ok {
		p.CannedID = id
	}
	return s.renderTicket(c, conv, p, fiber.StatusOK)
}

// renderTicket renders the ticket page of conversation conv with what p already holds (a
// draft, an error) and status.
func (s *Server) renderTicket(c *fiber.Ctx, conv int64, p ticketPage, status int) error {
	ctx, org, a := c.UserContext(), currentOrg(c), actor(c)
	st := s.seat(c)
	viewer := "agent"
	if st.Owner {
		viewer = "org"
	}
	ch, err := s.chat(c, conv, st.Talk(conv), viewer)
	if err != nil {
		return err
	}
	ch.Draft, ch.SendError = p.Chat.Draft, p.Chat.SendError
	t := ch.Ticket
	if p.Emails, ch.Extras, err = s.ticketEmails(c, t.ID); err != nil {
		return err
	}
	team, err := s.desk.Agents(ctx, org, a, 500)
	if err != nil {
		return err
	}
	for _, ag := range team {
		if !ag.Removed() {
			p.Agents = append(p.Agents, ag)
		}
	}
	_, others, err := s.desk.Contact(ctx, org, a, t.ContactID, 20)
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.ID != t.ID {
			p.Others = append(p.Others, o)
		}
	}
	canned, err := s.desk.CannedReplies(ctx, org, a)
	if err != nil {
		return err
	}
	for _, cr := range canned {
		body := cr.Expand(t, a.Name, org.Name)
		p.Canned = append(p.Canned, cannedOption{ID: cr.ID, Title: cr.Title, Body: body})
		if cr.ID == p.CannedID && ch.Draft == "" {
			ch.Draft = body
		}
	}
	here, err := s.desk.Presence(ctx, org, a, conv, false)
	if err != nil {
		return err
	}
	p.Presence = presenceOf(here)
	p.Page.Title = "Ticket #" + strconv.FormatInt(t.ID, 10) + " · " + t.CustomerName
	p.Seat, p.Chat, p.May = st, ch, ch.May
	p.CanTake = a.Kind == desk.AgentActor && t.AssigneeID != a.AgentID && ch.May.Assign && t.Status != desk.StatusClosed
	p.Zone = ch.Loc.String()
	p.Statuses = []string{desk.StatusOpen, desk.StatusPending, desk.StatusSnoozed, desk.StatusClosed}
	p.Priorities = []string{"low", "normal", "high", "urgent"}
	if p.ActionForm != "tags" {
		p.Tags = tagList(t.Tags)
	}
	if p.StatusChoice == "" {
		p.StatusChoice = t.Status
	}
	if p.SnoozeDefault == "" {
		tomorrow := time.Now().In(ch.Loc).AddDate(0, 0, 1)
		p.SnoozeDefault = time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 9, 0, 0, 0, ch.Loc).Format("2006-01-02T15:04")
	}
	return s.page(c, status, "pages/talk", &p)
}

// ticketPoll handles the team's GET …/messages: new messages, notes and activity lines, and
// who else is on the page (out of band, when it changed since the signature ?p=). ?typing=1
// says the poller is writing in its composer.
func (s *Server) ticketPoll(c *fiber.Ctx) error {
	conv, err := convParam(c)
	if err != nil {
		return err
	}
	others, err := s.desk.Presence(c.UserContext(), currentOrg(c), actor(c), conv, c.Query("typing") == "1")
	if err != nil {
		return err
	}
	var oob *presence
	if pr := presenceOf(others); c.Query("p") != "" && c.Query("p") != pr.Sig {
		pr.OOB = true
		oob = &pr
	}
	return s.pollMessages(c, conv, oob)
}

// ticketSend handles POST …/messages of the team: a message to the customer.
func (s *Server) ticketSend(c *fiber.Ctx) error {
	conv, err := convParam(c)
	if err != nil {
		return err
	}
	return s.sendMessage(c, conv, s.seat(c).Talk(conv), func(draft, msg string, status int) error {
		return s.renderTicket(c, conv, ticketPage{Chat: Chat{Draft: draft, SendError: msg}}, status)
	})
}

// addNote handles POST …/notes: an internal note, seen by the team only.
func (s *Server) addNote(c *fiber.Ctx) error {
	conv, err := convParam(c)
	if err != nil {
		return err
	}
	body, fail := checkMessage(formValue(c, "note"), s.cfg.MessageLimit)
	if fail == "" {
		m, err := s.desk.AddNote(c.UserContext(), currentOrg(c), actor(c), conv, body)
		if err != nil {
			return err
		}
		if isHTMX(c) {
			settings, err := s.desk.Settings(c.UserContext(), currentOrg(c))
			if err != nil {
				return err
			}
			return s.fragment(c, fiber.StatusOK, "partials/messages", messagesFragment{Messages: []desk.Message{m}, Loc: settings.Location,
				PageURL: s.seat(c).Talk(conv)})
		}
		return redirect(c, s.seat(c).Talk(conv)+"#msg-"+strconv.FormatInt(m.ID, 10))
	}
	if strings.TrimSpace(formValue(c, "note")) == "" {
		fail = "Write the note first."
	}
	if isHTMX(c) {
		c.Set("HX-Retarget", "#note-error")
		c.Set("HX-Reswap", "innerHTML")
		return s.fragment(c, fiber.StatusUnprocessableEntity, "partials/composer_error", composerError{Message: fail})
	}
	return s.renderTicket(c, conv, ticketPage{NoteDraft: body, NoteError: fail}, fiber.StatusUnprocessableEntity)
}

// actionForms names the ticket page's form that holds each field of a ticket action.
var actionForms = map[string]string{"agent_id": "assign", "status": "status", "snooze_until": "status",
	"priority": "priority", "tags": "tags"}

// ticketAction runs one action on the route's ticket and answers: back to the ticket's page
// (303), or the page again with the reason (422) when the input was refused.
func (s *Server) ticketAction(c *fiber.Ctx, do func(id int64) error) error {
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	org, a := currentOrg(c), actor(c)
	err = do(id)
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
		t, terr := s.desk.TicketByID(c.UserContext(), org, a, id)
		if terr != nil {
			return terr
		}
		// The page again with the reason in the refused form, which keeps what was entered.
		p := ticketPage{ActionError: actionWords(e), ActionForm: actionForms[e.Field]}
		switch p.ActionForm {
		case "status":
			p.StatusChoice = formValue(c, "status")
			p.SnoozeDefault = strings.TrimSpace(formValue(c, "snooze_until"))
		case "tags":
			p.Tags = formValue(c, "tags")
		}
		return s.renderTicket(c, t.ConversationID, p, fiber.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	t, err := s.desk.TicketByID(c.UserContext(), org, a, id)
	if err != nil {
		return err
	}
	return redirect(c, s.seat(c).Talk(t.ConversationID))
}

// takeTicket handles POST /agent/:org/tickets/:ticketId/engage: the agent takes the ticket.
func (s *Server) takeTicket(c *fiber.Ctx) error {
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	conv, err := s.desk.Take(c.UserContext(), currentOrg(c), actor(c), id)
	if err != nil {
		return err
	}
	return redirect(c, s.seat(c).Talk(conv))
}

// assignTicket handles POST …/tickets/:ticketId/assign: agent_id, empty for nobody.
func (s *Server) assignTicket(c *fiber.Ctx) error {
	return s.ticketAction(c, func(id int64) error {
		agentID := int64(0)
		if v := strings.TrimSpace(formValue(c, "agent_id")); v != "" {
			n, ok := parseID(v)
			if !ok {
				return apperr.Field(apperr.Invalid, "agent_id", apperr.CodeInvalid)
			}
			agentID = n
		}
		return s.desk.Assign(c.UserContext(), currentOrg(c), actor(c), id, agentID)
	})
}

// setStatus handles POST …/tickets/:ticketId/status: status, and snooze_until
// (YYYY-MM-DDTHH:MM in the organization's time zone) when snoozed.
func (s *Server) setStatus(c *fiber.Ctx) error {
	return s.ticketAction(c, func(id int64) error {
		status := formValue(c, "status")
		var until time.Time
		if status == desk.StatusSnoozed {
			settings, err := s.desk.Settings(c.UserContext(), currentOrg(c))
			if err != nil {
				return err
			}
			raw := strings.TrimSpace(formValue(c, "snooze_until"))
			if raw == "" {
				return apperr.Field(apperr.Invalid, "snooze_until", apperr.CodeRequired)
			}
			if until, err = time.ParseInLocation("2006-01-02T15:04", raw, settings.Location); err != nil {
				return apperr.Field(apperr.Invalid, "snooze_until", apperr.CodeInvalid)
			}
		}
		return s.desk.SetStatus(c.UserContext(), currentOrg(c), actor(c), id, status, until)
	})
}

// closeTicket handles POST …/tickets/:ticketId/close.
func (s *Server) closeTicket(c *fiber.Ctx) error {
	return s.ticketAction(c, func(id int64) error {
		if _, err := s.desk.CloseTicket(c.UserContext(), currentOrg(c), actor(c), id); err != nil {
			return err
		}
		s.setFlash(c, "Ticket closed. The customer can now rate the service.")
		return nil
	})
}

// setPriority handles POST …/tickets/:ticketId/priority.
func (s *Server) setPriority(c *fiber.Ctx) error {
	return s.ticketAction(c, func(id int64) error {
		p, ok := desk.ParsePriority(formValue(c, "priority"))
		if !ok {
			return apperr.Field(apperr.Invalid, "priority", apperr.CodeInvalid)
		}
		return s.desk.SetPriority(c.UserContext(), currentOrg(c), actor(c), id, p)
	})
}

// setTags handles POST …/tickets/:ticketId/tags: comma-separated, replacing the ticket's tags.
func (s *Server) setTags(c *fiber.Ctx) error {
	return s.ticketAction(c, func(id int64) error {
		raw := formValue(c, "tags")
		if len(raw) > 4096 {
			return apperr.Field(apperr.Invalid, "tags", desk.CodeTooManyTags)
		}
		return s.desk.SetTags(c.UserContext(), currentOrg(c), actor(c), id, strings.Split(raw, ","))
	})
}

// contactPage is a contact and its tickets.
type contactPage struct {
	Page
	Seat    seat
	Contact desk.Contact
	Tickets []desk.Ticket
	Loc     *time.Location
}

// contact handles GET /agent/:org/contacts/:contactId and /dash/contacts/:contactId.
func (s *Server) contact(c *fiber.Ctx) error {
	id, err := paramID(c, "contactId")
	if err != nil {
		return err
	}
	org := currentOrg(c)
	ct, tickets, err := s.desk.Contact(c.UserContext(), org, actor(c), id, maxListed)
	if err != nil {
		return err
	}
	settings, err := s.desk.Settings(c.UserContext(), org)
	if err != nil {
		return err
	}
	return s.page(c, fiber.StatusOK, "pages/contact", &contactPage{Page: Page{Title: ct.Name + " · contact"},
		Seat: s.seat(c), Contact: ct, Tickets: tickets, Loc: settings.Location})
}
