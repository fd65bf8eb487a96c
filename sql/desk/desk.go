// Package desk is the one door into a tenant's helpdesk data: its agents, the tickets customers
// open, the conversations agents hold on them and their messages. Every read and write of a
// tenant's data goes through a Service method that names the tenant (the organization the
// caller authenticated) and the Actor doing it; the Service decides in one place (allow) what
// that actor may see and do, runs the statements, keeps the state that the hot paths answer
// from (a message poll that finds nothing new reads no database), and publishes every change
// on a feed that any part of the process can subscribe to.
//
// It sits above tenantdb (which opens databases) and below the HTTP handlers (which parse
// input, call one method and render). It returns apperr kinds and codes, never text for
// people.
package desk

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/lru"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// Config is what New needs.
type Config struct {
	Registry *tenantdb.Registry
	// Catalog records when tenants have something due (snoozed tickets); nil runs no
	// scheduler (operator commands, tests of other parts).
	Catalog *catalog.Store
	Log     *slog.Logger
	// StateTTL bounds how long state read from a tenant database is used from memory. What
	// this process writes is seen at once, and what others write to a database in use is seen
	// within about WatchInterval (watch.go); the bound covers what cannot be watched — a
	// replica that is not open — so set it to the sync interval on a remote backend. Default
	// one minute.
	StateTTL time.Duration
	// WatchInterval is how often the databases of tenants in use are asked whether something
	// else changed them. Default 1 s.
	WatchInterval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// OutboxWorkers is how many outbox items are delivered at once (default 8).
	OutboxWorkers int
	// Secrets seals the secrets the desk keeps for later use (webhook signing secrets). Nil
	// gives a key of the process's own, which a restart loses: the binary passes one derived
	// from its secret.
	Secrets *tenantdb.Sealer
	// Files bounds the attachments stored (FileLimits' defaults when zero).
	Files FileLimits
}

// Service is the desk of every tenant of this process.
type Service struct {
	reg   *tenantdb.Registry
	cat   *catalog.Store
	log   *slog.Logger
	now   func() time.Time
	ttl   time.Duration
	every time.Duration
	files FileLimits

	feed     feed
	tenants  *lru.Cache[Tenant, *tenantState]
	c        caches
	presence *lru.Cache[ticketKey, *presenceSet]
	tokens   apiTokens
	secrets  *tenantdb.Sealer

	// active holds the tenants whose cached state was used recently: the watcher asks their
	// databases for changes made elsewhere (watch.go).
	activeMu sync.Mutex
	active   map[*tenantState]struct{}

	// mail is the email channel (mail.go), nil while email is off; polls holds a slot per
	// IMAP poll under way (mailbox.go), pollers waits for them and for the sign-in emails
	// being written (portal.go).
	mail      *mailer
	polls     chan struct{}
	pollers   sync.WaitGroup
	pollsDone atomic.Int64
	// outbox delivers what changes enqueue (outbox.go); producers turn changes into items.
	outbox      *outbox
	producersMu sync.RWMutex
	producers   []producer

	stop      chan struct{}
	stopOnce  sync.Once
	done      chan struct{}
	scheduled chan struct{} // closed when the scheduler stopped
}

// cacheTenants bounds the tenants whose runtime state (generation, group commit) is kept;
// dropping one only costs its cached answers.
const cacheTenants = 65536

// New returns a Service on the registry and starts its watcher; Close stops it.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = time.Minute
	}
	if cfg.WatchInterval <= 0 {
		cfg.WatchInterval = time.Second
	}
	if cfg.OutboxWorkers <= 0 {
		cfg.OutboxWorkers = 8
	}
	s := &Service{
		reg: cfg.Registry, cat: cfg.Catalog, log: cfg.Log, now: cfg.Now, ttl: cfg.StateTTL, every: cfg.WatchInterval,
		files:     cfg.Files.withDefaults(),
		tenants:   lru.New[Tenant, *tenantState](cacheTenants),
		c:         newCaches(),
		presence:  lru.New[ticketKey, *presenceSet](cachePresence),
		active:    map[*tenantState]struct{}{},
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		scheduled: make(chan struct{}),
		outbox:    newOutbox(cfg.OutboxWorkers),
		secrets:   cfg.Secrets,
		polls:     make(chan struct{}, maxPolls),
	}
	if s.secrets == nil {
		key := make([]byte, 32)
		rand.Read(key)
		s.secrets, _ = tenantdb.NewSealer(key) // 32 bytes: never fails
	}
	s.addProducer(s.webhookProducer)
	for range cfg.OutboxWorkers {
		s.outbox.workers.Add(1)
		go s.deliverLoop()
	}
	go s.tick(s.done, s.probe)
	go s.schedule()
	return s
}

// Close stops the watcher, the scheduler and the outbox's workers: deliveries under way are
// cancelled and their items released for the next start. The registry is closed by its
// owner, after.
func (s *Service) Close() {
	s.stopOnce.Do(func() {
		s.outbox.cancel()
		close(s.stop)
	})
	<-s.done
	<-s.scheduled
	s.outbox.workers.Wait()
	s.pollers.Wait()
}

// Subscribe returns a subscription to every change published from now on, with room for
// buffer events that its receiver has not taken yet.
func (s *Service) Subscribe(buffer int) *Subscription { return s.feed.subscribe(buffer) }

// Registry returns the tenant registry the Service reads and writes through.
func (s *Service) Registry() *tenantdb.Registry { return s.reg }

// tenantOf names org's incarnation.
func tenantOf(org *catalog.Organization) Tenant { return Tenant{Name: org.DBName, OrgID: org.ID} }

// seq numbers generations process-wide, so that a generation value is never reused, not even
// by a tenant state that was dropped and made again.
var seq atomic.Uint64

// tenantState is what the Service keeps per tenant between calls.
type tenantState struct {
	t Tenant
	// gen is the generation cached answers are stamped with: it moves on every write except
	// adding a message, and when the watcher sees a change made elsewhere.
	gen atomic.Uint64
	// appends moves on every message added (those keep cached answers current in place).
	appends atomic.Uint64
	// adds batches this tenant's concurrent message inserts into one commit.
	adds groupCommit
	// settings is the organization's settings, read at a generation: every page and every
	// poll that has something to show formats times in its zone.
	settings atomic.Pointer[stamped[Settings]]
	// mail is the organization's email settings, read at a generation (mail.go).
	mail atomic.Pointer[stamped[orgMail]]
	// used is when the cached state was last used (Unix nanoseconds); watched marks
	// membership of Service.active.
	used    atomic.Int64
	watched atomic.Bool
	// version is what the registry's Changes said when the watch began (the first look, or
	// the first read of the database before it: takeBaseline) or at the last look; baseline
	// says whether there is one. based mirrors baseline for store's check without the lock.
	watchMu  sync.Mutex
	version  uint64
	baseline bool
	based    atomic.Bool
	// wakeDue and wakeTouched are the outbox wake-up this process last recorded in the
	// catalog for the tenant, and when (outboxWake).
	wakeMu      sync.Mutex
	wakeDue     time.Time
	wakeTouched time.Time
}

// bump starts a new generation: everything cached about the tenant is read again.
func (ts *tenantState) bump() { ts.gen.Store(seq.Add(1)) }

// tenant returns org's state, making it on first use.
func (s *Service) tenant(org *catalog.Organization) *tenantState {
	t := tenantOf(org)
	if ts, ok := s.tenants.Get(t); ok {
		return ts
	}
	var out *tenantState
	s.tenants.Update(t, func(old *tenantState, ok bool) (*tenantState, bool) {
		if ok {
			out = old
			return old, true
		}
		out = &tenantState{t: t}
		out.bump()
		out.adds.added = func(m Message, changed bool, by Actor) { s.added(out, m, changed, by) }
		return out, true
	})
	return out
}

// forget drops everything known about org (it was deleted).
func (s *Service) forget(org *catalog.Organization) {
	t := tenantOf(org)
	if ts, ok := s.tenants.Get(t); ok {
		ts.bump()
	}
	s.tenants.Remove(t)
	s.c.forget(t)
}

// store opens org's database for one call; release returns it.
func (s *Service) store(ctx context.Context, org *catalog.Organization, ts *tenantState) (st *store, release func(), err error) {
	h, err := s.reg.Acquire(ctx, *org)
	if err != nil {
		return nil, nil, err
	}
	if !ts.based.Load() {
		s.takeBaseline(ctx, ts)
	}
	return &store{db: h.DB, now: s.now, adds: &ts.adds}, h.Release, nil
}

// takeBaseline records what the registry's Changes says of ts's database before a read whose
// result may be cached, when the watch has no baseline yet. The watcher's first look then
// compares with it, so the first state cached of a tenant is not thrown away by that look;
// a change after this moment still moves the generation at the next look. Without it (an
// error here), the first look starts a new generation, as it must.
func (s *Service) takeBaseline(ctx context.Context, ts *tenantState) {
	v, err := s.reg.Changes(ctx, ts.t.Name)
	if err != nil {
		return
	}
	ts.watchMu.Lock()
	if !ts.baseline {
		ts.version, ts.baseline = v, true
		ts.based.Store(true)
	}
	ts.watchMu.Unlock()
}

// changed records a committed write other than a message append and publishes e.
func (s *Service) changed(ts *tenantState, e Event) {
	ts.bump()
	e.Tenant = ts.t
	s.feed.publish(e)
}
