package handlers

import (
	"crypto/sha256"
	"regexp"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// Session keys and roles.
const (
	keyRole    = "role"
	keyOrgID   = "org_id"
	keyAgentID = "agent_id"
	keyLoginAt = "login_at"
	keyFlash   = "flash"
	keyEpoch   = "auth_epoch" // credentialEpoch of the user's password hash at login

	roleOrg   = "org"
	roleAgent = "agent"
)

// Request locals. None of them holds anything with a Close method: fasthttp closes every
// io.Closer left in a request's user values.
const (
	orgLocal    = "org"
	agentLocal  = "agent"
	actorLocal  = "actor"
	viewerLocal = "viewer"
)

// login is what a session says about who is logged in.
type login struct {
	Role    string
	OrgID   int64
	AgentID int64
	// Epoch is credentialEpoch of the password hash the user logged in with.
	Epoch string
}

// currentLogin reads the session's login, enforcing the absolute lifetime; the idle lifetime
// is the session storage's own expiry.
func (s *Server) currentLogin(c *fiber.Ctx) (login, error) {
	// The login decoded earlier from these very session bytes, if any (sessioncache.go).
	e := s.sessionEntry(c)
	if l, at, ok := e.cachedLogin(); ok && (l.Role == "" || time.Since(time.Unix(at, 0)) <= s.cfg.SessionAbsolute) {
		return l, nil
	}
	sess, err := s.sessions.Get(c)
	if err != nil {
		return login{}, err
	}
	role, _ := sess.Get(keyRole).(string)
	if role == "" {
		if s.stillCurrent(c, e) {
			e.remember(login{}, 0)
		}
		return login{}, nil
	}
	at, _ := sess.Get(keyLoginAt).(int64)
	if time.Since(time.Unix(at, 0)) > s.cfg.SessionAbsolute {
		return login{}, sess.Destroy()
	}
	orgID, _ := sess.Get(keyOrgID).(int64)
	agentID, _ := sess.Get(keyAgentID).(int64)
	epoch, _ := sess.Get(keyEpoch).(string)
	l := login{Role: role, OrgID: orgID, AgentID: agentID, Epoch: epoch}
	if s.stillCurrent(c, e) {
		e.remember(l, at)
	}
	return l, nil
}

// startSession logs a user in on a brand-new session: Reset drops the old data (the CSRF token
// included) and changes the id, so a session id or token planted before login is worthless.
// flash, if set, is shown on the next page. (Nothing else may touch the session in this
// request afterwards: Fiber would look it up under the old id.)
func (s *Server) startSession(c *fiber.Ctx, l login, flash string) error {
	sess, err := s.sessions.Get(c)
	if err != nil {
		return err
	}
	if err := sess.Reset(); err != nil {
		return err
	}
	sess.Set(keyRole, l.Role)
	sess.Set(keyOrgID, l.OrgID)
	sess.Set(keyAgentID, l.AgentID)
	sess.Set(keyEpoch, l.Epoch)
	sess.Set(keyLoginAt, time.Now().Unix())
	if flash != "" {
		sess.Set(keyFlash, flash)
	}
	return sess.Save()
}

// endSession destroys the session server-side.
func (s *Server) endSession(c *fiber.Ctx) error {
	sess, err := s.sessions.Get(c)
	if err != nil {
		return err
	}
	return sess.Destroy()
}

// setFlash stores a one-time message shown on the next page.
func (s *Server) setFlash(c *fiber.Ctx, msg string) {
	sess, err := s.sessions.Get(c)
	if err != nil {
		s.log.Warn("flash: session", "err", err)
		return
	}
	sess.Set(keyFlash, msg)
	if err := sess.Save(); err != nil {
		s.log.Warn("flash: save", "err", err)
	}
}

// takeFlash returns and clears the pending flash message. It saves the session only when
// there was one, so ordinary pages write nothing.
func (s *Server) takeFlash(c *fiber.Ctx) string {
	if c.Cookies(s.cookieName("session")) == "" {
		return ""
	}
	sess, err := s.sessions.Get(c)
	if err != nil {
		return ""
	}
	msg, _ := sess.Get(keyFlash).(string)
	if msg != "" {
		sess.Delete(keyFlash)
		if err := sess.Save(); err != nil {
			s.log.Warn("flash: save", "err", err)
		}
	}
	return msg
}

// requireOrg lets through requests of a logged-in organization and loads it; others are sent
// to /login (htmx requests get 401 with HX-Redirect, so a poll does not swap in a login page).
func (s *Server) requireOrg(c *fiber.Ctx) error {
	l, err := s.currentLogin(c)
	if err != nil {
		return err
	}
	if l.Role != roleOrg {
		return loginRedirect(c, "/login")
	}
	org, err := s.catalog.LookupID(c.UserContext(), l.OrgID)
	if apperr.Is(err, apperr.NotFound) {
		_ = s.endSession(c)
		return loginRedirect(c, "/login")
	}
	if err != nil {
		return err
	}
	if !sessionCurrent(l.Epoch, org.PasswordHash) {
		// The password changed since this session logged in (ASVS 7.4.3, 8.3.2).
		s.log.Info("session ended: credential changed", "role", roleOrg, "tenant", org.Username, "request_id", requestID(c))
		_ = s.endSession(c)
		return loginRedirect(c, "/login")
	}
	c.Locals(orgLocal, org)
	c.Locals(actorLocal, desk.AsOwner(org.Name))
	c.Locals(viewerLocal, Viewer{Role: roleOrg, OrgName: org.Name, OrgUser: org.Username, Name: org.Name})
	return c.Next()
}

// loginRedirect sends a user who is not logged in to a login page.
func loginRedirect(c *fiber.Ctx, url string) error {
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", url)
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	return c.Redirect(url, fiber.StatusSeeOther)
}

var usernameRE = regexp.MustCompile(`^[a-z0-9]{3,30}$`)

// loadOrg loads the organization named by the :org route parameter; an unknown or malformed
// name is 404 before any database is touched.
func (s *Server) loadOrg(c *fiber.Ctx) error {
	return s.loadOrgThen(c, nil)
}

// loadOrgThen is loadOrg with then run on the organization before the next handler (nil:
// nothing); an error from then answers the request.
func (s *Server) loadOrgThen(c *fiber.Ctx, then func(*catalog.Organization) error) error {
	name := c.Params("org")
	if !isUsername(name) { // usernameRE, by hand (fastcheck.go)
		return fiber.ErrNotFound
	}
	org, err := s.catalog.Lookup(c.UserContext(), name)
	if err != nil {
		return err
	}
	c.Locals(orgLocal, org)
	if then != nil {
		if err := then(org); err != nil {
			return err
		}
	}
	return c.Next()
}

// requireAgent lets through agents logged in to the route's organization and loads the agent;
// anyone else is sent to that organization's agent login. An agent that still holds its
// initial password is sent to set its own.
func (s *Server) requireAgent(c *fiber.Ctx) error {
	if ok, err := s.checkAgent(c); !ok {
		return err
	}
	return c.Next()
}

// checkAgent is requireAgent's check, for the organization already in the request's locals;
// ok is false when it answered the request itself (a redirect to the login).
func (s *Server) checkAgent(c *fiber.Ctx) (ok bool, err error) {
	org := currentOrg(c)
	loginURL := "/agent/" + org.Username + "/login"
	l, err := s.currentLogin(c)
	if err != nil {
		return false, err
	}
	if l.Role != roleAgent || l.OrgID != org.ID {
		return false, loginRedirect(c, loginURL)
	}
	agent, err := s.desk.Agent(c.UserContext(), org, desk.AsSystem(), l.AgentID)
	if apperr.Is(err, apperr.NotFound) {
		_ = s.endSession(c)
		return false, loginRedirect(c, loginURL)
	}
	if err != nil {
		return false, err
	}
	if !sessionCurrent(l.Epoch, agent.PasswordHash) || s.initialPasswordExpired(&agent) {
		// Removed, its password reset or changed elsewhere, or its one-time password expired:
		// the session ends at once (ASVS 7.4.2, 8.3.2).
		s.log.Info("session ended: credential changed", "role", roleAgent, "tenant", org.Username,
			"agent_id", agent.ID, "request_id", requestID(c))
		_ = s.endSession(c)
		return false, loginRedirect(c, loginURL)
	}
	c.Locals(agentLocal, &agent)
	c.Locals(actorLocal, desk.AsAgent(agent))
	c.Locals(viewerLocal, Viewer{Role: roleAgent, OrgName: org.Name, OrgUser: org.Username, Name: agent.FullName,
		Admin: agent.Admin()})
	passwordURL := "/agent/" + org.Username + "/password"
	if agent.MustChangePassword && c.Path() != passwordURL {
		return false, loginRedirect(c, passwordURL)
	}
	return true, nil
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// validToken reports whether s has the shape of a customer token (newToken): 43 characters of
// unpadded base64url, 256 bits. Anything else is 404 before a database is touched.
func validToken(s string) bool { return isToken(s) } // tokenRE, by hand (fastcheck.go)

// loadCustomer loads the route's organization and makes the holder of the URL's ticket token
// the request's actor. A malformed token is 404 before any database is touched; an unknown
// one is 404 from the desk, which looks it up.
func (s *Server) loadCustomer(c *fiber.Ctx) error {
	token := c.Params("token")
	if desk.IsSignedLink(token) {
		// A signed link from an email: the desk checks it against the organization (which
		// loadOrg finds first) and names the customer of its ticket.
		if _, ok := desk.ParseSignedLink(token); !ok {
			return fiber.ErrNotFound
		}
		return s.loadOrgThen(c, func(org *catalog.Organization) error {
			a, err := s.desk.LinkActor(org, token)
			if err != nil {
				return err
			}
			c.Locals(actorLocal, a)
			return nil
		})
	}
	if !validToken(token) {
		return fiber.ErrNotFound
	}
	c.Locals(actorLocal, desk.AsCustomer(sha256.Sum256([]byte(token))))
	return s.loadOrg(c)
}

func currentOrg(c *fiber.Ctx) *catalog.Organization {
	org, _ := c.Locals(orgLocal).(*catalog.Organization)
	return org
}

func currentAgent(c *fiber.Ctx) *desk.Agent {
	a, _ := c.Locals(agentLocal).(*desk.Agent)
	return a
}

// actor is who the request acts as, as its session or token proved (desk.AsPublic when
// neither did).
func actor(c *fiber.Ctx) desk.Actor {
	if a, ok := c.Locals(actorLocal).(desk.Actor); ok {
		return a
	}
	return desk.AsPublic()
}
