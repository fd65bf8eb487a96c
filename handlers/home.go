package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

const orgsPerPage = 50

type homePage struct {
	Page
	Orgs     []catalog.Listing
	PrevPage int
	NextPage int
}

// home handles GET /: the organizations, each linking to its ticket form.
func (s *Server) home(c *fiber.Ctx) error {
	n, _ := strconv.Atoi(c.Query("page", "1"))
	if n < 1 || n > 100000 {
		n = 1
	}
	orgs, err := s.catalog.List(c.UserContext(), orgsPerPage+1, (n-1)*orgsPerPage)
	if err != nil {
		return err
	}
	p := &homePage{Page: Page{Title: "Support for every organization"}, Orgs: orgs}
	if len(orgs) > orgsPerPage {
		p.Orgs, p.NextPage = orgs[:orgsPerPage], n+1
	}
	if n > 1 {
		p.PrevPage = n - 1
	}
	return s.page(c, fiber.StatusOK, "pages/home", p)
}
