package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"io/fs"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/csrf"
	"github.com/gofiber/fiber/v2/middleware/encryptcookie"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
)

const csrfLocal = "csrf"

// routes lists every route of the contract in one place.
func (s *Server) routes(assets fs.FS) {
	app := s.app
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}))
	app.Use(requestid.New())
	app.Use(s.observe)
	app.Use(helmet.New(helmet.Config{
		ContentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self'; " +
			"img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; " +
			"base-uri 'none'; object-src 'none'",
		// helmet's default no-referrer makes the CSRF check reject every HTTPS POST.
		ReferrerPolicy: "same-origin",
		HSTSMaxAge:     63072000,
		// helmet's COEP require-corp default is harmless here but blocks nothing we serve.
		CrossOriginEmbedderPolicy: "unsafe-none",
		XFrameOptions:             "DENY",
	}))

	app.Use("/assets", filesystem.New(filesystem.Config{
		Root:   http.FS(assets),
		MaxAge: 3600,
	}))
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)

	// Pages are per user and per tenant: never cached, and they differ with HX-Request.
	app.Use(func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Vary("HX-Request")
		return c.Next()
	})
	key := s.cookieKey()
	cc, err := newCookieCipher(key)
	if err != nil {
		panic(err) // cookieKey is always 32 bytes
	}
	app.Use(encryptcookie.New(encryptcookie.Config{Key: base64.StdEncoding.EncodeToString(key),
		Encryptor: cc.encrypt, Decryptor: cc.decrypt,
		// A customer's poll is authorised by its token alone and reads no cookie: leave
		// its cookies undecrypted (its most frequent request; cookiecrypt.go).
		Next: isCustomerPoll}))
	// Errors become pages here, inside encryptcookie: a cookie the error page sets (a session
	// touched by a flash message) is then encrypted like any other. Fiber's own ErrorHandler
	// runs only after every middleware has returned.
	app.Use(func(c *fiber.Ctx) error {
		if err := c.Next(); err != nil {
			return s.handleError(c, err)
		}
		return nil
	})
	app.Use(csrf.New(csrf.Config{
		Session:        s.sessions,
		CookieName:     s.cookieName("csrf"),
		CookieSecure:   s.cfg.SecureCookies,
		CookieHTTPOnly: true,
		CookieSameSite: "Lax",
		CookiePath:     "/",
		Expiration:     s.cfg.SessionIdle,
		ContextKey:     csrfLocal,
		Extractor:      csrfFromHeaderOrForm,
		ErrorHandler:   s.csrfFailed,
		// Polls are read-only and frequent: they need no token, and skipping the check
		// keeps them from writing the session on every request.
		Next: isPoll,
	}))

	// Abuse limits (ratelimit.go): per client address, per account, and failed passwords.
	limit := s.clientLimit()
	sendLimit := s.accountLimit(limitSend)
	orgPassLimit := s.passwordLimit(limitOrgPass)

	app.Get("/", s.home)
	app.Get("/register", s.registerForm)
	app.Post("/register", limit, s.accountLimit(limitRegister), s.register)
	app.Get("/login", s.loginForm)
	app.Post("/login", limit, s.passwordLimit(limitLogin), s.login)
	app.Post("/logout", s.logout)

	// Group middleware in Fiber applies to every path under the prefix, so the login checks
	// are attached route by route.
	org := s.requireOrg
	app.Get("/dash", org, s.dash)
	app.Post("/agents", org, s.createAgent)
	app.Get("/dash/export", org, s.export)
	app.Post("/dash/delete", org, limit, orgPassLimit, s.deleteOrg)
	app.Get("/dash/password", org, s.orgPasswordForm)
	app.Post("/dash/password", org, limit, orgPassLimit, s.changeOrgPassword)
	app.Post("/agents/:agentId/remove", org, s.removeAgent)
	app.Post("/agents/:agentId/reset-password", org, s.resetAgentPassword)
	app.Get("/conversation/:conversationId", org, s.orgConversation)
	app.Get("/conversation/:conversationId/messages", org, s.orgPoll)

	ag := app.Group("/agent/:org", s.loadOrg)
	ag.Get("/login", s.agentLoginForm)
	ag.Post("/login", limit, s.passwordLimit(limitAgent), s.agentLogin)
	agent := s.requireAgent
	ag.Get("/password", agent, s.agentPasswordForm)
	ag.Post("/password", agent, limit, s.passwordLimit(limitAgentPass), s.agentSetPassword)
	ag.Get("/dash", agent, s.agentDash)
	ag.Post("/tickets/:ticketId/engage", agent, s.engage)
	ag.Post("/tickets/:ticketId/close", agent, s.closeTicket)
	ag.Get("/talk/:conversationId", agent, s.talk)
	ag.Get("/talk/:conversationId/messages", agent, s.agentPoll)
	ag.Post("/talk/:conversationId/messages", agent, limit, sendLimit, s.agentSend)

	// The customer's poll checks the token itself (customerPoll), before the group's
	// loadCustomerTicket would load the whole ticket: registered first, it answers first.
	app.Get("/customer/:org/t/:token/messages", s.loadOrg, s.customerPoll)
	cust := app.Group("/customer/:org/t/:token", s.loadOrg, s.loadCustomerTicket)
	cust.Get("", s.customerTicket)
	cust.Post("/messages", limit, sendLimit, s.customerSend)
	cust.Post("/rating", s.rate)

	open := app.Group("/:org/open-ticket", s.loadOrg)
	open.Get("", s.openTicketForm)
	open.Post("", limit, s.accountLimit(limitOpen), s.openTicket)
}

// csrfFromHeaderOrForm takes the token from the X-CSRF-Token header (htmx) or the _csrf form
// field (plain forms, no JavaScript).
func csrfFromHeaderOrForm(c *fiber.Ctx) (string, error) {
	if t := c.Get("X-CSRF-Token"); t != "" {
		return t, nil
	}
	if t := c.FormValue("_csrf"); t != "" {
		return t, nil
	}
	return "", csrf.ErrTokenNotFound
}

// isPoll reports whether the request is a message poll, which is read-only.
func isPoll(c *fiber.Ctx) bool {
	return c.Method() == fiber.MethodGet && strings.HasSuffix(c.Path(), "/messages")
}

// cookieKey is the configured cookie key, or a random one (sessions then end on restart).
func (s *Server) cookieKey() []byte {
	if len(s.cfg.CookieSecret) == 32 {
		return s.cfg.CookieSecret
	}
	k := make([]byte, 32)
	rand.Read(k)
	return k
}
