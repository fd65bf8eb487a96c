// Package handlers is tenantdesk's HTTP layer: every route, page and htmx fragment. Handlers
// parse input, make one call to the desk service (sql/desk) with the actor the request
// authenticated, and render; the tenant a request works on comes only from the session or the
// customer's token, never from a form field.
package handlers

import (
	"crypto/rand"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/session"
	"github.com/gofiber/template/html/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// Config holds the HTTP layer's settings. Zero values are replaced by Defaults.
type Config struct {
	// AppName prefixes every tenant database name: <AppName>-<username>.
	AppName string
	// MaxUsernameLength is the longest username a new organization may take, at most 30
	// (the default): a tenant backend may allow fewer (Turso's host names).
	MaxUsernameLength int
	// SecureCookies marks cookies Secure and gives them the __Host- prefix; set it when the
	// site is served over HTTPS (directly or behind a proxy).
	SecureCookies bool
	// BodyLimit bounds a request body in bytes (413 above it).
	BodyLimit int
	// MessageLimit bounds a chat message or ticket question in characters (422 above it).
	MessageLimit int
	// BcryptCost is the cost of new password hashes.
	BcryptCost int
	// PollInterval is how often message lists ask for new messages.
	PollInterval time.Duration
	// SessionIdle ends a session unused this long; SessionAbsolute ends any session this long
	// after login.
	SessionIdle, SessionAbsolute time.Duration
	// RateLimit is how many login, registration and ticket-opening POSTs one client address,
	// and separately one account, may make per RateWindow on one route; 0 disables both.
	RateLimit  int
	RateWindow time.Duration
	// SendLimit is how many messages one agent, or one customer's ticket, may send per
	// RateWindow, from however many addresses; 0 disables it (the binary's default is 60).
	SendLimit int
	// PublicURL is the base URL people reach the app at; when set, a state-changing request
	// whose Origin is another one is refused (otherwise the request's own host must match).
	PublicURL string
	// LoginFailureLimit is how many wrong passwords one account may be sent per
	// LoginFailureWindow (default 15 minutes) before its password checks answer 429, from any
	// address; 0 disables it (ratelimit.go).
	LoginFailureLimit  int
	LoginFailureWindow time.Duration
	// CookieSecret is the 32-byte key that encrypts cookie values; random when nil.
	CookieSecret []byte
	// TrustedProxies lists proxy addresses whose X-Forwarded-For / X-Forwarded-Proto are
	// believed; empty means none are.
	TrustedProxies []string
	// InitialPasswordTTL is how long an agent's one-time password (onboarding or reset) logs
	// in; after it the organization must issue a new one. Default 7 days.
	InitialPasswordTTL time.Duration
}

// Defaults fills unset fields of c.
func (c Config) withDefaults() Config {
	if c.AppName == "" {
		c.AppName = "tenantdesk"
	}
	if c.MaxUsernameLength <= 0 || c.MaxUsernameLength > maxUsernameLength {
		c.MaxUsernameLength = maxUsernameLength
	}
	if c.BodyLimit == 0 {
		c.BodyLimit = 256 << 10
	}
	if c.MessageLimit == 0 {
		c.MessageLimit = 5000
	}
	if c.BcryptCost == 0 {
		c.BcryptCost = 11
	}
	if c.PollInterval == 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.SessionIdle == 0 {
		c.SessionIdle = 24 * time.Hour
	}
	if c.SessionAbsolute == 0 {
		c.SessionAbsolute = 7 * 24 * time.Hour
	}
	if c.RateWindow == 0 {
		c.RateWindow = time.Minute
	}
	if c.LoginFailureWindow == 0 {
		c.LoginFailureWindow = 15 * time.Minute
	}
	if c.InitialPasswordTTL == 0 {
		c.InitialPasswordTTL = 7 * 24 * time.Hour
	}
	return c
}

// Deps are what the HTTP layer is built on.
type Deps struct {
	Catalog  *catalog.Store
	Desk     *desk.Service
	Sessions fiber.Storage // persistent storage for sessions and rate-limit counters
	Limits   fiber.Storage // optional separate storage for rate-limit counters
	Views    fs.FS         // root holds layouts/, pages/, partials/
	Assets   fs.FS         // served under /assets/
	Log      *slog.Logger
	// Replicas optionally reports the syncs of replicas other than the tenants' (the catalog's,
	// when it is one) for /metrics; the tenant registry's are reported in any case.
	Replicas ReplicaStats
}

// Server holds the stores every handler uses.
type Server struct {
	cfg      Config
	catalog  *catalog.Store
	desk     *desk.Service
	sessions *session.Store
	limits   fiber.Storage // rate-limit counters (ratelimit.go)
	proxies  proxySet      // TRUSTED_PROXIES (clientip.go)
	log      *slog.Logger
	app      *fiber.App
	ready    atomic.Bool
	// sessionCache keeps sessions in memory (sessioncache.go).
	sessionCache *sessionStorage
	// csrfKey signs CSRF tokens (csrf.go); origin is PublicURL's origin, when set.
	csrfKey []byte
	origin  string
	// cookieCrypt decrypts and encrypts cookies on the routes whose kind reads them.
	cookieCrypt fiber.Handler
	routeList   []Route
	// dummyHash is a bcrypt hash of the configured cost for logins of unknown accounts.
	dummyHash []byte
	metrics   *metrics
	// routeKeys is routeSet's "METHOD pattern" set, for metric labels.
	routesOnce sync.Once
	routeKeys  map[string]bool
}

// New builds the Fiber app: templates are parsed here, so a broken template stops the boot.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.withDefaults()
	proxies, err := parseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	engine := html.NewFileSystem(http.FS(deps.Views), ".html")
	engine.AddFuncMap(templateFuncs)
	if err := engine.Load(); err != nil {
		return nil, err
	}
	origin, err := originOf(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	var reg *tenantdb.Registry
	if deps.Desk != nil {
		reg = deps.Desk.Registry()
	}
	escapeAll(engine) // before any concurrent render (templates.go)
	s := &Server{
		cfg:     cfg,
		catalog: deps.Catalog,
		desk:    deps.Desk,
		log:     deps.Log,
		metrics: newMetrics(reg, deps.Replicas),
		proxies: proxies,
		origin:  origin,
	}
	sessionStore := deps.Sessions
	if sessionStore != nil {
		s.sessionCache = newSessionStorage(sessionStore)
		sessionStore = s.sessionCache
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("no account has this password"), cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	s.dummyHash = dummy
	s.sessions = session.New(session.Config{
		Storage:        sessionStore,
		Expiration:     cfg.SessionIdle,
		KeyLookup:      "cookie:" + s.cookieName("session"),
		CookieSecure:   cfg.SecureCookies,
		CookieHTTPOnly: true,
		CookieSameSite: "Lax",
		CookiePath:     "/",
	})
	s.app = fiber.New(fiber.Config{
		Views:                   engine,
		ErrorHandler:            s.handleError,
		BodyLimit:               cfg.BodyLimit,
		ReadTimeout:             15 * time.Second,
		WriteTimeout:            30 * time.Second,
		IdleTimeout:             60 * time.Second,
		DisableStartupMessage:   true,
		EnableTrustedProxyCheck: true,
		// Bodies are read by bodyLimit (every route but an upload's, whole, up to BodyLimit)
		// or streamed by an upload's handler in bounded memory (attachments.go); nothing is
		// parsed or buffered before the handler decides.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		TrustedProxies:               cfg.TrustedProxies,
		// No ProxyHeader: c.IP() stays the connection's peer; the client's address behind
		// a proxy is clientIP's (clientip.go).
	})
	// With streamed bodies, fasthttp reads min(MaxRequestBodySize, Content-Length, 8 KiB) of a
	// body before any handler runs, waiting for them: a request that announces a body over the
	// limit would get its 413 only once 8 KiB arrived. One byte read ahead lets bodyLimit
	// answer from the request head.
	s.app.Server().MaxRequestBodySize = 1
	s.limits = deps.Limits
	if s.limits == nil {
		s.limits = deps.Sessions
	}
	key := s.cookieKey()
	s.cookieCrypt = newCookieCrypt(key)
	s.csrfKey = csrfKey(key)
	s.routes(deps.Assets)
	s.guardHeaders() // answers written before the middleware chain too (headers.go)
	s.ready.Store(true)
	return s, nil
}

// cookieName gives cookies the __Host- prefix when they are Secure: browsers then refuse them
// from sub-domains and over plain HTTP.
func (s *Server) cookieName(name string) string {
	if s.cfg.SecureCookies {
		return "__Host-tenantdesk_" + name
	}
	return "tenantdesk_" + name
}

// App returns the Fiber application, for Listen and for tests.
func (s *Server) App() *fiber.App { return s.app }

// SetReady marks the server ready or not (shutting down); /readyz reports it.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// cookieKey is the configured cookie key, or a random one (sessions then end on restart).
func (s *Server) cookieKey() []byte {
	if len(s.cfg.CookieSecret) == 32 {
		return s.cfg.CookieSecret
	}
	k := make([]byte, 32)
	rand.Read(k)
	return k
}
