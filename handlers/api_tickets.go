package handlers

// The resources of /api/v1: tickets, their messages and notes, status, assignment, priority,
// tags, contacts and agents. Every handler reads its own input struct (no field it does not
// name is accepted), makes one desk call as the token's actor and answers JSON.

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// apiRoutes registers the API's routes (the route list's API part).
func (s *Server) apiRoutes() {
	r, get, post := s.add, fiber.MethodGet, fiber.MethodPost
	token, limit := s.requireAPIToken, s.apiLimit()
	r(get, "/api/v1/openapi.json", api, s.apiDocument)
	r(get, "/api/v1/tickets", api, token, limit, s.apiListTickets)
	r(post, "/api/v1/tickets", api, token, limit, s.apiCreateTicket)
	r(get, "/api/v1/tickets/:ticketId", api, token, limit, s.apiGetTicket)
	r(get, "/api/v1/tickets/:ticketId/messages", api, token, limit, s.apiListMessages)
	r(post, "/api/v1/tickets/:ticketId/messages", api, token, limit, s.apiCreateMessage)
	r(post, "/api/v1/tickets/:ticketId/notes", api, token, limit, s.apiCreateNote)
	r(post, "/api/v1/tickets/:ticketId/status", api, token, limit, s.apiSetStatus)
	r(post, "/api/v1/tickets/:ticketId/assignment", api, token, limit, s.apiAssign)
	r(post, "/api/v1/tickets/:ticketId/priority", api, token, limit, s.apiSetPriority)
	r(post, "/api/v1/tickets/:ticketId/tags", api, token, limit, s.apiSetTags)
	r(get, "/api/v1/contacts", api, token, limit, s.apiListContacts)
	r(get, "/api/v1/contacts/:contactId", api, token, limit, s.apiGetContact)
	r(get, "/api/v1/agents", api, token, limit, s.apiListAgents)
}

// apiTime formats a time for the API: RFC 3339 in UTC; nil for none.
func apiTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	v := t.UTC().Format(time.RFC3339)
	return &v
}

func orNil[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// apiTicket is a ticket as the API shows it.
type apiTicket struct {
	ID             int64    `json:"id"`
	ConversationID int64    `json:"conversation_id"`
	ContactID      int64    `json:"contact_id"`
	CustomerName   string   `json:"customer_name"`
	CustomerEmail  string   `json:"customer_email"`
	Query          string   `json:"query"`
	Status         string   `json:"status"`
	Priority       string   `json:"priority"`
	AssigneeID     *int64   `json:"assignee_id"`
	AssigneeName   *string  `json:"assignee_name"`
	Tags           []string `json:"tags"`
	Rating         *int     `json:"rating"`
	SnoozeUntil    *string  `json:"snooze_until"`
	WaitingSince   *string  `json:"waiting_since"`
	CreatedAt      string   `json:"created_at"`
	UpdatedAt      string   `json:"updated_at"`
	ClosedAt       *string  `json:"closed_at"`
}

func ticketJSON(t desk.Ticket) apiTicket {
	tags := t.Tags
	if tags == nil {
		tags = []string{}
	}
	return apiTicket{ID: t.ID, ConversationID: t.ConversationID, ContactID: t.ContactID, CustomerName: t.CustomerName,
		CustomerEmail: t.CustomerEmail, Query: t.Query, Status: t.Status, Priority: t.Priority.String(),
		AssigneeID: orNil(t.AssigneeID), AssigneeName: orNil(t.AssigneeName), Tags: tags, Rating: orNil(t.Rating),
		SnoozeUntil: apiTime(t.SnoozeUntil), WaitingSince: apiTime(t.WaitingSince), CreatedAt: *apiTime(t.CreatedAt),
		UpdatedAt: *apiTime(t.UpdatedAt), ClosedAt: apiTime(t.ClosedAt)}
}

// apiMessage is a message as the API shows it.
type apiMessage struct {
	ID        int64          `json:"id"`
	TicketID  int64          `json:"ticket_id"`
	Sender    string         `json:"sender"`
	AgentID   *int64         `json:"agent_id"`
	AgentName *string        `json:"agent_name"`
	Body      string         `json:"body"`
	Activity  *desk.Activity `json:"activity"`
	CreatedAt string         `json:"created_at"`
}

func messageJSON(m desk.Message) apiMessage {
	return apiMessage{ID: m.ID, TicketID: m.TicketID, Sender: m.Sender, AgentID: orNil(m.AgentID), AgentName: orNil(m.AgentName),
		Body: m.Body, Activity: m.Activity, CreatedAt: *apiTime(m.CreatedAt)}
}

type apiContact struct {
	ID        int64  `json:"id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func contactJSON(c desk.Contact) apiContact {
	return apiContact{ID: c.ID, Email: c.Email, Name: c.Name, CreatedAt: *apiTime(c.CreatedAt), UpdatedAt: *apiTime(c.UpdatedAt)}
}

type apiAgent struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	Removed   bool   `json:"removed"`
	CreatedAt string `json:"created_at"`
}

// listPage is a list answer: data, and the cursor of the next page (nil on the last).
type listPage[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// apiLimitParam reads ?limit= (1–100, default 25).
func apiLimitParam(c *fiber.Ctx) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return 25, nil
	}
	n, ok := parseID(v)
	if !ok || n > 100 {
		return 0, apperr.Field(apperr.Invalid, "limit", apperr.CodeInvalid)
	}
	return int(n), nil
}

// queryID reads an optional id from the query string (0 when absent).
func queryID(c *fiber.Ctx, name string) (int64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	id, ok := parseID(v)
	if !ok {
		return 0, apperr.Field(apperr.Invalid, name, apperr.CodeInvalid)
	}
	return id, nil
}

// apiListTickets handles GET /api/v1/tickets?status=&priority=&assignee_id=&tag=&contact_id=
// &cursor=&limit=: tickets newest first; next_cursor continues the list.
func (s *Server) apiListTickets(c *fiber.Ctx) error {
	f := desk.TicketFilter{Status: c.Query("status"), Priority: -1}
	if f.Status != "" && !desk.ValidStatus(f.Status) {
		return apperr.Field(apperr.Invalid, "status", apperr.CodeInvalid)
	}
	if v := c.Query("priority"); v != "" {
		p, ok := desk.ParsePriority(v)
		if !ok {
			return apperr.Field(apperr.Invalid, "priority", apperr.CodeInvalid)
		}
		f.Priority = p
	}
	if v := c.Query("assignee_id"); v == "none" {
		f.Unassigned = true
	} else if v != "" {
		id, ok := parseID(v)
		if !ok {
			return apperr.Field(apperr.Invalid, "assignee_id", apperr.CodeInvalid)
		}
		f.AssigneeID = id
	}
	if v := c.Query("tag"); v != "" {
		tags, err := desk.NormalizeTags([]string{v})
		if err != nil || len(tags) != 1 {
			return apperr.Field(apperr.Invalid, "tag", apperr.CodeInvalid)
		}
		f.Tag = tags[0]
	}
	var err error
	if f.ContactID, err = queryID(c, "contact_id"); err != nil {
		return err
	}
	if f.Before, err = queryID(c, "cursor"); err != nil {
		return err
	}
	if f.Limit, err = apiLimitParam(c); err != nil {
		return err
	}
	list, err := s.desk.ListTickets(c.UserContext(), currentOrg(c), actor(c), f)
	if err != nil {
		return err
	}
	out := listPage[apiTicket]{Data: make([]apiTicket, 0, len(list))}
	for _, t := range list {
		out.Data = append(out.Data, ticketJSON(t))
	}
	if len(list) == f.Limit {
		out.NextCursor = orNil(strconv.FormatInt(list[len(list)-1].ID, 10))
	}
	return sendJSON(c, fiber.StatusOK, out)
}

// newTicketInput is POST /api/v1/tickets's body.
type newTicketInput struct {
	CustomerName  string `json:"customer_name"`
	CustomerEmail string `json:"customer_email"`
	Query         string `json:"query"`
}

// parseNewTicket reads and checks a new ticket's body by the rules of the open-ticket form:
// a name of 1–100 visible characters, an email address, a question of 1–limit characters.
// The values it returns are trimmed (the question's newlines normalised) and checked.
func parseNewTicket(body []byte, limit int) (desk.NewTicket, error) {
	var in newTicketInput
	if err := decodeJSON(body, &in); err != nil {
		return desk.NewTicket{}, err
	}
	nt := desk.NewTicket{CustomerName: strings.TrimSpace(in.CustomerName), CustomerEmail: strings.ToLower(strings.TrimSpace(in.CustomerEmail))}
	if checkName(nt.CustomerName, "Name", 1, 100) != "" {
		return nt, apperr.Field(apperr.Invalid, "customer_name", apperr.CodeInvalid)
	}
	if checkText(nt.CustomerEmail, "Email", 1, 254) != "" || checkEmail(nt.CustomerEmail) != "" {
		return nt, apperr.Field(apperr.Invalid, "customer_email", apperr.CodeInvalid)
	}
	var fail string
	if nt.Query, fail = checkMessage(in.Query, limit); fail != "" {
		return nt, apperr.Field(apperr.Invalid, "query", apperr.CodeInvalid)
	}
	return nt, nil
}

// apiCreateTicket handles POST /api/v1/tickets: a ticket opened on a customer's behalf.
func (s *Server) apiCreateTicket(c *fiber.Ctx) error {
	body, err := jsonBody(c)
	if err != nil {
		return err
	}
	nt, err := parseNewTicket(body, s.cfg.MessageLimit)
	if err != nil {
		return err
	}
	org, a := currentOrg(c), actor(c)
	t, _, err := s.desk.OpenTicket(c.UserContext(), org, a, nt)
	if err != nil {
		return err
	}
	if t, err = s.desk.TicketByID(c.UserContext(), org, a, t.ID); err != nil {
		return err
	}
	c.Location("/api/v1/tickets/" + strconv.FormatInt(t.ID, 10))
	return sendJSON(c, fiber.StatusCreated, ticketJSON(t))
}

// apiTicketAnswer answers ticket id as it is now.
func (s *Server) apiTicketAnswer(c *fiber.Ctx, id int64, status int) error {
	t, err := s.desk.TicketByID(c.UserContext(), currentOrg(c), actor(c), id)
	if err != nil {
		return err
	}
	return sendJSON(c, status, ticketJSON(t))
}

// apiGetTicket handles GET /api/v1/tickets/:ticketId.
func (s *Server) apiGetTicket(c *fiber.Ctx) error {
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	return s.apiTicketAnswer(c, id, fiber.StatusOK)
}

// apiListMessages handles GET /api/v1/tickets/:ticketId/messages?after=&limit=: the ticket's
// messages, notes and activity lines, oldest first, from after on.
func (s *Server) apiListMessages(c *fiber.Ctx) error {
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	after, err := queryID(c, "after")
	if err != nil {
		return err
	}
	limit, err := apiLimitParam(c)
	if err != nil {
		return err
	}
	msgs, err := s.desk.TicketMessages(c.UserContext(), currentOrg(c), actor(c), id, after, limit)
	if err != nil {
		return err
	}
	out := listPage[apiMessage]{Data: make([]apiMessage, 0, len(msgs))}
	for _, m := range msgs {
		out.Data = append(out.Data, messageJSON(m))
	}
	if len(msgs) == limit {
		out.NextCursor = orNil(strconv.FormatInt(msgs[len(msgs)-1].ID, 10))
	}
	return sendJSON(c, fiber.StatusOK, out)
}

// messageInput is the body of a message or a note.
type messageInput struct {
	Body string `json:"body"`
	// As is "agent" (the default: the token's agent, or the organization) or "customer" (on
	// the customer's behalf); messages only.
	As string `json:"as,omitempty"`
}

// apiCreateMessage handles POST /api/v1/tickets/:ticketId/messages: body, as.
func (s *Server) apiCreateMessage(c *fiber.Ctx) error {
	return s.apiWrite(c, false)
}

// apiCreateNote handles POST /api/v1/tickets/:ticketId/notes: body.
func (s *Server) apiCreateNote(c *fiber.Ctx) error {
	return s.apiWrite(c, true)
}

func (s *Server) apiWrite(c *fiber.Ctx, note bool) error {
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	var in messageInput
	if err := readJSON(c, &in); err != nil {
		return err
	}
	if note && in.As != "" {
		return apperr.Field(apperr.Invalid, "as", codeUnknownField)
	}
	if in.As != "" && in.As != "agent" && in.As != "customer" {
		return apperr.Field(apperr.Invalid, "as", apperr.CodeInvalid)
	}
	body, fail := checkMessage(in.Body, s.cfg.MessageLimit)
	if fail != "" {
		return apperr.Field(apperr.Invalid, "body", apperr.CodeInvalid)
	}
	org, a, ctx := currentOrg(c), actor(c), c.UserContext()
	var m desk.Message
	if in.As == "customer" {
		m, err = s.desk.AddCustomerMessage(ctx, org, a, id, body)
	} else {
		t, terr := s.desk.TicketByID(ctx, org, a, id)
		if terr != nil {
			return terr
		}
		if note {
			m, err = s.desk.AddNote(ctx, org, a, t.ConversationID, body)
		} else {
			m, err = s.desk.AddMessage(ctx, org, a, t.ConversationID, body)
		}
	}
	if err != nil {
		return err
	}
	return sendJSON(c, fiber.StatusCreated, messageJSON(m))
}

// apiSetStatus handles POST /api/v1/tickets/:ticketId/status: status, and snooze_until (RFC
// 3339) when snoozed.
func (s *Server) apiSetStatus(c *fiber.Ctx) error {
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	var in struct {
		Status      string `json:"status"`
		SnoozeUntil string `json:"snooze_until,omitempty"`
	}
	if err := readJSON(c, &in); err != nil {
		return err
	}
	var until time.Time
	if in.SnoozeUntil != "" {
		if until, err = time.Parse(time.RFC3339, in.SnoozeUntil); err != nil {
			return apperr.Field(apperr.Invalid, "snooze_until", apperr.CodeInvalid)
		}
	}
	if err := s.desk.SetStatus(c.UserContext(), currentOrg(c), actor(c), id, in.Status, until); err != nil {
		return err
	}
	return s.apiTicketAnswer(c, id, fiber.StatusOK)
}

// apiAssign handles POST /api/v1/tickets/:ticketId/assignment: assignee_id (null: nobody).
func (s *Server) apiAssign(c *fiber.Ctx) error {
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	var in struct {
		AssigneeID *int64 `json:"assignee_id"`
	}
	if err := readJSON(c, &in); err != nil {
		return err
	}
	agent := int64(0)
	if in.AssigneeID != nil {
		if *in.AssigneeID <= 0 {
			return apperr.Field(apperr.Invalid, "assignee_id", apperr.CodeInvalid)
		}
		agent = *in.AssigneeID
	}
	if err := s.desk.Assign(c.UserContext(), currentOrg(c), actor(c), id, agent); err != nil {
		if e, ok := apperr.As(err); ok && e.Field == "agent_id" {
			e2 := *e
			e2.Field = "assignee_id"
			return &e2
		}
		return err
	}
	return s.apiTicketAnswer(c, id, fiber.StatusOK)
}

// apiSetPriority handles POST /api/v1/tickets/:ticketId/priority: priority.
func (s *Server) apiSetPriority(c *fiber.Ctx) error {
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	var in struct {
		Priority string `json:"priority"`
	}
	if err := readJSON(c, &in); err != nil {
		return err
	}
	p, ok := desk.ParsePriority(in.Priority)
	if !ok {
		return apperr.Field(apperr.Invalid, "priority", apperr.CodeInvalid)
	}
	if err := s.desk.SetPriority(c.UserContext(), currentOrg(c), actor(c), id, p); err != nil {
		return err
	}
	return s.apiTicketAnswer(c, id, fiber.StatusOK)
}

// apiSetTags handles POST /api/v1/tickets/:ticketId/tags: tags, which replace the set.
func (s *Server) apiSetTags(c *fiber.Ctx) error {
	id, err := paramID(c, "ticketId")
	if err != nil {
		return err
	}
	var in struct {
		Tags []string `json:"tags"`
	}
	if err := readJSON(c, &in); err != nil {
		return err
	}
	if in.Tags == nil {
		return apperr.Field(apperr.Invalid, "tags", apperr.CodeRequired)
	}
	if err := s.desk.SetTags(c.UserContext(), currentOrg(c), actor(c), id, in.Tags); err != nil {
		return err
	}
	return s.apiTicketAnswer(c, id, fiber.StatusOK)
}

// apiListContacts handles GET /api/v1/contacts?email=&cursor=&limit=.
func (s *Server) apiListContacts(c *fiber.Ctx) error {
	f := desk.ContactFilter{Email: strings.ToLower(strings.TrimSpace(c.Query("email")))}
	if f.Email != "" && (checkText(f.Email, "Email", 1, 254) != "" || checkEmail(f.Email) != "") {
		return apperr.Field(apperr.Invalid, "email", apperr.CodeInvalid)
	}
	var err error
	if f.Before, err = queryID(c, "cursor"); err != nil {
		return err
	}
	if f.Limit, err = apiLimitParam(c); err != nil {
		return err
	}
	list, err := s.desk.Contacts(c.UserContext(), currentOrg(c), actor(c), f)
	if err != nil {
		return err
	}
	out := listPage[apiContact]{Data: make([]apiContact, 0, len(list))}
	for _, ct := range list {
		out.Data = append(out.Data, contactJSON(ct))
	}
	if len(list) == f.Limit {
		out.NextCursor = orNil(strconv.FormatInt(list[len(list)-1].ID, 10))
	}
	return sendJSON(c, fiber.StatusOK, out)
}

// apiGetContact handles GET /api/v1/contacts/:contactId: the contact and its latest tickets.
func (s *Server) apiGetContact(c *fiber.Ctx) error {
	id, err := paramID(c, "contactId")
	if err != nil {
		return err
	}
	ct, tickets, err := s.desk.Contact(c.UserContext(), currentOrg(c), actor(c), id, 100)
	if err != nil {
		return err
	}
	out := struct {
		apiContact
		Tickets []apiTicket `json:"tickets"`
	}{apiContact: contactJSON(ct), Tickets: make([]apiTicket, 0, len(tickets))}
	for _, t := range tickets {
		out.Tickets = append(out.Tickets, ticketJSON(t))
	}
	return sendJSON(c, fiber.StatusOK, out)
}

// apiListAgents handles GET /api/v1/agents: the team, oldest first.
func (s *Server) apiListAgents(c *fiber.Ctx) error {
	agents, err := s.desk.Agents(c.UserContext(), currentOrg(c), actor(c), 1000)
	if err != nil {
		return err
	}
	out := listPage[apiAgent]{Data: make([]apiAgent, 0, len(agents))}
	for _, a := range agents {
		out.Data = append(out.Data, apiAgent{ID: a.ID, Name: a.FullName, Email: a.Email, Role: a.Role, Removed: a.Removed(),
			CreatedAt: *apiTime(a.CreatedAt)})
	}
	return sendJSON(c, fiber.StatusOK, out)
}
