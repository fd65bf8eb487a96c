package handlers

import (
	"crypto/sha256"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/crm"
)

type openTicketPage struct {
	Page
	OrgName string
	OrgUser string
	Website string
	Values  openTicketValues
	Errors  FieldErrors
	Limit   int
}

type openTicketValues struct {
	CustomerName, CustomerEmail, Query string
}

func (s *Server) openTicketPage(c *fiber.Ctx) *openTicketPage {
	org := currentOrg(c)
	return &openTicketPage{Page: Page{Title: "Contact " + org.Name + " support"}, OrgName: org.Name,
		OrgUser: org.Username, Website: org.Website, Limit: s.cfg.MessageLimit}
}

// openTicketForm handles GET /:org/open-ticket.
func (s *Server) openTicketForm(c *fiber.Ctx) error {
	return s.page(c, fiber.StatusOK, "pages/open_ticket", s.openTicketPage(c))
}

// openTicket handles POST /:org/open-ticket: the ticket is stored with the hash of a fresh
// private token, and the customer is sent to the page only that token opens.
func (s *Server) openTicket(c *fiber.Ctx) error {
	f := newForm(c)
	v := openTicketValues{
		CustomerName:  f.name("customer_name", "Your name", 1, 100),
		CustomerEmail: f.email("customer_email"),
		Query:         f.text("query", "Your question", 1, s.cfg.MessageLimit),
	}
	v.Query = normalizeNewlines(v.Query)
	if !f.ok() {
		p := s.openTicketPage(c)
		p.Values, p.Errors = v, f.Errors
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/open_ticket", p)
	}
	store, err := s.crm(c)
	if err != nil {
		return err
	}
	token := newToken()
	t, err := store.OpenTicket(c.UserContext(), v.CustomerName, v.CustomerEmail, v.Query, hashToken(token))
	if err != nil {
		return err
	}
	org := currentOrg(c)
	s.log.Info("ticket opened", "tenant", org.Username, "ticket_id", t.ID)
	s.setFlash(c, "Your ticket is open. Keep this page's address: it is your private link to the conversation.")
	return redirect(c, customerURL(org.Username, token))
}

func customerURL(org, token string) string { return "/customer/" + org + "/t/" + token }

type customerTicketPage struct {
	Page
	OrgName string
	Chat    Chat
	// RateURL is set when the customer may rate (closed, not yet rated).
	RateURL     string
	RatingError string
}

func (s *Server) renderCustomerTicket(c *fiber.Ctx, draft, sendErr, rateErr string, status int) error {
	org, t := currentOrg(c), currentTicket(c)
	store, err := s.crm(c)
	if err != nil {
		return err
	}
	pageURL := customerURL(org.Username, c.Params("token"))
	ch, err := s.chat(c, store, *t, pageURL, "customer")
	if err != nil {
		return err
	}
	ch.CanSend, ch.Draft, ch.SendError = t.Status == crm.StatusEngaged, draft, sendErr
	p := &customerTicketPage{Page: Page{Title: "Your ticket with " + org.Name}, OrgName: org.Name, Chat: ch,
		RatingError: rateErr}
	if t.Status == crm.StatusClosed && t.Rating == 0 {
		p.RateURL = pageURL + "/rating"
	}
	// The token is the credential: keep it out of the Referer of any link the page holds.
	c.Set("Referrer-Policy", "no-referrer")
	return s.page(c, status, "pages/ticket", p)
}

// customerTicket handles GET /customer/:org/t/:token.
func (s *Server) customerTicket(c *fiber.Ctx) error {
	return s.renderCustomerTicket(c, "", "", "", fiber.StatusOK)
}

// customerPoll handles GET /customer/:org/t/:token/messages.
// It is routed without loadCustomerTicket: the token is checked here, by the same one-row
// lookup (or its cached answer), so an idle poll reads no database.
func (s *Server) customerPoll(c *fiber.Ctx) error {
	token := c.Params("token")
	if !validToken(token) {
		return fiber.ErrNotFound
	}
	st, err := s.tokenPoll(c, sha256.Sum256([]byte(token)))
	if err != nil {
		return err
	}
	return s.pollMessages(c, st)
}

// customerSend handles POST /customer/:org/t/:token/messages.
func (s *Server) customerSend(c *fiber.Ctx) error {
	store, err := s.crm(c)
	if err != nil {
		return err
	}
	t := currentTicket(c)
	pageURL := customerURL(currentOrg(c).Username, c.Params("token"))
	return s.sendMessage(c, store, *t, crm.SenderCustomer, 0, pageURL,
		func(draft, msg string, status int) error { return s.renderCustomerTicket(c, draft, msg, "", status) })
}

// rate handles POST /customer/:org/t/:token/rating: 1–5, once, after closing.
func (s *Server) rate(c *fiber.Ctx) error {
	store, err := s.crm(c)
	if err != nil {
		return err
	}
	t := currentTicket(c)
	rating, ok := parseRating(c.FormValue("rating"))
	if !ok {
		return s.renderCustomerTicket(c, "", "", "Choose a rating from 1 to 5.", fiber.StatusUnprocessableEntity)
	}
	if err := store.Rate(c.UserContext(), t.ID, rating); err != nil {
		if e, ok := apperr.As(err); ok && e.Kind == apperr.Conflict {
			return s.renderCustomerTicket(c, "", "", e.Message, fiber.StatusConflict)
		}
		return err
	}
	s.log.Info("ticket rated", "tenant", currentOrg(c).Username, "ticket_id", t.ID, "rating", rating)
	s.setFlash(c, "Thank you for your feedback!")
	return redirect(c, customerURL(currentOrg(c).Username, c.Params("token")))
}

// parseRating parses a rating field: one digit from 1 to 5 (spaces around it aside), as the
// form's radio buttons send it.
func parseRating(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if len(s) != 1 || s[0] < '1' || s[0] > '5' {
		return 0, false
	}
	return int(s[0] - '0'), true
}
