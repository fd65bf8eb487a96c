package handlers

import (
	"encoding/base64"
	"io/fs"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/encryptcookie"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// kind is what a route's requests are, declared where the route is registered: it decides
// which middleware they pass before the route's own handlers.
type kind struct {
	name string
	// cookies: request cookies are decrypted (and cookies set are encrypted). A route that
	// never reads a cookie skips the cost.
	cookies bool
	// action: the request changes state; its CSRF token and origin are checked (csrf.go).
	action bool
	// poll: read-only and frequent; logged at debug level, errors answered as fragments.
	poll bool
	// api: the JSON API; an API token is the credential (no cookies, no CSRF: no browser
	// sends the token by itself), errors are answered as problem documents.
	api bool
	// upload: a multipart POST streams its body to the handler, which reads the CSRF token
	// from the form's first field (attachments.go).
	upload bool
}

// The kinds of route.
var (
	page   = kind{name: "page", cookies: true}
	action = kind{name: "action", cookies: true, action: true}
	poll   = kind{name: "poll", cookies: true, poll: true}
	// tokenPoll is a customer's poll: the ticket token in the URL is its credential, so it
	// reads no cookie.
	tokenPoll = kind{name: "token poll", poll: true}
	api       = kind{name: "api", api: true}
	// uploadAction is a message POST that may carry files (multipart, streamed).
	uploadAction = kind{name: "upload", cookies: true, action: true, upload: true}
)

const kindLocal = "route_kind"

// routeKind is the kind of the route that matched the request (the zero kind before one did).
func routeKind(c *fiber.Ctx) kind {
	k, _ := c.Locals(kindLocal).(kind)
	return k
}

// Route is one entry of the route list: method, path pattern and the name of its kind.
type Route struct {
	Method, Path, Kind string
}

// routes lists every route of the application in one place: method, path, kind, then the
// route's own middleware (who may call it, its limits) and handler.
func (s *Server) routes(assets fs.FS) {
	app := s.app
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}))
	app.Use(requestid.New())
	app.Use(s.observe)
	// Request bodies stream (StreamRequestBody): every body but an upload's is read here, up
	// to BodyLimit, before anything looks at it (attachments.go).
	app.Use(s.bodyLimit())

	app.Use("/assets", filesystem.New(filesystem.Config{Root: http.FS(assets), MaxAge: 3600}))
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)

	// Pages are per user and per tenant: never cached, and they differ with HX-Request.
	app.Use(func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Vary("HX-Request")
		return c.Next()
	})

	// Abuse limits (ratelimit.go): per client address and per account for anonymous actions,
	// per account for what a logged-in agent or a customer's token does, and failed passwords.
	perClient := s.clientLimit()
	sends := s.sendLimit()
	orgPass := s.passwordLimit(limitOrgPass)
	org, agent, customer, tenant := s.requireOrg, s.requireAgent, s.loadCustomer, s.loadOrg

	get, post := fiber.MethodGet, fiber.MethodPost
	manager := s.requireManager
	r := s.add
	r(get, "/", page, s.home)
	r(get, "/register", page, s.registerForm)
	r(post, "/register", action, perClient, s.accountLimit(limitRegister), s.register)
	r(get, "/login", page, s.loginForm)
	r(post, "/login", action, perClient, s.passwordLimit(limitLogin), s.login)
	r(post, "/logout", action, s.logout)

	// The owner.
	r(get, "/dash", page, org, s.dash)
	r(get, "/dash/export", page, org, s.export)
	r(post, "/dash/delete", action, org, orgPass, s.deleteOrg)
	r(get, "/dash/password", page, org, s.orgPasswordForm)
	r(post, "/dash/password", action, org, orgPass, s.changeOrgPassword)
	r(get, "/conversation/:conversationId", page, org, s.ticketView)
	r(get, "/conversation/:conversationId/messages", poll, org, s.ticketPoll)
	r(post, "/conversation/:conversationId/messages", uploadAction, org, sends, s.ticketSend)
	r(get, "/conversation/:conversationId/files/:fileId", page, org, s.download)
	r(post, "/conversation/:conversationId/notes", action, org, s.addNote)
	r(post, "/dash/tickets/:ticketId/assign", action, org, s.assignTicket)
	r(post, "/dash/tickets/:ticketId/status", action, org, s.setStatus)
	r(post, "/dash/tickets/:ticketId/priority", action, org, s.setPriority)
	r(post, "/dash/tickets/:ticketId/tags", action, org, s.setTags)
	r(post, "/dash/tickets/:ticketId/close", action, org, s.closeTicket)
	r(get, "/dash/contacts/:contactId", page, org, s.contact)
	r(get, "/dash/search", page, org, s.search)

	// The owner and admin agents (the organization from the session).
	r(post, "/agents", action, manager, s.createAgent)
	r(post, "/agents/:agentId/remove", action, manager, s.removeAgent)
	r(post, "/agents/:agentId/reset-password", action, manager, s.resetAgentPassword)
	r(post, "/agents/:agentId/role", action, manager, s.setRole)
	r(get, "/dash/canned", page, manager, s.cannedList)
	r(post, "/dash/canned", action, manager, s.cannedCreate)
	r(post, "/dash/canned/:id/delete", action, manager, s.cannedDelete)
	r(get, "/dash/settings", page, manager, s.settings)
	r(post, "/dash/settings", action, manager, s.saveSettings)
	r(get, "/dash/audit", page, manager, s.auditLog)
	r(get, "/dash/api", page, manager, s.apiTokens)
	r(post, "/dash/api", action, manager, s.createAPIToken)
	r(post, "/dash/api/:id/revoke", action, manager, s.revokeAPIToken)
	r(get, "/dash/webhooks", page, manager, s.webhooks)
	r(post, "/dash/webhooks", action, manager, s.createWebhook)
	r(get, "/dash/webhooks/:id", page, manager, s.webhookLog)
	r(post, "/dash/webhooks/:id/remove", action, manager, s.removeWebhook)
	r(post, "/dash/webhooks/:id/deliveries/:deliveryId/resend", action, manager, s.resendWebhook)
	r(post, "/dash/settings/sla", action, manager, s.saveSLA)
	r(get, "/dash/reports", page, manager, s.reports)
	r(get, "/dash/reports.csv", page, manager, s.reportsCSV)

	// Agents.
	r(get, "/agent/:org/login", page, tenant, s.agentLoginForm)
	r(post, "/agent/:org/login", action, tenant, perClient, s.passwordLimit(limitAgent), s.agentLogin)
	r(get, "/agent/:org/password", page, tenant, agent, s.agentPasswordForm)
	r(post, "/agent/:org/password", action, tenant, agent, perClient, s.passwordLimit(limitAgentPass), s.agentSetPassword)
	r(get, "/agent/:org/dash", page, tenant, agent, s.agentDash)
	r(get, "/agent/:org/team", page, tenant, agent, s.team)
	r(post, "/agent/:org/tickets/:ticketId/engage", action, tenant, agent, s.takeTicket)
	r(post, "/agent/:org/tickets/:ticketId/assign", action, tenant, agent, s.assignTicket)
	r(post, "/agent/:org/tickets/:ticketId/status", action, tenant, agent, s.setStatus)
	r(post, "/agent/:org/tickets/:ticketId/priority", action, tenant, agent, s.setPriority)
	r(post, "/agent/:org/tickets/:ticketId/tags", action, tenant, agent, s.setTags)
	r(post, "/agent/:org/tickets/:ticketId/close", action, tenant, agent, s.closeTicket)
	r(get, "/agent/:org/talk/:conversationId", page, tenant, agent, s.ticketView)
	r(get, "/agent/:org/talk/:conversationId/messages", poll, tenant, agent, s.ticketPoll)
	r(post, "/agent/:org/talk/:conversationId/messages", uploadAction, tenant, agent, sends, s.ticketSend)
	r(get, "/agent/:org/talk/:conversationId/files/:fileId", page, tenant, agent, s.download)
	r(post, "/agent/:org/talk/:conversationId/notes", action, tenant, agent, s.addNote)
	r(get, "/agent/:org/contacts/:contactId", page, tenant, agent, s.contact)
	r(get, "/agent/:org/search", page, tenant, agent, s.search)
	r(get, "/agent/:org/canned", page, tenant, agent, s.cannedList)
	r(post, "/agent/:org/canned", action, tenant, agent, s.cannedCreate)
	r(post, "/agent/:org/canned/:id/delete", action, tenant, agent, s.cannedDelete)

	// Customers.
	r(get, "/customer/:org/t/:token", page, customer, s.customerTicket)
	r(get, "/customer/:org/t/:token/messages", tokenPoll, customer, s.customerPoll)
	r(post, "/customer/:org/t/:token/messages", uploadAction, customer, sends, s.customerSend)
	r(get, "/customer/:org/t/:token/files/:fileId", page, customer, s.download)
	r(post, "/customer/:org/t/:token/rating", action, customer, s.rate)

	// Email: the organization's settings, an agent's choice of emails, rotating a customer's
	// access (handlers/email.go).
	r(get, "/dash/settings/email", page, manager, s.emailSettings)
	r(post, "/dash/settings/email", action, manager, s.saveEmailSettings)
	r(post, "/agent/:org/email-prefs", action, tenant, agent, s.setNewTicketEmails)
	r(post, "/agent/:org/tickets/:ticketId/access", action, tenant, agent, s.rotateAccess)
	r(post, "/dash/tickets/:ticketId/access", action, org, s.rotateAccess)
	r(get, "/agent/:org/emails/:emailId", page, tenant, agent, s.receivedEmail)
	r(get, "/dash/emails/:emailId", page, org, s.receivedEmail)

	// The JSON API (api.go): the token chooses the organization and the actor.
	s.apiRoutes()

	r(get, "/:org/open-ticket", page, tenant, s.openTicketForm)
	r(post, "/:org/open-ticket", action, tenant, perClient, s.accountLimit(limitOpen), s.openTicket)
	// The customer portal: a sign-in link by email lists an address's tickets (portal.go).
	r(get, "/:org/my-tickets", page, tenant, s.myTickets)
	r(post, "/:org/my-tickets", action, tenant, perClient, s.accountLimit(limitPortal), s.myTicketsPost)
}

// add registers a route: the middleware its kind needs, then handlers.
func (s *Server) add(method, path string, k kind, handlers ...fiber.Handler) {
	chain := []fiber.Handler{func(c *fiber.Ctx) error {
		c.Locals(kindLocal, k)
		if !k.poll {
			// Where the request came from, for the audit entries the desk writes (polls
			// change nothing and skip the cost).
			c.SetUserContext(desk.WithOrigin(c.UserContext(), s.clientIP(c)))
		}
		return c.Next()
	}}
	if k.cookies {
		chain = append(chain, s.cookieCrypt)
	}
	// Errors become pages here, inside the cookie middleware: a cookie the error page sets (a
	// session touched by a flash message) is then encrypted like any other. Fiber's own
	// ErrorHandler runs only after every middleware has returned.
	chain = append(chain, s.errorPages)
	if k.action {
		chain = append(chain, s.verifyCSRF)
	}
	s.app.Add(method, path, append(chain, handlers...)...)
	s.routeList = append(s.routeList, Route{Method: method, Path: path, Kind: k.name})
}

// errorPages renders the error a handler returned.
func (s *Server) errorPages(c *fiber.Ctx) error {
	if err := c.Next(); err != nil {
		return s.handleError(c, err)
	}
	return nil
}

// newCookieCrypt is Fiber's encryptcookie with a cipher made once (cookiecrypt.go).
func newCookieCrypt(key []byte) fiber.Handler {
	cc, err := newCookieCipher(key)
	if err != nil {
		panic(err) // cookieKey is always 32 bytes
	}
	return encryptcookie.New(encryptcookie.Config{Key: base64.StdEncoding.EncodeToString(key),
		Encryptor: cc.encrypt, Decryptor: cc.decrypt})
}

// Routes lists every route with its kind, in registration order.
func (s *Server) Routes() []Route { return s.routeList }
