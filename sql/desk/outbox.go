package desk

// The outbox: what the desk must deliver outside its database — an email, a webhook call —
// is written as an outbox item in the same transaction as the change that causes it, then
// delivered by a worker. A crash, a restart or an outage of the receiver loses nothing: the
// item waits in the tenant's database until it is delivered or given up.
//
// Where work waits: before a transaction that enqueues an item commits, the catalog's
// wakeups table learns that the tenant has something due (as for snoozed tickets, wake.go),
// so the scheduler asks that one table and never walks the tenants. The process that
// enqueued also starts delivering right after the commit, without waiting for a scheduler
// pass.
//
// Once per instance: a worker claims an item by leasing it in the database (lease_holder,
// lease_until) in the same UPDATE that selects it, so of several instances on one database
// (sqld, Turso) exactly one delivers it, and when an instance dies its leases run out and
// another takes the items over. A delivery that succeeded but whose outcome could not be
// recorded (a crash in between) is delivered again after the lease: delivery is at least
// once, and a receiver recognises the repeat by what the item carries (an email's
// Message-ID, a webhook's event id).
//
// Retries: the first within FirstRetry (30 s), then doubling up to MaxBackoff (1 h), until
// GiveUpAfter (48 h) after the item was written; then the item is failed, with its last error,
// for people to see.
//
// Extending it: a kind of item needs a Sender registered with RegisterSender, and something
// that enqueues it — a producer (addProducer) that turns the desk's changes into items inside
// their transaction, or Enqueue for an item of its own.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// Outbox item states.
const (
	OutboxPending = "pending" // to deliver, at NextAttemptAt
	OutboxSent    = "sent"    // delivered
	OutboxFailed  = "failed"  // given up: a permanent refusal, or GiveUpAfter passed
)

// OutboxItem is one thing to deliver.
type OutboxItem struct {
	ID int64
	// Kind names the Sender that delivers it ("email", "webhook").
	Kind string
	// Key is unique per kind: enqueueing an item whose kind and key are stored already does
	// nothing, so one event gives one delivery per recipient however often it is enqueued.
	Key string
	// Target is whom it goes to (an email address, a URL), for the lists people read.
	Target string
	// TicketID and MessageID say what caused it (0: nothing of the kind).
	TicketID, MessageID int64
	// Payload is what the Sender needs, in its own format; never empty.
	Payload []byte
	// NotBefore delays the first attempt (zero: at once). Only read when enqueueing.
	NotBefore time.Time

	State         string
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// DoneAt is when it was sent or given up.
	DoneAt time.Time
}

// Outcome is what a Sender reports of one delivery attempt.
type Outcome struct {
	// Err is nil when the item was delivered.
	Err error
	// Permanent says the item will never be delivered (a refused address, an invalid
	// payload): it fails at once instead of being tried again.
	Permanent bool
	// RetryAfter is the least wait before the next attempt, when the receiver asked for one;
	// zero leaves it to the backoff.
	RetryAfter time.Duration
}

// Delivered is the Outcome of a successful delivery.
func Delivered() Outcome { return Outcome{} }

// RetryLater is the Outcome of a delivery that may succeed later.
func RetryLater(err error) Outcome { return Outcome{Err: err} }

// GiveUp is the Outcome of a delivery that will never succeed.
func GiveUp(err error) Outcome { return Outcome{Err: err, Permanent: true} }

// Sender delivers the items of one kind. Deliver is called on a worker goroutine with a
// context that ends at the kind's Timeout or when the Service closes; it must return soon
// after. It is called concurrently, for any tenant: org says whose item it is.
type Sender interface {
	Deliver(ctx context.Context, org *catalog.Organization, it OutboxItem) Outcome
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, org *catalog.Organization, it OutboxItem) Outcome

// Deliver calls f.
func (f SenderFunc) Deliver(ctx context.Context, org *catalog.Organization, it OutboxItem) Outcome {
	return f(ctx, org, it)
}

// OutboxPolicy is how a kind's items are retried. Zero fields take the defaults named.
type OutboxPolicy struct {
	// FirstRetry is the wait after the first failed attempt (default 30 s); each further
	// failure doubles it, up to MaxBackoff (default 1 h). Waits are shortened by up to a
	// quarter at random, so that items failed together do not retry together.
	FirstRetry, MaxBackoff time.Duration
	// GiveUpAfter is how long after it was written an item is tried (default 48 h); the last
	// attempt is made then.
	GiveUpAfter time.Duration
	// Timeout bounds one delivery (default 1 min). The lease that claims an item lasts twice
	// as long and half a minute more, so no other instance takes over a delivery under way.
	Timeout time.Duration
}

func (p OutboxPolicy) withDefaults() OutboxPolicy {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&p.FirstRetry, 30*time.Second)
	def(&p.MaxBackoff, time.Hour)
	def(&p.GiveUpAfter, 48*time.Hour)
	def(&p.Timeout, time.Minute)
	return p
}

func (p OutboxPolicy) lease() time.Duration { return 2*p.Timeout + 30*time.Second }

// backoff is the wait after attempt number n (1 for the first) failed.
func (p OutboxPolicy) backoff(n int) time.Duration {
	d := p.FirstRetry
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// Limits of what the outbox stores.
const (
	maxOutboxKind   = 32
	maxOutboxKey    = 500
	maxOutboxTarget = 500
	// maxOutboxError bounds the last error kept (characters).
	maxOutboxError = 1000
	// outboxClaim bounds the items one pass claims in one tenant.
	outboxClaim = 64
	// outboxKeepSent is how long delivered items are kept (for the ticket's delivery list);
	// failed ones stay until someone deals with them.
	outboxKeepSent = 30 * 24 * time.Hour
	// wakeReuse is how long a wake-up this process recorded for a tenant serves later
	// enqueues without another catalog write (see outboxWake).
	wakeReuse = 20 * time.Second
)

// outbox is the Service's delivery machinery.
type outbox struct {
	mu      sync.RWMutex
	senders map[string]registered
	kinds   []string // sorted keys of senders
	lease   time.Duration

	// holder names this Service in leases: random, so that a restarted process does not
	// mistake its predecessor's leases for its own.
	holder string
	// work carries claimed items to the workers; inflight counts those claimed and not yet
	// settled, so that a pass claims no more than the workers can take.
	work     chan delivery
	inflight atomic.Int64
	// kick asks the scheduler to deliver a tenant's items now (after a commit that enqueued).
	kick chan *catalog.Organization
	// ctx ends when the Service closes: deliveries under way are cancelled and released.
	ctx     context.Context
	cancel  context.CancelFunc
	workers sync.WaitGroup
}

type registered struct {
	sender Sender
	policy OutboxPolicy
}

type delivery struct {
	org  *catalog.Organization
	item OutboxItem
	// more says the tenant had more items due than were claimed with this one.
	more bool
}

func newOutbox(workers int) *outbox {
	ctx, cancel := context.WithCancel(context.Background())
	return &outbox{senders: map[string]registered{}, holder: newToken()[:16], work: make(chan delivery, workers),
		kick: make(chan *catalog.Organization, 256), ctx: ctx, cancel: cancel}
}

// RegisterSender makes s deliver the items of kind, retried by p. Register every kind while
// wiring, before the Service serves; registering a kind twice panics.
func (s *Service) RegisterSender(kind string, snd Sender, p OutboxPolicy) {
	if !validKind(kind) || snd == nil {
		panic(fmt.Sprintf("desk: RegisterSender(%q): invalid kind or nil sender", kind))
	}
	o := s.outbox
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.senders[kind]; ok {
		panic(fmt.Sprintf("desk: RegisterSender(%q) twice", kind))
	}
	p = p.withDefaults()
	o.senders[kind] = registered{sender: snd, policy: p}
	o.kinds = append(o.kinds, kind)
	slices.Sort(o.kinds)
	o.lease = max(o.lease, p.lease())
}

func validKind(k string) bool {
	if k == "" || len(k) > maxOutboxKind {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (o *outbox) registered() (kinds []string, lease time.Duration) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.kinds, o.lease
}

func (o *outbox) sender(kind string) (registered, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	r, ok := o.senders[kind]
	return r, ok
}

// ---------------------------------------------------------------------------------------------
// Enqueueing

// checkItem refuses an item the outbox cannot store.
func checkItem(it OutboxItem) error {
	switch {
	case !validKind(it.Kind):
		return fmt.Errorf("desk: outbox item kind %q", it.Kind)
	case it.Key == "" || len(it.Key) > maxOutboxKey || !utf8.ValidString(it.Key) || strings.ContainsRune(it.Key, 0):
		return fmt.Errorf("desk: outbox item key of %d bytes", len(it.Key))
	case len(it.Target) > maxOutboxTarget || !utf8.ValidString(it.Target) || strings.ContainsRune(it.Target, 0):
		return errors.New("desk: outbox item target")
	case len(it.Payload) == 0:
		return errors.New("desk: outbox item without payload")
	}
	return nil
}

// enqueue stores items in q, the transaction of the change that causes them, due at
// NotBefore or now. Items whose kind and key are stored already are skipped. It returns the
// earliest due time of the items stored (zero: none was new).
func enqueue(ctx context.Context, q querier, now time.Time, items []OutboxItem) (time.Time, error) {
	var first time.Time
	for _, it := range items {
		if err := checkItem(it); err != nil {
			return time.Time{}, err
		}
		due := now
		if it.NotBefore.After(now) {
			due = it.NotBefore.UTC().Truncate(time.Second)
		}
		var ticket, message any
		if it.TicketID != 0 {
			ticket = it.TicketID
		}
		if it.MessageID != 0 {
			message = it.MessageID
		}
		res, err := q.ExecContext(ctx, `INSERT INTO outbox (kind, dedupe_key, target, ticket_id, message_id, payload,
			next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, dedupe_key) DO NOTHING`,
			it.Kind, it.Key, it.Target, ticket, message, it.Payload, due.Unix(), now.Unix(), now.Unix())
		if err != nil {
			return time.Time{}, fmt.Errorf("desk: enqueue %s: %w", it.Kind, err)
		}
		if n, _ := res.RowsAffected(); n > 0 && (first.IsZero() || due.Before(first)) {
			first = due
		}
	}
	return first, nil
}

// change is what a producer learns of a change, inside its transaction.
type change struct {
	Event
	// Now is the change's time, as its rows record it.
	Now time.Time
	// Message is the message stored (MessageAdded, and a ticket's opening question).
	Message *Message
	// Activity is the activity line the change wrote, if any (a status or an assignee
	// change), and ActivityID its message id.
	Activity   *Activity
	ActivityID int64
	// Quiet marks a change caused by automatic mail (an auto-reply, a bounce, bulk mail): it
	// is recorded, but nothing answers it automatically.
	Quiet bool
	// Mentioned are the agents a note mentions.
	Mentioned []int64
}

// producer turns a change into outbox items, inside the transaction that makes the change:
// the items commit, or roll back, with it. It reads what it needs through q.
type producer func(ctx context.Context, q querier, org *catalog.Organization, c change) ([]OutboxItem, error)

// addProducer adds p to the producers every change passes. Add producers while wiring.
func (s *Service) addProducer(p producer) {
	s.producersMu.Lock()
	s.producers = append(s.producers, p)
	s.producersMu.Unlock()
}

// produce runs the producers on c and enqueues their items in q, recording the tenant's
// wake-up before the transaction commits. It reports whether anything was enqueued (the
// caller then kicks the delivery after the commit).
func (s *Service) produce(ctx context.Context, q querier, org *catalog.Organization, ts *tenantState, c change) (bool, error) {
	s.producersMu.RLock()
	ps := s.producers
	s.producersMu.RUnlock()
	if len(ps) == 0 {
		return false, nil
	}
	c.Tenant = ts.t
	var items []OutboxItem
	for _, p := range ps {
		out, err := p(ctx, q, org, c)
		if err != nil {
			return false, err
		}
		items = append(items, out...)
	}
	if len(items) == 0 {
		return false, nil
	}
	first, err := enqueue(ctx, q, c.Now, items)
	if err != nil || first.IsZero() {
		return false, err
	}
	s.outboxWake(ctx, org, ts, first)
	return true, nil
}

// Enqueue stores items in a transaction of their own and starts delivering them: for what
// no change of the desk causes (a test email, a sign-in link). Only the system enqueues.
// It returns how many items were new.
func (s *Service) Enqueue(ctx context.Context, org *catalog.Organization, a Actor, items ...OutboxItem) (int, error) {
	if a.Kind != System {
		return 0, apperr.New(apperr.Forbidden, CodeForbidden)
	}
	for _, it := range items {
		if err := checkItem(it); err != nil {
			return 0, err
		}
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return 0, err
	}
	defer release()
	now := stamp(s.now)
	n := 0
	err = db.inTx(ctx, "Enqueue", func(tx *sql.Tx) error {
		n = 0
		for _, it := range items {
			first, err := enqueue(ctx, tx, now, []OutboxItem{it})
			if err != nil {
				return err
			}
			if !first.IsZero() {
				n++
				s.outboxWake(ctx, org, ts, first)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.kickOutbox(org)
	}
	return n, nil
}

// outboxWake records in the catalog that org has an item due at at, before the transaction
// that stores it commits. A wake-up this process recorded for the tenant less than wakeReuse
// ago, due no later, serves instead: the catalog keeps a row touched that recently for at
// least catalog.WakeGrace, and the scheduler reads the tenant again by then.
func (s *Service) outboxWake(ctx context.Context, org *catalog.Organization, ts *tenantState, at time.Time) {
	if s.cat == nil {
		return
	}
	now := s.now()
	ts.wakeMu.Lock()
	reuse := !ts.wakeTouched.IsZero() && !ts.wakeDue.After(at) && now.Sub(ts.wakeTouched) < wakeReuse
	ts.wakeMu.Unlock()
	if reuse {
		return
	}
	if err := s.cat.WakeAtNow(context.WithoutCancel(ctx), org.ID, at, now); err != nil {
		// The process that enqueued delivers the item right after the commit anyway; only a
		// crash before it does would leave the item waiting for the tenant's next wake-up.
		s.log.Error("record an outbox wake-up", "tenant", org.Username, "err", err)
		return
	}
	ts.wakeMu.Lock()
	ts.wakeDue, ts.wakeTouched = at, now
	ts.wakeMu.Unlock()
}

// forgetWake drops the wake-up outboxWake remembers for ts (the scheduler moved the row).
func (ts *tenantState) forgetWake() {
	ts.wakeMu.Lock()
	ts.wakeTouched = time.Time{}
	ts.wakeMu.Unlock()
}

// kickOutbox asks the scheduler to deliver org's due items now. When the scheduler is busy
// the kick is dropped: the catalog's wake-up brings it there within a pass.
func (s *Service) kickOutbox(org *catalog.Organization) {
	if kinds, _ := s.outbox.registered(); len(kinds) == 0 {
		return
	}
	select {
	case s.outbox.kick <- org:
	default:
	}
}

// ---------------------------------------------------------------------------------------------
// Delivering

// dispatch claims org's due items (as many as the workers can take) and hands them to the
// workers. It returns when the tenant next has an item due (zero: none), leased items
// counting at the end of their lease (when another instance takes them over if their holder
// died).
func (s *Service) dispatch(ctx context.Context, org *catalog.Organization) (time.Time, error) {
	kinds, lease := s.outbox.registered()
	if len(kinds) == 0 {
		return time.Time{}, nil
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return time.Time{}, err
	}
	now := stamp(s.now)
	free := min(outboxClaim, cap(s.outbox.work)-int(s.outbox.inflight.Load()))
	var claimed []OutboxItem
	if free > 0 {
		claimed, err = db.claimOutbox(ctx, kinds, s.outbox.holder, now, lease, free)
	}
	var next time.Time
	if err == nil {
		// Items still due (the workers were busy) keep the tenant due: the scheduler's next
		// pass, or the first worker to finish, comes back for them.
		next, err = db.outboxNext(ctx, kinds, now)
	}
	if err == nil && rand.IntN(64) == 0 {
		err = db.pruneOutbox(ctx, now.Add(-outboxKeepSent))
	}
	release()
	more := err == nil && !next.IsZero() && !next.After(now)
	for _, it := range claimed {
		s.outbox.inflight.Add(1)
		s.outbox.work <- delivery{org: org, item: it, more: more}
	}
	return next, err
}

// deliverLoop is one worker: it delivers claimed items until the work channel closes.
func (s *Service) deliverLoop() {
	defer s.outbox.workers.Done()
	for d := range s.outbox.work {
		s.deliver(d)
		s.outbox.inflight.Add(-1)
		if d.more && s.outbox.ctx.Err() == nil {
			s.kickOutbox(d.org)
		}
	}
}

func (s *Service) deliver(d delivery) {
	r, ok := s.outbox.sender(d.item.Kind)
	if !ok { // claimed only for registered kinds
		return
	}
	var out Outcome
	if err := s.outbox.ctx.Err(); err != nil {
		out = RetryLater(err)
	} else {
		ctx, cancel := context.WithTimeout(s.outbox.ctx, r.policy.Timeout)
		out = safeDeliver(ctx, r.sender, d.org, d.item)
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.settle(ctx, d.org, d.item, r.policy, out); err != nil {
		s.log.Error("outbox: record a delivery", "tenant", d.org.Username, "kind", d.item.Kind, "id", d.item.ID, "err", err)
	}
}

// safeDeliver calls the sender; a panic is a failed attempt, not a dead worker.
func safeDeliver(ctx context.Context, snd Sender, org *catalog.Organization, it OutboxItem) (out Outcome) {
	defer func() {
		if r := recover(); r != nil {
			out = RetryLater(fmt.Errorf("the sender panicked: %v", r))
		}
	}()
	return snd.Deliver(ctx, org, it)
}

// settle records an attempt's outcome and releases the item's lease.
func (s *Service) settle(ctx context.Context, org *catalog.Organization, it OutboxItem, p OutboxPolicy, out Outcome) error {
	ts := s.tenant(org)
	now := stamp(s.now)
	state, next, lastErr := OutboxSent, time.Time{}, ""
	shutdown := s.outbox.ctx.Err() != nil && out.Err != nil
	switch {
	case out.Err == nil:
	case shutdown:
		// Stopped by the Service closing, not by the receiver: the next instance (or start)
		// tries again at once; the attempt is not held against the item.
		state, next, lastErr = OutboxPending, now, it.LastError
	case out.Permanent:
		state, lastErr = OutboxFailed, out.Err.Error()
	default:
		lastErr = out.Err.Error()
		giveUp := it.CreatedAt.Add(p.GiveUpAfter)
		if !now.Before(giveUp) {
			state, lastErr = OutboxFailed, fmt.Sprintf("gave up after %s: %s", p.GiveUpAfter, lastErr)
			break
		}
		state = OutboxPending
		wait := max(p.backoff(it.Attempts), min(out.RetryAfter, p.GiveUpAfter))
		next = now.Add(wait).Truncate(time.Second)
		if next.After(giveUp) {
			next = giveUp
		}
	}
	lastErr = clipRunes(lastErr, maxOutboxError)
	if state == OutboxPending && s.cat != nil {
		// Written every time (not through outboxWake's reuse): the scheduler may have moved
		// the tenant's row past next while this delivery held the lease.
		if err := s.cat.WakeAtNow(ctx, org.ID, next, now); err != nil {
			return fmt.Errorf("desk.settle: %w", err)
		}
	}
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return err
	}
	defer release()
	attempts := it.Attempts
	if shutdown {
		attempts--
	}
	var done any
	if state != OutboxPending {
		done = now.Unix()
	}
	var nextAt any = it.NextAttemptAt.Unix()
	if !next.IsZero() {
		nextAt = next.Unix()
	}
	res, err := db.db.ExecContext(ctx, `UPDATE outbox SET state = ?, next_attempt_at = ?, attempts = ?,
		last_error = ?, lease_holder = NULL, lease_until = NULL, updated_at = ?, done_at = ?
		WHERE id = ? AND lease_holder = ? AND state = 'pending'`,
		state, nextAt, attempts, lastErr, now.Unix(), done, it.ID, s.outbox.holder)
	if err != nil {
		return fmt.Errorf("desk.settle: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		s.log.Warn("outbox: the lease ran out before the delivery ended; another instance may deliver it again",
			"tenant", org.Username, "kind", it.Kind, "id", it.ID)
		return nil
	}
	switch {
	case state == OutboxFailed:
		s.log.Warn("outbox: gave up", "tenant", org.Username, "kind", it.Kind, "id", it.ID, "attempts", attempts, "err", lastErr)
	case state == OutboxPending && !shutdown:
		s.log.Info("outbox: will retry", "tenant", org.Username, "kind", it.Kind, "id", it.ID, "attempts", attempts,
			"next", next, "err", lastErr)
	}
	s.feed.publish(Event{Kind: OutboxChanged, Tenant: ts.t, TicketID: it.TicketID, MessageID: it.MessageID, By: AsSystem()})
	return nil
}

func clipRunes(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// ---------------------------------------------------------------------------------------------
// Reading

// OutboxFilter selects outbox items for a list: of one ticket (TicketID), in one state, of
// one kind, to one target; newest first, at most Limit (default 100).
type OutboxFilter struct {
	TicketID int64
	State    string
	Kind     string
	Target   string
	Limit    int
}

// Outbox lists items (without their payloads). A ticket's items are for the team; every
// other list (the failed ones, say) for the owner and admins.
func (s *Service) Outbox(ctx context.Context, org *catalog.Organization, a Actor, f OutboxFilter) ([]OutboxItem, error) {
	if f.TicketID != 0 {
		if err := mayWork(a); err != nil {
			return nil, err
		}
	} else if err := mayManage(a); err != nil {
		return nil, err
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	return db.outboxList(ctx, f)
}

// ---------------------------------------------------------------------------------------------
// SQL

const outboxColumns = `id, CAST(kind AS BLOB), CAST(dedupe_key AS BLOB), CAST(target AS BLOB),
	COALESCE(ticket_id, 0), COALESCE(message_id, 0), CAST(state AS BLOB), attempts, next_attempt_at,
	CAST(last_error AS BLOB), created_at, updated_at, COALESCE(done_at, 0)`

func scanOutbox(row interface{ Scan(...any) error }, payload bool) (OutboxItem, error) {
	var it OutboxItem
	var next, created, updated, done int64
	dest := []any{&it.ID, &it.Kind, &it.Key, &it.Target, &it.TicketID, &it.MessageID, &it.State, &it.Attempts,
		&next, &it.LastError, &created, &updated, &done}
	if payload {
		dest = append(dest, &it.Payload)
	}
	err := row.Scan(dest...)
	it.NextAttemptAt, it.CreatedAt, it.UpdatedAt, it.DoneAt = unix(next), unix(created), unix(updated), unix(done)
	return it, err
}

// kindsIn is "kind IN (?, ?, …)" for kinds, with its arguments.
func kindsIn(kinds []string) (string, []any) {
	args := make([]any, len(kinds))
	for i, k := range kinds {
		args[i] = k
	}
	return "kind IN (?" + strings.Repeat(", ?", len(kinds)-1) + ")", args
}

// claimOutbox leases up to limit due items of kinds to holder until now+lease, counting the
// attempt, and returns them with their payloads. One UPDATE selects and leases, so two
// instances never claim the same item.
func (s *store) claimOutbox(ctx context.Context, kinds []string, holder string, now time.Time, lease time.Duration, limit int) ([]OutboxItem, error) {
	in, args := kindsIn(kinds)
	args = append([]any{holder, now.Add(lease).Unix(), now.Unix(), now.Unix(), now.Unix()}, args...)
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, `UPDATE outbox SET lease_holder = ?, lease_until = ?, attempts = attempts + 1,
		updated_at = ? WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?
		AND (lease_until IS NULL OR lease_until <= ?) AND `+in+` ORDER BY next_attempt_at, id LIMIT ?)
		RETURNING `+outboxColumns+`, payload`, args...)
	if err != nil {
		return nil, fmt.Errorf("desk.claimOutbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		it, err := scanOutbox(rows, true)
		if err != nil {
			return nil, fmt.Errorf("desk.claimOutbox: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("desk.claimOutbox: %w", err)
	}
	slices.SortFunc(out, func(a, b OutboxItem) int { return int(a.ID - b.ID) })
	return out, nil
}

// outboxNext returns when the next pending item of kinds is due: its next attempt, or the end
// of its lease while it is leased. Zero: nothing is pending.
func (s *store) outboxNext(ctx context.Context, kinds []string, now time.Time) (time.Time, error) {
	in, args := kindsIn(kinds)
	var next sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT min(CASE WHEN lease_until > ? THEN max(next_attempt_at, lease_until)
		ELSE next_attempt_at END) FROM outbox WHERE state = 'pending' AND `+in, append([]any{now.Unix()}, args...)...).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("desk.outboxNext: %w", err)
	}
	return unix(next.Int64), nil
}

// pruneOutbox deletes some items sent before before.
func (s *store) pruneOutbox(ctx context.Context, before time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
		WHERE state = 'sent' AND done_at < ? LIMIT 500)`, before.Unix())
	if err != nil {
		return fmt.Errorf("desk.pruneOutbox: %w", err)
	}
	return nil
}

func (s *store) outboxList(ctx context.Context, f OutboxFilter) ([]OutboxItem, error) {
	where, args := []string{"1"}, []any{}
	if f.TicketID != 0 {
		where, args = append(where, "ticket_id = ?"), append(args, f.TicketID)
	}
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, f.State)
	}
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, f.Kind)
	}
	if f.Target != "" {
		where, args = append(where, "target = ?"), append(args, f.Target)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+outboxColumns+" FROM outbox WHERE "+strings.Join(where, " AND ")+
		" ORDER BY id DESC LIMIT ?", append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("desk.Outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		it, err := scanOutbox(rows, false)
		if err != nil {
			return nil, fmt.Errorf("desk.Outbox: %w", err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}
