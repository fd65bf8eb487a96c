package desk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/mailtest"
	"github.com/tenantdesk/tenantdesk/sql/email/smtpout"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// recorder is a Sender that records every attempt and answers with outcome.
type recorder struct {
	mu       sync.Mutex
	attempts []desk.OutboxItem
	at       []time.Time
	clock    func() time.Time
	outcome  func(desk.OutboxItem) desk.Outcome
}

func (r *recorder) Deliver(_ context.Context, _ *catalog.Organization, it desk.OutboxItem) desk.Outcome {
	r.mu.Lock()
	r.attempts = append(r.attempts, it)
	r.at = append(r.at, r.clock())
	r.mu.Unlock()
	if r.outcome == nil {
		return desk.Delivered()
	}
	return r.outcome(it)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.attempts)
}

// waitFor polls cond every 10 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// items lists the tenant's outbox items as the owner sees them.
func (tm *team) items(t *testing.T, f desk.OutboxFilter) []desk.OutboxItem {
	t.Helper()
	f.Limit = 1000
	got, err := tm.svc.Outbox(context.Background(), tm.org, tm.owner(), f)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func probe(key string) desk.OutboxItem {
	return desk.OutboxItem{Kind: "probe", Key: key, Target: "someone", Payload: []byte("payload " + key)}
}

// The outbox writes its items in the transaction of the change that causes them: a change
// refused or failed leaves no item, and a producer that fails fails the change.
func TestOutboxEnqueuedWithTheChange(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	rec := &recorder{clock: tm.clock.Now}
	tm.svc.RegisterSender("probe", rec, desk.OutboxPolicy{})
	tm.svc.AddProducer(func(ctx context.Context, q desk.Querier, org *catalog.Organization, c desk.ChangeOf) ([]desk.OutboxItem, error) {
		if c.Kind != desk.MessageAdded || c.Sender != desk.SenderAgent {
			return nil, nil
		}
		if strings.Contains(c.Message.Body, "producer fails") {
			return nil, errors.New("the producer failed")
		}
		// Read through the change's own transaction: the message is there already.
		var n int
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE id = ?", c.MessageID).Scan(&n); err != nil || n != 1 {
			return nil, fmt.Errorf("the message is not visible to the producer: %d, %v", n, err)
		}
		it := probe(fmt.Sprintf("msg:%d", c.MessageID))
		it.TicketID, it.MessageID = c.TicketID, c.MessageID
		return []desk.OutboxItem{it, it}, nil // the same key twice: stored once
	})
	tk, _ := tm.open(t, "c@example.com", "hello")
	ann := desk.AsAgent(tm.ann)
	m, err := tm.svc.AddMessage(ctx, tm.org, ann, tk.ConversationID, "first answer")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery", func() bool {
		got := tm.items(t, desk.OutboxFilter{TicketID: tk.ID})
		return len(got) == 1 && got[0].State == desk.OutboxSent
	})
	if rec.count() != 1 || rec.attempts[0].MessageID != m.ID || string(rec.attempts[0].Payload) != fmt.Sprintf("payload msg:%d", m.ID) {
		t.Fatalf("attempts = %+v, want one for message %d", rec.attempts, m.ID)
	}

	// The producer fails: the message is not stored either.
	if _, err := tm.svc.AddMessage(ctx, tm.org, ann, tk.ConversationID, "producer fails here"); err == nil {
		t.Fatal("AddMessage succeeded although its producer failed")
	}
	th, err := tm.svc.Thread(ctx, tm.org, ann, tk.ConversationID, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range th.Messages {
		if strings.Contains(msg.Body, "producer fails") {
			t.Error("the message of a failed producer is stored")
		}
	}
	// A refused change (the ticket is closed) enqueues nothing.
	if err := tm.svc.SetStatus(ctx, tm.org, ann, tk.ID, desk.StatusClosed, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.AddMessage(ctx, tm.org, ann, tk.ConversationID, "too late"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("writing on a closed ticket: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := tm.items(t, desk.OutboxFilter{}); len(got) != 1 || rec.count() != 1 {
		t.Errorf("after a failed and a refused change: %d items, %d attempts; want 1 and 1", len(got), rec.count())
	}
	// A ticket's items are for the team; the other lists for managers.
	if _, err := tm.svc.Outbox(ctx, tm.org, desk.AsAgent(tm.thomas), desk.OutboxFilter{TicketID: tk.ID}); err != nil {
		t.Errorf("an agent reading a ticket's deliveries: %v", err)
	}
	if _, err := tm.svc.Outbox(ctx, tm.org, desk.AsAgent(tm.thomas), desk.OutboxFilter{State: desk.OutboxFailed}); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("an agent reading the failed list: %v", err)
	}
	if _, err := tm.svc.Enqueue(ctx, tm.org, ann, probe("by an agent")); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("an agent enqueueing: %v", err)
	}
}

// A failing receiver: the first retry within a minute, waits doubling to an hour, failed
// after 48 hours with the last error kept; a permanent refusal fails at once.
func TestOutboxBacksOffAndGivesUp(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	rec := &recorder{clock: tm.clock.Now, outcome: func(it desk.OutboxItem) desk.Outcome {
		if it.Key == "refused" {
			return desk.GiveUp(errors.New("550 no such user"))
		}
		return desk.RetryLater(errors.New("421 try again later"))
	}}
	tm.svc.RegisterSender("probe", rec, desk.OutboxPolicy{})
	start := tm.clock.Now()
	if n, err := tm.svc.Enqueue(ctx, tm.org, desk.AsSystem(), probe("flaky"), probe("refused"), probe("flaky")); err != nil || n != 2 {
		t.Fatalf("Enqueue = %d, %v; want 2 new items", n, err)
	}
	var waits []time.Duration
	for attempt := 1; ; attempt++ {
		waitFor(t, fmt.Sprintf("attempt %d", attempt), func() bool {
			for _, it := range tm.items(t, desk.OutboxFilter{Kind: "probe"}) {
				if it.Key == "flaky" && (it.Attempts == attempt && it.NextAttemptAt.After(tm.clock.Now()) || it.State == desk.OutboxFailed) {
					return true
				}
			}
			return false
		})
		var flaky desk.OutboxItem
		for _, it := range tm.items(t, desk.OutboxFilter{Kind: "probe"}) {
			if it.Key == "flaky" {
				flaky = it
			}
		}
		if flaky.State == desk.OutboxFailed {
			if !strings.Contains(flaky.LastError, "gave up after 48h") || !strings.Contains(flaky.LastError, "421 try again later") {
				t.Errorf("last error = %q", flaky.LastError)
			}
			if age := tm.clock.Now().Sub(start); age < 48*time.Hour || age > 49*time.Hour {
				t.Errorf("gave up %v after the item was written, want 48 h", age)
			}
			break
		}
		if flaky.State != desk.OutboxPending {
			t.Fatalf("after attempt %d: %+v", attempt, flaky)
		}
		wait := flaky.NextAttemptAt.Sub(tm.clock.Now())
		waits = append(waits, wait)
		tm.clock.add(wait)
		if attempt > 100 {
			t.Fatal("no end to the retries")
		}
	}
	if len(waits) < 3 || waits[0] <= 0 || waits[0] > time.Minute {
		t.Fatalf("waits = %v: the first retry must come within a minute", waits)
	}
	for i, w := range waits {
		if w > time.Hour {
			t.Errorf("wait %d = %v, over an hour", i, w)
		}
		if i > 0 && i < 5 && w < waits[i-1]*3/2 {
			t.Errorf("wait %d = %v after %v: not backing off", i, w, waits[i-1])
		}
	}
	failed := tm.items(t, desk.OutboxFilter{State: desk.OutboxFailed})
	if len(failed) != 2 {
		t.Fatalf("failed items = %+v", failed)
	}
	for _, it := range failed {
		if it.Key == "refused" && (it.Attempts != 1 || it.LastError != "550 no such user") {
			t.Errorf("the refused item: %d attempts, error %q; want one attempt", it.Attempts, it.LastError)
		}
	}
	// Nothing pending: the scheduler lets the tenant go (at the latest when the lease of the
	// last attempt would have run out).
	tm.clock.add(3 * time.Minute)
	waitFor(t, "the wake-up to go", func() bool {
		due, err := tm.cat.Due(ctx, tm.clock.Now().Add(1000*time.Hour), 10)
		return err == nil && len(due) == 0
	})
}

// mailItem is an email for the outbox: its payload is the composed message.
func mailItem(t *testing.T, key, to string) desk.OutboxItem {
	t.Helper()
	out, err := email.Compose(email.Notification{From: email.Address{Name: "Acme Support", Address: "support@acme.example"},
		To: []email.Address{{Name: "Customer", Address: to}}, Domain: "desk.example", Ref: 7, Subject: "Item " + key,
		Text: "This is item " + key + "."})
	if err != nil {
		t.Fatal(err)
	}
	return desk.OutboxItem{Kind: "email", Key: key, Target: to, Payload: out.Raw}
}

// smtpSender delivers "email" items (the raw message as payload) through an SMTP server.
func smtpSender(t *testing.T, addr string) desk.Sender {
	t.Helper()
	cfg, err := smtpout.ParseURL("smtp://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 2 * time.Second
	c, err := smtpout.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return desk.SenderFunc(func(ctx context.Context, _ *catalog.Organization, it desk.OutboxItem) desk.Outcome {
		err := c.Send(ctx, &email.Outgoing{From: "support@acme.example", To: []string{it.Target}, Raw: it.Payload})
		var se *smtpout.Error
		if errors.As(err, &se) && !se.Retry() {
			return desk.GiveUp(err)
		}
		return desk.Outcome{Err: err}
	})
}

// sentOnce checks that mailpit holds exactly the wanted messages, each once.
func sentOnce(t *testing.T, mp *mailtest.Mailpit, want int) {
	t.Helper()
	mp.WaitMessages(t, want)
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive about now
	got := mp.Messages(t)
	seen := map[string]int{}
	for _, m := range got {
		seen[m.MessageID]++
	}
	if len(got) != want || len(seen) != want {
		t.Fatalf("mailpit holds %d messages with %d distinct Message-IDs, want %d of each", len(got), len(seen), want)
	}
}

// An SMTP outage and a restart lose nothing and send nothing twice: the items wait in the
// tenant's database, and go out once the server is back.
func TestOutboxSurvivesAnSMTPOutageAndARestart(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	tm.svc.RegisterSender("email", smtpSender(t, mp.SMTPAddr), desk.OutboxPolicy{})
	for i := range 5 {
		if _, err := tm.svc.Enqueue(ctx, tm.org, desk.AsSystem(), mailItem(t, fmt.Sprintf("up-%d", i), "c@example.com")); err != nil {
			t.Fatal(err)
		}
	}
	sentOnce(t, mp, 5)

	mp.Stop()
	for i := range 10 {
		if _, err := tm.svc.Enqueue(ctx, tm.org, desk.AsSystem(), mailItem(t, fmt.Sprintf("down-%d", i), "c@example.com")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every item tried once while the server is down", func() bool {
		n := 0
		for _, it := range tm.items(t, desk.OutboxFilter{State: desk.OutboxPending}) {
			if it.Attempts == 1 && it.LastError != "" {
				n++
			}
		}
		return n == 10
	})
	for _, it := range tm.items(t, desk.OutboxFilter{State: desk.OutboxPending}) {
		if wait := it.NextAttemptAt.Sub(tm.clock.Now()); wait <= 0 || wait > time.Minute {
			t.Errorf("item %s retries in %v, want within a minute", it.Key, wait)
		}
	}

	// The server restarts while the mail server is still down; then the mail server returns.
	tm.stop()
	tm.start(t)
	tm.svc.RegisterSender("email", smtpSender(t, mp.SMTPAddr), desk.OutboxPolicy{})
	mp.Restart()
	tm.clock.add(time.Minute)
	sentOnce(t, mp, 15)
	waitFor(t, "every item marked sent", func() bool {
		return len(tm.items(t, desk.OutboxFilter{State: desk.OutboxSent})) == 15
	})
}

// Two Services on one tenant database (two instances on one sqld or Turso database) both see
// the same items due: each item is delivered once, by whichever claims it.
func TestOutboxTwoServicesDeliverEachItemOnce(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	tm.svc.RegisterSender("email", smtpSender(t, mp.SMTPAddr), desk.OutboxPolicy{})
	// The second instance: its own registry and Service on the same files and catalog.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg2, err := tenantdb.New(tenantdb.Config{Backend: tenantdb.Local{Dir: tm.dir}, Catalog: tm.cat,
		Migrations: tenantMigrations, MaxOpen: 8, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	svc2 := desk.New(desk.Config{Registry: reg2, Catalog: tm.cat, Log: log, Now: tm.clock.Now, WatchInterval: 20 * time.Millisecond})
	t.Cleanup(func() { svc2.Close(); reg2.Close() })
	var delivered2 sync.Map
	snd := smtpSender(t, mp.SMTPAddr)
	svc2.RegisterSender("email", desk.SenderFunc(func(ctx context.Context, org *catalog.Organization, it desk.OutboxItem) desk.Outcome {
		delivered2.Store(it.Key, true)
		return snd.Deliver(ctx, org, it)
	}), desk.OutboxPolicy{})

	// Due a second from now, so that neither instance delivers them right after the commit:
	// both schedulers find them due together.
	const n = 40
	for i := range n {
		it := mailItem(t, fmt.Sprintf("both-%d", i), fmt.Sprintf("c%d@example.com", i))
		it.NotBefore = tm.clock.Now().Add(2 * time.Second)
		svc := tm.svc
		if i%2 == 1 {
			svc = svc2
		}
		if _, err := svc.Enqueue(ctx, tm.org, desk.AsSystem(), it); err != nil {
			t.Fatal(err)
		}
	}
	tm.clock.add(3 * time.Second)
	sentOnce(t, mp, n)
	by2 := 0
	delivered2.Range(func(_, _ any) bool { by2++; return true })
	t.Logf("the second instance delivered %d of %d", by2, n)
	waitFor(t, "every item marked sent", func() bool {
		return len(tm.items(t, desk.OutboxFilter{State: desk.OutboxSent})) == n
	})
}

// An instance that died holding a lease: nobody delivers the item until the lease runs out,
// then another instance does, once.
func TestOutboxTakesOverALeaseThatRanOut(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	rec := &recorder{clock: tm.clock.Now}
	tm.svc.RegisterSender("probe", rec, desk.OutboxPolicy{})
	it := probe("leased")
	it.NotBefore = tm.clock.Now().Add(time.Hour)
	if _, err := tm.svc.Enqueue(ctx, tm.org, desk.AsSystem(), it); err != nil {
		t.Fatal(err)
	}
	// Another instance claimed it and died: its lease holds for five more minutes.
	now := tm.clock.Now()
	h, err := tm.reg.Acquire(ctx, *tm.org)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.DB.ExecContext(ctx, `UPDATE outbox SET next_attempt_at = ?, lease_holder = 'dead', lease_until = ?, attempts = 1`,
		now.Unix(), now.Add(5*time.Minute).Unix())
	h.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.cat.WakeAtNow(ctx, tm.org.ID, now, now); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if rec.count() != 0 {
		t.Fatal("delivered while another instance holds the lease")
	}
	// The scheduler moved the tenant's wake-up to the end of the lease.
	due, err := tm.cat.Due(ctx, now.Add(time.Hour), 10)
	if err != nil || len(due) != 1 || due[0].DueAt.After(now.Add(5*time.Minute)) {
		t.Fatalf("wake-ups = %+v, %v; want the tenant due when the lease ends", due, err)
	}
	tm.clock.add(5*time.Minute + time.Second)
	waitFor(t, "the take-over", func() bool { return rec.count() == 1 })
	waitFor(t, "the item marked sent", func() bool {
		got := tm.items(t, desk.OutboxFilter{})
		return len(got) == 1 && got[0].State == desk.OutboxSent && got[0].Attempts == 2
	})
}
