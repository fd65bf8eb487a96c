package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// myTicketsPage is the customer portal (GET, POST /:org/my-tickets): the form that asks for
// a sign-in link, the button that uses one, or the tickets it lists.
type myTicketsPage struct {
	Page
	OrgName string
	OrgUser string
	Email   string
	Errors  FieldErrors
	// Token is a sign-in link's token to use (the page shows the button that posts it).
	Token string
	// Sent: the request was taken (the same words whether or not the address has tickets).
	Sent bool
	// Off: the organization sends no email, so there is no link to send.
	Off bool
	// Expired: the token was used, expired or unknown.
	Expired bool
	// Tickets are the signed-in address's tickets (SignedIn marks the list, even empty).
	SignedIn bool
	Tickets  []desk.PortalTicket
}

func (s *Server) myTicketsPage(c *fiber.Ctx) *myTicketsPage {
	org := currentOrg(c)
	return &myTicketsPage{Page: Page{Title: "Your tickets with " + org.Name}, OrgName: org.Name, OrgUser: org.Username,
		Errors: FieldErrors{}}
}

// myTickets handles GET /:org/my-tickets: the form, or, with a sign-in link's token (k), a
// button that uses it. Opening the link uses nothing: mail scanners that follow links would
// spend it before the customer does.
func (s *Server) myTickets(c *fiber.Ctx) error {
	p := s.myTicketsPage(c)
	p.Off = !s.desk.MailOn()
	if k := c.Query("k"); k != "" {
		if desk.ValidPortalToken(k) {
			p.Token = k
		} else {
			p.Expired = true
		}
	}
	return s.page(c, fiber.StatusOK, "pages/my_tickets", p)
}

// myTicketsPost handles POST /:org/my-tickets: with token, signs in and lists the tickets;
// with email, sends the sign-in link when the address has tickets, and answers the same when
// it has none.
func (s *Server) myTicketsPost(c *fiber.Ctx) error {
	p := s.myTicketsPage(c)
	org := currentOrg(c)
	if token := formValue(c, "token"); token != "" {
		list, err := s.desk.PortalTickets(c.UserContext(), org, desk.AsPublic(), token)
		switch {
		case apperr.CodeOf(err) == desk.CodePortalLinkNotFound:
			p.Expired = true
			return s.page(c, fiber.StatusNotFound, "pages/my_tickets", p)
		case apperr.CodeOf(err) == desk.CodeEmailOff:
			p.Off = true
			return s.page(c, fiber.StatusConflict, "pages/my_tickets", p)
		case err != nil:
			return err
		}
		p.SignedIn, p.Tickets = true, list
		return s.page(c, fiber.StatusOK, "pages/my_tickets", p)
	}
	f := newForm(c)
	p.Email = f.email("email")
	if !f.ok() {
		p.Errors = f.Errors
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/my_tickets", p)
	}
	err := s.desk.RequestPortalLink(c.UserContext(), org, desk.AsPublic(), p.Email)
	switch {
	case apperr.CodeOf(err) == desk.CodeEmailOff:
		p.Off = true
		return s.page(c, fiber.StatusConflict, "pages/my_tickets", p)
	case apperr.Is(err, apperr.Invalid):
		p.Errors["email"] = "Enter an email address such as name@example.com."
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/my_tickets", p)
	case err != nil:
		return err
	}
	p.Sent = true
	return s.page(c, fiber.StatusOK, "pages/my_tickets", p)
}
