// Command tenantdesk is a multitenant customer-support helpdesk in one binary: every
// organization that registers gets its own libSQL database.
//
//	tenantdesk [serve]     serve the web app (default)
//	tenantdesk healthcheck exit 0 when the local server answers /healthz (for containers)
//	tenantdesk migrate | tenants list|check|delete|import | backup | restore
//	                       operator commands on every tenant database (sql/fleet; -h lists them)
//
// Configuration comes from environment variables; see README.md.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/storage/sqlite3/v2"

	"github.com/tenantdesk/tenantdesk/handlers"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/fileperm"
	"github.com/tenantdesk/tenantdesk/sql/fleet"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// Config is everything the environment sets.
type Config struct {
	Addr           string
	DataDir        string
	SessionSecret  string
	TenantBackend  string
	AppName        string
	MaxOpenTenants int
	SecureCookies  bool
	TrustedProxies []string
	RateLimit      int
	// SendLimit: messages per minute per agent or customer ticket (SEND_LIMIT).
	SendLimit int
	// APIRateLimit: API requests per minute per API token (API_RATE_LIMIT).
	APIRateLimit int
	// WebhookAllowPrivate lets webhook deliveries go to loopback and private networks, for
	// receivers on the same premises (WEBHOOK_ALLOW_PRIVATE).
	WebhookAllowPrivate bool
	// PublicURL is the base URL people reach the app at (PUBLIC_URL); state-changing requests
	// from any other origin are refused.
	PublicURL string
	// LoginFailureLimit: wrong passwords per account per 15 minutes (LOGIN_FAILURE_LIMIT).
	LoginFailureLimit int
	// MaxAttachmentMB bounds one attached file (MAX_ATTACHMENT_MB); AttachmentQuotaMB all the
	// files of one organization (ATTACHMENT_QUOTA_MB, 0: no bound).
	MaxAttachmentMB, AttachmentQuotaMB int
	LogLevel                           slog.Level
	// Operations (main_ops.go): METRICS_ADDR, LOG_FORMAT, SHUTDOWN_DELAY.
	MetricsAddr   string
	LogJSON       bool
	ShutdownDelay time.Duration
	// bcryptCost overrides the password hashing cost; tests only (0: the handlers' default).
	bcryptCost int

	// Email (main_email.go): SMTP_URL, MAIL_FROM, MAIL_DOMAIN, INBOUND_SMTP_ADDR, MAX_EMAIL_MB.
	SMTPURL         string
	MailFrom        string
	MailDomain      string
	InboundSMTPAddr string
	MaxEmailMB      int

	// Remote tenant databases (TENANT_BACKEND sqld or turso) and the catalog on Turso.
	SqldAdminURL       string
	SqldAdminKey       string
	SqldDBURL          string
	SyncInterval       time.Duration
	TursoDBURL         string
	TursoDBAuthToken   string
	TursoAPIURL        string
	TursoAPIToken      string
	AppOrganization    string
	AppGroup           string
	AppPrimaryLocation string
}

var appNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// configFromEnv reads Config from the environment (getenv), applying the defaults.
func configFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:          ":" + or(getenv("PORT"), "3000"),
		DataDir:       or(getenv("DATA_DIR"), "./data"),
		SessionSecret: getenv("SESSION_SECRET"),
		PublicURL:     strings.TrimRight(getenv("PUBLIC_URL"), "/"),
		TenantBackend: or(getenv("TENANT_BACKEND"), "local"),
		AppName:       or(getenv("APP_NAME"), "tenantdesk"),
		RateLimit:     20,
		SendLimit:     60,
		APIRateLimit:  600,
		// OWASP's authentication guidance: lock an account's password checks after about
		// ten failures, for a period short enough that its owner is not locked out for long.
		LoginFailureLimit: 10,
		MaxAttachmentMB:   10,
		AttachmentQuotaMB: 1024,

		SqldAdminURL:       getenv("SQLD_ADMIN_URL"),
		SqldAdminKey:       getenv("SQLD_ADMIN_KEY"),
		SqldDBURL:          getenv("SQLD_DB_URL"),
		SyncInterval:       3 * time.Second,
		TursoDBURL:         getenv("TURSO_DB_URL"),
		TursoDBAuthToken:   getenv("TURSO_DB_AUTH_TOKEN"),
		TursoAPIURL:        or(getenv("TURSO_API_URL"), "https://api.turso.tech"),
		TursoAPIToken:      getenv("TURSO_API_TOKEN"),
		AppOrganization:    getenv("APP_ORGANIZATION"),
		AppGroup:           or(getenv("APP_GROUP"), "default"),
		AppPrimaryLocation: getenv("APP_PRIMARY_LOCATION"),
	}
	if a := getenv("ADDR"); a != "" {
		c.Addr = a
	}
	var err error
	if v := getenv("MAX_OPEN_TENANTS"); v != "" {
		if c.MaxOpenTenants, err = strconv.Atoi(v); err != nil || c.MaxOpenTenants < 1 {
			return c, fmt.Errorf("MAX_OPEN_TENANTS must be a positive integer, got %q", v)
		}
	} else {
		c.MaxOpenTenants = defaultMaxOpenTenants()
		if c.TenantBackend != "local" {
			// Every open replica may hold a connection on the server (sqld allows 128).
			c.MaxOpenTenants = min(c.MaxOpenTenants, 64)
		}
	}
	if v := getenv("SYNC_INTERVAL"); v != "" {
		if c.SyncInterval, err = time.ParseDuration(v); err != nil || c.SyncInterval < 100*time.Millisecond {
			return c, fmt.Errorf("SYNC_INTERVAL must be a duration of at least 100ms, e.g. 3s; got %q", v)
		}
	}
	if v := getenv("RATE_LIMIT"); v != "" {
		if c.RateLimit, err = strconv.Atoi(v); err != nil || c.RateLimit < 0 {
			return c, fmt.Errorf("RATE_LIMIT must be 0 (off) or a positive integer, got %q", v)
		}
	}
	if v := getenv("SEND_LIMIT"); v != "" {
		if c.SendLimit, err = strconv.Atoi(v); err != nil || c.SendLimit < 0 {
			return c, fmt.Errorf("SEND_LIMIT must be 0 (off) or a positive integer, got %q", v)
		}
	}
	if v := getenv("API_RATE_LIMIT"); v != "" {
		if c.APIRateLimit, err = strconv.Atoi(v); err != nil || c.APIRateLimit < 0 {
			return c, fmt.Errorf("API_RATE_LIMIT must be 0 (off) or a positive integer, got %q", v)
		}
	}
	if v := getenv("LOGIN_FAILURE_LIMIT"); v != "" {
		if c.LoginFailureLimit, err = strconv.Atoi(v); err != nil || c.LoginFailureLimit < 0 {
			return c, fmt.Errorf("LOGIN_FAILURE_LIMIT must be 0 (off) or a positive integer, got %q", v)
		}
	}
	if v := getenv("WEBHOOK_ALLOW_PRIVATE"); v != "" {
		if c.WebhookAllowPrivate, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("WEBHOOK_ALLOW_PRIVATE must be true or false, got %q", v)
		}
	}
	if v := getenv("MAX_ATTACHMENT_MB"); v != "" {
		if c.MaxAttachmentMB, err = strconv.Atoi(v); err != nil || c.MaxAttachmentMB < 1 || c.MaxAttachmentMB > 1024 {
			return c, fmt.Errorf("MAX_ATTACHMENT_MB must be a whole number of megabytes from 1 to 1024, got %q", v)
		}
	}
	if v := getenv("ATTACHMENT_QUOTA_MB"); v != "" {
		if c.AttachmentQuotaMB, err = strconv.Atoi(v); err != nil || c.AttachmentQuotaMB < 0 || c.AttachmentQuotaMB > 1<<30 {
			return c, fmt.Errorf("ATTACHMENT_QUOTA_MB must be 0 (no quota) or a whole number of megabytes, got %q", v)
		}
	}
	if v := getenv("SECURE_COOKIES"); v != "" {
		if c.SecureCookies, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("SECURE_COOKIES must be true or false, got %q", v)
		}
	}
	if v := getenv("TRUSTED_PROXIES"); v != "" {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
		}
		if err := handlers.CheckTrustedProxies(c.TrustedProxies); err != nil {
			return c, err
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(or(getenv("LOG_LEVEL"), "info"))); err != nil {
		return c, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	if err := c.readOperations(getenv); err != nil {
		return c, err
	}
	if err := c.readEmail(getenv); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate checks the configuration before anything is opened.
func (c Config) Validate() error {
	switch c.TenantBackend {
	case "local":
	case "sqld":
		if c.SqldAdminURL == "" || c.SqldDBURL == "" {
			return errors.New("TENANT_BACKEND=sqld needs SQLD_ADMIN_URL (the admin API) and SQLD_DB_URL " +
				"(e.g. http://{name}.db.internal:8080)")
		}
		if !strings.Contains(c.SqldDBURL, "{name}") {
			return fmt.Errorf("SQLD_DB_URL %q must contain {name}, the namespace", c.SqldDBURL)
		}
	case "turso":
		if c.TursoAPIToken == "" || c.AppOrganization == "" {
			return errors.New("TENANT_BACKEND=turso needs TURSO_API_TOKEN and APP_ORGANIZATION")
		}
		if err := c.validateTursoNames(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("TENANT_BACKEND %q: want local, sqld or turso", c.TenantBackend)
	}
	if c.TursoDBURL == "" && c.TursoDBAuthToken != "" {
		return errors.New("TURSO_DB_AUTH_TOKEN is set but TURSO_DB_URL is not")
	}
	if !appNameRE.MatchString(c.AppName) {
		return fmt.Errorf("APP_NAME %q must be 1–32 lower-case letters, digits and dashes", c.AppName)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("ADDR/PORT %q: %w", c.Addr, err)
	}
	if c.DataDir == "" {
		return errors.New("DATA_DIR must not be empty")
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("PUBLIC_URL %q must be an http(s) URL such as https://help.example.com", c.PublicURL)
		}
	}
	return c.validateEmail()
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// defaultMaxOpenTenants sizes the open-database bound from the file-descriptor limit: each open
// tenant holds about three descriptors, and a quarter of the limit stays for sockets.
func defaultMaxOpenTenants() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 256
	}
	n := int(lim.Cur) * 3 / 4 / 3
	return max(16, min(n, 2000))
}

// raiseFileLimit lifts the soft descriptor limit to the hard one: many open tenants need it.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

func main() {
	// go-libsql needs GODEBUG=invalidptr=0, or an empty BLOB read while the GC shrinks a stack
	// aborts the process; this re-executes the binary with it (sql/sqlite/godebug.go).
	sqlite.EnsureGODEBUG()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cmd := "serve"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	var err error
	switch cmd {
	case "serve":
		raiseFileLimit()
		var cfg Config
		if cfg, err = configFromEnv(os.Getenv); err == nil {
			log = newLogger(os.Stderr, cfg)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			err = serve(ctx, cfg, log, nil)
			stop()
		}
	case "healthcheck":
		err = healthcheck(os.Getenv)
	case "migrate", "tenants", "backup", "restore":
		raiseFileLimit()
		var cfg Config
		if cfg, err = configFromEnv(os.Getenv); err == nil {
			log = newLogger(os.Stderr, cfg)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			err = runFleet(ctx, cfg, log, os.Args[1:])
			stop()
		}
	case "-h", "--help", "help":
		fmt.Println("usage: tenantdesk [serve|healthcheck]\nConfiguration comes from the environment; see README.md.")
		fmt.Print("\n" + fleet.Usage)
		return
	default:
		err = fmt.Errorf("unknown command %q (want serve, healthcheck, migrate, tenants, backup or restore)", cmd)
	}
	if err != nil {
		log.Error("tenantdesk", "err", err)
		os.Exit(1)
	}
}

// App is tenantdesk wired together: the catalog, the tenant registry and, for the server, the
// desk service, the session storage and the HTTP server. The server and the operator commands
// are wired by the same openApp.
type App struct {
	Catalog *catalog.Store
	Tenants *tenantdb.Registry
	Desk    *desk.Service
	Server  *handlers.Server
	// CatalogFrom and CatalogTo are the catalog's schema versions before and after openApp
	// migrated it.
	CatalogFrom, CatalogTo uint

	sessions *sqlite3.Storage
	// catalogSync counts the syncs of the catalog's replica (a Turso catalog), for /metrics.
	catalogSync *tenantdb.SyncStats
	closers     []func() // run in reverse order by Close
}

// Close closes everything the App opened, the last opened first.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// openApp opens the catalog (migrated to the newest schema) and the tenant registry on
// TENANT_BACKEND. Embedded replicas (a Turso catalog, sqld/turso tenants) live under
// replicaDir's catalog-replica/ and replicas/.
func openApp(cfg Config, log *slog.Logger, replicaDir string) (_ *App, err error) {
	// Databases hold password hashes and conversations: owner-only, whatever the umask.
	fileperm.Restrict()
	if err := fileperm.MkdirAll(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("DATA_DIR: %w", err)
	}
	a := &App{}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	// The catalog is opened first: go-libsql must make the first SQLite connection in the
	// process, before the session storage (mattn/go-sqlite3 on the same engine) does.
	var catalogSync *tenantdb.SyncStats // the catalog replica's syncs, for /metrics
	if cfg.TursoDBURL != "" {
		catalogSync = tenantdb.NewSyncStats("catalog")
	}
	a.catalogSync = catalogSync
	catDB, closeCatalog, err := openCatalog(cfg, log, replicaDir, catalogSync)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	a.closers = append(a.closers, closeCatalog)
	a.CatalogFrom, _ = schema.Current(catDB)
	if a.CatalogTo, err = schema.Up(catDB, sub(migrationsFS, "sql/migrations/catalog")); err != nil {
		return nil, fmt.Errorf("catalog migrations: %w", err)
	}
	a.Catalog = catalog.New(catDB)
	secret, err := sessionSecret(cfg)
	if err != nil {
		return nil, err
	}
	if a.Tenants, err = openRegistry(cfg, a.Catalog, secret, log, replicaDir); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.Tenants.Close)
	return a, nil
}

// open wires the server: openApp, then the desk service, the session storage and the HTTP
// layer.
func open(cfg Config, log *slog.Logger) (_ *App, err error) {
	a, err := openApp(cfg, log, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	secret, err := sessionSecret(cfg)
	if err != nil {
		return nil, err
	}
	// Webhook signing secrets are sealed with a key derived from the session secret: they
	// open after a restart, and only with that secret.
	secretKey, err := tenantdb.SecretKey(secret)
	if err != nil {
		return nil, err
	}
	secrets, err := tenantdb.NewSealer(secretKey)
	if err != nil {
		return nil, err
	}
	a.Desk = desk.New(desk.Config{Registry: a.Tenants, Catalog: a.Catalog, Log: log, StateTTL: stateTTL(cfg), Secrets: secrets,
		Files: desk.FileLimits{MaxFileBytes: int64(cfg.MaxAttachmentMB) << 20, QuotaBytes: int64(cfg.AttachmentQuotaMB) << 20}})
	a.closers = append(a.closers, a.Desk.Close)
	sessionsPath := filepath.Join(cfg.DataDir, "sessions.db")
	if err := fileperm.Touch(sessionsPath); err != nil { // SQLite gives -wal and -shm its mode
		return nil, fmt.Errorf("sessions: %w", err)
	}
	a.sessions = sqlite3.New(sqlite3.Config{
		// WAL with synchronous=NORMAL: a crash of the machine (not of the process) may lose
		// the last session updates, never corrupt them.
		Database:   "file:" + sessionsPath + "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=5000",
		Table:      "sessions",
		GCInterval: 10 * time.Minute,
		// One connection: concurrent writers then queue in Go instead of in SQLite's busy
		// handler, which sleeps up to 100 ms between retries. Most reads are served by the
		// session cache (handlers/sessioncache.go).
		MaxOpenConns:    1,
		MaxIdleConns:    1,
		ConnMaxLifetime: time.Hour,
	})
	a.closers = append(a.closers, func() { a.sessions.Close() })
	if err := enableEmail(cfg, a.Desk, secret, log); err != nil {
		return nil, err
	}
	// The backend's own start-up check (a Turso group that exists) and the retries of
	// deletions left pending; a server does not start on a backend it cannot use.
	if err := a.Tenants.Start(context.Background(), 0); err != nil {
		return nil, err
	}
	a.Server, err = handlers.New(handlers.Config{
		AppName:             cfg.AppName,
		MaxUsernameLength:   cfg.maxUsernameLength(),
		SecureCookies:       cfg.SecureCookies,
		RateLimit:           cfg.RateLimit,
		SendLimit:           cfg.SendLimit,
		APIRateLimit:        cfg.APIRateLimit,
		WebhookAllowPrivate: cfg.WebhookAllowPrivate,
		PublicURL:           cfg.PublicURL,
		LoginFailureLimit:   cfg.LoginFailureLimit,
		TrustedProxies:      cfg.TrustedProxies,
		CookieSecret:        secret,
		BcryptCost:          cfg.bcryptCost,
	}, handlers.Deps{
		Catalog:  a.Catalog,
		Desk:     a.Desk,
		Sessions: a.sessions,
		Views:    sub(viewsFS, "views"),
		Assets:   sub(assetsFS, "assets"),
		Log:      log,
		Replicas: a.catalogSync,
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// stateTTL bounds how long the desk uses tenant state it keeps in memory without reading it
// again. What this process writes, and what others write to a local file in use, is seen at
// once; a replica that is not open cannot be watched, so remote backends (and a catalog on
// Turso) use the sync interval.
func stateTTL(cfg Config) time.Duration {
	if cfg.TenantBackend != "local" || cfg.TursoDBURL != "" {
		return cfg.SyncInterval
	}
	return time.Minute
}

// openCatalog opens the catalog: a local file under DATA_DIR, or, when TURSO_DB_URL is set, an
// embedded replica of it (with TURSO_DB_AUTH_TOKEN) under replicaDir/catalog-replica/, whose
// syncs stats counts (nil: not counted).
func openCatalog(cfg Config, log *slog.Logger, replicaDir string, stats *tenantdb.SyncStats) (*sql.DB, func(), error) {
	if cfg.TursoDBURL == "" {
		// One connection, taken in arrival order (sql/sqlite/shared.go): the catalog's writers
		// (registrations, the migration locks of many workers, wake-ups) queue in Go rather
		// than in SQLite's busy handler, which gives up after busy_timeout on a loaded
		// machine; its reads are few (lookups are cached).
		db, err := sqlite.Open(filepath.Join(cfg.DataDir, "catalog.db"), 1)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	}
	// The first open downloads the whole catalog: give it longer than a tenant's.
	rc := tenantdb.ReplicaConfig{SyncInterval: cfg.SyncInterval, OpenTimeout: time.Minute, MaxConns: 2, Log: log,
		Stats: stats}
	path := filepath.Join(replicaDir, "catalog-replica", "catalog.db")
	db, err := tenantdb.OpenReplica(context.Background(), rc, path, cfg.TursoDBURL, cfg.TursoDBAuthToken)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded replica of TURSO_DB_URL: %w", err)
	}
	return db.SQL(), func() { db.Close() }, nil
}

// openRegistry builds the tenant registry on TENANT_BACKEND. Remote backends keep their
// embedded replicas under replicaDir/replicas/ and seal tenant credentials with a key derived
// from the session secret.
func openRegistry(cfg Config, cat *catalog.Store, secret []byte, log *slog.Logger, replicaDir string) (*tenantdb.Registry, error) {
	replicas := tenantdb.ReplicaConfig{Dir: filepath.Join(replicaDir, "replicas"), SyncInterval: cfg.SyncInterval, Log: log}
	var backend tenantdb.Backend
	var err error
	switch cfg.TenantBackend {
	case "sqld":
		backend, err = tenantdb.NewSqld(tenantdb.SqldConfig{AdminURL: cfg.SqldAdminURL, AdminKey: cfg.SqldAdminKey,
			DBURL: cfg.SqldDBURL, Replicas: replicas})
	case "turso":
		backend, err = tenantdb.NewTurso(tenantdb.TursoConfig{APIURL: cfg.TursoAPIURL, APIToken: cfg.TursoAPIToken,
			Organization: cfg.AppOrganization, Group: cfg.AppGroup, Location: cfg.AppPrimaryLocation,
			Replicas: replicas, Log: log})
	default:
		backend = tenantdb.Local{Dir: cfg.DataDir}
	}
	if err != nil {
		return nil, err
	}
	key, err := tenantdb.CredentialKey(secret)
	if err != nil {
		return nil, err
	}
	sealer, err := tenantdb.NewSealer(key)
	if err != nil {
		return nil, err
	}
	return tenantdb.New(tenantdb.Config{Backend: backend, Catalog: cat,
		Migrations: sub(migrationsFS, "sql/migrations/tenant"), MaxOpen: cfg.MaxOpenTenants, Log: log, Sealer: sealer})
}

// runFleet runs an operator command (sql/fleet) on the same configuration as the server.
func runFleet(ctx context.Context, cfg Config, log *slog.Logger, args []string) error {
	return fleet.Main(ctx, args, fleet.Env{
		Open:       func() (*fleet.Fleet, func(), error) { return openFleet(cfg, log) },
		DataDir:    cfg.DataDir,
		Backend:    cfg.TenantBackend,
		AppName:    cfg.AppName,
		SecretFile: filepath.Join(cfg.DataDir, "session.secret"),
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Log:        log,
	})
}

// openFleet wires the operator commands: openApp, with embedded replicas in a directory of this
// process's own, because a running server holds its replicas' files and two connectors must
// never share them.
func openFleet(cfg Config, log *slog.Logger) (*fleet.Fleet, func(), error) {
	own := filepath.Join(cfg.DataDir, "maintenance", strconv.Itoa(os.Getpid()))
	a, err := openApp(cfg, log, own)
	if err != nil {
		os.RemoveAll(own)
		return nil, nil, err
	}
	f := &fleet.Fleet{Catalog: a.Catalog, Tenants: a.Tenants, Backend: cfg.TenantBackend, DataDir: cfg.DataDir,
		AppName: cfg.AppName, CatalogFrom: a.CatalogFrom, CatalogTo: a.CatalogTo, Log: log}
	return f, func() { a.Close(); os.RemoveAll(own) }, nil
}

// serve runs the server until ctx is cancelled, then shuts down gracefully: readiness fails
// first, in-flight requests finish (bounded), and every database is closed. If ln is nil it
// listens on cfg.Addr.
func serve(ctx context.Context, cfg Config, log *slog.Logger, ln net.Listener) error {
	app, err := open(cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	stopMetrics, err := startMetrics(cfg, app.Server, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	stopInbound, err := startInbound(cfg, app, log)
	if err != nil {
		return err
	}
	defer stopInbound()
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return err
		}
	}
	log.Info("tenantdesk serving", "addr", ln.Addr().String(), "data_dir", cfg.DataDir,
		"backend", cfg.TenantBackend, "max_open_tenants", cfg.MaxOpenTenants)
	errc := make(chan error, 1)
	go func() { errc <- app.Server.App().Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	app.Server.SetReady(false)
	if cfg.ShutdownDelay > 0 {
		// Still serving, /readyz answering 503: a load balancer stops sending new requests.
		time.Sleep(cfg.ShutdownDelay)
	}
	if err := app.Server.App().ShutdownWithTimeout(20 * time.Second); err != nil {
		log.Error("shutdown", "err", err)
	}
	return nil
}

// sessionSecret returns SESSION_SECRET, or the secret stored under DATA_DIR, generating and
// storing one on first start. It is hashed to the 32-byte key that encrypts cookies.
func sessionSecret(cfg Config) ([]byte, error) {
	secret := cfg.SessionSecret
	if secret == "" {
		path := filepath.Join(cfg.DataDir, "session.secret")
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			secret = strings.TrimSpace(string(b))
		case errors.Is(err, fs.ErrNotExist):
			secret = rand.Text() + rand.Text()
			if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("storing the session secret: %w", err)
			}
		default:
			return nil, fmt.Errorf("reading the session secret: %w", err)
		}
	}
	if len(secret) < 16 {
		return nil, errors.New("SESSION_SECRET must be at least 16 characters")
	}
	key := sha256.Sum256([]byte("tenantdesk cookie key\x00" + secret))
	return key[:], nil
}

// healthcheck asks the local server's /healthz; it is the container HEALTHCHECK.
func healthcheck(getenv func(string) string) error {
	url := "http://127.0.0.1:" + or(getenv("PORT"), "3000") + "/healthz"
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %d", resp.StatusCode)
	}
	return nil
}
