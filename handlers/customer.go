package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
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
	org := currentOrg(c)
	t, token, err := s.desk.OpenTicket(c.UserContext(), org, desk.AsPublic(), desk.NewTicket{
		CustomerName: v.CustomerName, CustomerEmail: v.CustomerEmail, Query: v.Query})
	if err != nil {
		return err
	}
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
	// Rating and Comment are what the rating form was sent with (shown again when refused);
	// CommentError says what is wrong with the comment.
	Rating       int
	Comment      string
	CommentError string
	CommentLimit int
}

// rateForm is the rating form as it was sent, and what was wrong with it.
type rateForm struct {
	rating                     int
	comment, err, commentError string
}

func (s *Server) renderCustomerTicket(c *fiber.Ctx, draft, sendErr, rateErr string, status int) error {
	return s.renderCustomerTicketRated(c, draft, sendErr, rateForm{err: rateErr}, status)
}

func (s *Server) renderCustomerTicketRated(c *fiber.Ctx, draft, sendErr string, rf rateForm, status int) error {
	org := currentOrg(c)
	pageURL := customerURL(org.Username, c.Params("token"))
	ch, err := s.chat(c, 0, pageURL, "customer")
	if err != nil {
		return err
	}
	t := ch.Ticket
	ch.Draft, ch.SendError = draft, sendErr
	p := &customerTicketPage{Page: Page{Title: "Your ticket with " + org.Name}, OrgName: org.Name, Chat: ch,
		RatingError: rf.err, Rating: rf.rating, Comment: rf.comment, CommentError: rf.commentError, CommentLimit: desk.MaxRatingComment}
	if t.Status == desk.StatusClosed && t.Rating == 0 {
		p.RateURL = pageURL + "/rating"
	}
	// The token in the URL is the credential: the page's Referrer-Policy (same-origin, as
	// every page's) keeps it from other sites. (no-referrer would make browsers send
	// "Origin: null" with the page's own forms, which the origin check refuses.)
	return s.page(c, status, "pages/ticket", p)
}

// customerTicket handles GET /customer/:org/t/:token.
func (s *Server) customerTicket(c *fiber.Ctx) error {
	return s.renderCustomerTicket(c, "", "", "", fiber.StatusOK)
}

// customerPoll handles GET /customer/:org/t/:token/messages. Its kind reads no cookie: the
// token is the credential, and an idle poll reads no database.
func (s *Server) customerPoll(c *fiber.Ctx) error {
	return s.pollMessages(c, 0, nil)
}

// customerSend handles POST /customer/:org/t/:token/messages.
func (s *Server) customerSend(c *fiber.Ctx) error {
	pageURL := customerURL(currentOrg(c).Username, c.Params("token"))
	return s.sendMessage(c, 0, pageURL,
		func(draft, msg string, status int) error { return s.renderCustomerTicket(c, draft, msg, "", status) })
}

// rate handles POST /customer/:org/t/:token/rating: rating 1–5 and an optional comment, once,
// after closing.
func (s *Server) rate(c *fiber.Ctx) error {
	f := newForm(c)
	rating, ok := parseRating(formValue(c, "rating"))
	comment := normalizeNewlines(f.text("comment", "Your comment", 0, desk.MaxRatingComment))
	rf := rateForm{rating: rating, comment: comment, commentError: f.Errors["comment"]}
	if !ok || !f.ok() {
		if !ok {
			rf.err = "Choose a rating from 1 to 5."
		}
		return s.renderCustomerTicketRated(c, "", "", rf, fiber.StatusUnprocessableEntity)
	}
	org := currentOrg(c)
	if err := s.desk.Rate(c.UserContext(), org, actor(c), rating, comment); err != nil {
		if e, ok := apperr.As(err); ok && e.Kind == apperr.Conflict {
			return s.renderCustomerTicket(c, "", "", sentence(e), fiber.StatusConflict)
		}
		if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid && e.Field == "comment" {
			rf.commentError = "Your comment contains invalid characters."
			if e.Code == desk.CodeCommentTooLong {
				rf.commentError = sentence(e)
			}
			return s.renderCustomerTicketRated(c, "", "", rf, fiber.StatusUnprocessableEntity)
		}
		return err
	}
	s.log.Info("ticket rated", "tenant", org.Username, "rating", rating, "comment", comment != "")
	s.setFlash(c, "Thank you for your feedback!")
	return redirect(c, customerURL(org.Username, c.Params("token")))
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
