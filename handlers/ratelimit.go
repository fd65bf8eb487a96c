package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// Abuse limits, counted in the persistent limiter storage (sessions.db) so a restart does not
// reset them. What a logged-in agent or a customer's token does is counted per account, never
// per address: a team of ten behind one office address, or customers behind one carrier's
// address, each have their own budget.
//
//   - anonymous actions (logging in, registering, opening a ticket) pass two counters:
//     RateLimit requests per RateWindow from one address on one route and organization
//     (clientLimit), and the same budget for the account they name — the email a ticket or
//     registration is opened for, the email logging in — from however many addresses
//     (accountLimit);
//   - sending a message is counted per sender: SendLimit per RateWindow for one agent, or one
//     customer's ticket (sendLimit);
//   - every password check (logins, and the current password asked to change or delete an
//     organization or to change an agent's password) is also counted per account, failures
//     only: LoginFailureLimit failed checks per LoginFailureWindow lock that account's
//     password checks for everyone until the window slides (passwordLimit). Counting failures only keeps the owner's own
//     successful logins free; a correct password while locked still gets 429, so guessing
//     gains nothing.
//
// Account keys are hashed: the limiter storage never holds an email address or a token.

// limitKind names a limited action in the counters' keys.
type limitKind string

const (
	limitLogin     limitKind = "login"     // organization login, by email
	limitAgent     limitKind = "agent"     // agent login, by organization and email
	limitRegister  limitKind = "register"  // registration, by email
	limitOpen      limitKind = "open"      // ticket opening, by organization and customer email
	limitPortal    limitKind = "portal"    // sign-in links of the customer portal, by organization and email
	limitSend      limitKind = "send"      // sending, by organization and agent or ticket
	limitOrgPass   limitKind = "orgpass"   // current-password checks of a logged-in organization
	limitAgentPass limitKind = "agentpass" // current-password checks of a logged-in agent
)

// clientLimit limits POSTs per client address (clientIP), route and organization.
func (s *Server) clientLimit() fiber.Handler {
	return s.limiter(s.cfg.RateLimit, false, func(c *fiber.Ctx) string {
		return "rl:" + s.clientIP(c) + ":" + utils.CopyString(c.Route().Path) + ":" + utils.CopyString(c.Params("org"))
	})
}

// accountLimit limits one kind of anonymous POST per account, wherever it comes from.
func (s *Server) accountLimit(kind limitKind) fiber.Handler {
	return s.limiter(s.cfg.RateLimit, false, func(c *fiber.Ctx) string { return accountKey(c, kind) })
}

// sendLimit limits sending per sender: the logged-in agent, or the customer's ticket.
func (s *Server) sendLimit() fiber.Handler {
	return s.limiter(s.cfg.SendLimit, false, func(c *fiber.Ctx) string { return accountKey(c, limitSend) })
}

// passwordLimit counts failed password checks per account. A handler it guards must answer a
// wrong password with a 4xx page (not an error), as every login form here does; a failure of
// ours (an error) is not the user's and is not counted.
func (s *Server) passwordLimit(kind limitKind) fiber.Handler {
	return s.limiter(s.cfg.LoginFailureLimit, true, func(c *fiber.Ctx) string { return accountKey(c, kind) })
}

// accountKey is the counter key of the request's account for kind; "" when the request names
// none (the handler then rejects it as invalid input, and the client limit still counts it).
func accountKey(c *fiber.Ctx, kind limitKind) string {
	org, who := "-", ""
	switch kind {
	case limitLogin, limitRegister:
		who = hashEmail(formValue(c, "email"))
	case limitAgent:
		org, who = orgID(c), hashEmail(formValue(c, "email"))
	case limitOpen:
		org, who = orgID(c), hashEmail(formValue(c, "customer_email"))
	case limitPortal:
		org, who = orgID(c), hashEmail(formValue(c, "email"))
	case limitSend:
		org = orgID(c)
		switch a := actor(c); a.Kind {
		case desk.AgentActor:
			who = "a" + strconv.FormatInt(a.AgentID, 10)
		case desk.Customer:
			who = "t" + tokenKey(c.Params("token"))
		case desk.Owner:
			who = "owner"
		}
	case limitOrgPass:
		org, who = orgID(c), "org"
	case limitAgentPass:
		if a := currentAgent(c); a != nil {
			org, who = orgID(c), "a"+strconv.FormatInt(a.ID, 10)
		}
	}
	if org == "" || who == "" {
		return ""
	}
	return "rla:" + string(kind) + ":" + org + ":" + who
}

// orgID is the route's organization's catalog id (never reused: AUTOINCREMENT), "" if none.
func orgID(c *fiber.Ctx) string {
	org := currentOrg(c)
	if org == nil {
		return ""
	}
	return strconv.FormatInt(org.ID, 10)
}

// tokenKey hashes a customer token for a counter key.
func tokenKey(token string) string {
	sum := sha256.Sum256([]byte("tenantdesk limit\x00" + token))
	return hex.EncodeToString(sum[:16])
}

// hashEmail normalises an email as the handlers do (loginEmail) and hashes it; "" for an
// empty or invalid one, which the handler refuses before any lookup.
func hashEmail(raw string) string {
	email, ok := loginEmail(raw)
	if !ok {
		return ""
	}
	sum := sha256.Sum256([]byte(email))
	return hex.EncodeToString(sum[:16])
}

// limiter is Fiber's sliding-window limiter on the persistent storage: max requests per
// RateWindow (LoginFailureWindow when only failures count) under key; off when max is 0 or
// the key is empty.
func (s *Server) limiter(max int, failuresOnly bool, key func(*fiber.Ctx) string) fiber.Handler {
	if max <= 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	window := s.cfg.RateWindow
	if failuresOnly {
		window = s.cfg.LoginFailureWindow
	}
	return limiter.New(limiter.Config{
		Max:                    max,
		Expiration:             window,
		Storage:                s.limits,
		LimiterMiddleware:      limiter.SlidingWindow{},
		SkipSuccessfulRequests: failuresOnly,
		Next:                   func(c *fiber.Ctx) bool { return key(c) == "" },
		KeyGenerator:           key,
		LimitReached:           s.tooMany,
	})
}

// tooMany answers 429 (the limiter has set Retry-After); htmx shows it in the composer.
func (s *Server) tooMany(c *fiber.Ctx) error {
	if isHTMX(c) {
		c.Set("HX-Retarget", "#composer-error")
		c.Set("HX-Reswap", "innerHTML")
	}
	s.log.Info("rate limited", "route", c.Route().Path, "request_id", requestID(c))
	wait, _ := strconv.Atoi(string(c.Response().Header.Peek(fiber.HeaderRetryAfter)))
	return s.errorPage(c, fiber.StatusTooManyRequests, "Too many attempts. Please try again "+inAbout(wait)+".")
}

// inAbout words a wait of secs seconds for people.
func inAbout(secs int) string {
	switch {
	case secs <= 1:
		return "in a moment"
	case secs < 90:
		return "in " + strconv.Itoa(secs) + " seconds"
	default:
		return "in about " + strconv.Itoa((secs+30)/60) + " minutes"
	}
}
