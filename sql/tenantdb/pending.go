package tenantdb

// Databases that must still be deleted on their backend (the catalog's pending_drops): the
// database of a deleted organization until the backend confirms it is gone, and a database a
// failed registration may have left behind. Deleting a remote database can fail (a 5xx, a
// timeout), and a database left behind keeps its name taken on the backend; so every such
// database is recorded in the catalog first and deleted until the backend confirms it — at
// once, at start and on a timer (Start), and before the name is registered again.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// ErrMaybeCreated is wrapped by Provision when it failed but the storage may hold the database
// after all: an attempt timed out or got a 5xx after the request may have arrived (a retry then
// finds the name taken by that very attempt), or deleting a half-made database failed. The
// Registry records the name for clean-up and answers "try again" rather than "taken".
var ErrMaybeCreated = errors.New("tenantdb: the database may have been created")

const (
	// dropClaimTTL bounds how long one deletion may keep others off a record.
	dropClaimTTL = 2 * time.Minute
	// dropBackoffMax bounds the wait between attempts on one database.
	dropBackoffMax = time.Hour
	// DefaultOrphanGrace is how long a possibly orphaned database is left alone before the
	// timer deletes it: longer than any registration takes, so that a registration of the same
	// name still under way elsewhere is never cut short.
	DefaultOrphanGrace = 10 * time.Minute
	// DefaultDropRetry is how often Start's timer retries pending deletions.
	DefaultDropRetry = time.Minute
)

// dropLoop is the Registry's timer that retries pending deletions.
type dropLoop struct {
	mu   sync.Mutex
	stop chan struct{}
	done chan struct{}
}

// Start runs what a serving Registry needs besides requests. First the Backend's own
// start-up check, when it has one (Turso: its group exists, or is created); its error means
// the server must not start. Then pending deletions are retried in the background: once now
// and then every interval (DefaultDropRetry when 0), until Close.
func (r *Registry) Start(ctx context.Context, interval time.Duration) error {
	if c, ok := r.backend.(interface{ Check(context.Context) error }); ok {
		if err := c.Check(ctx); err != nil {
			return err
		}
	}
	if interval <= 0 {
		interval = DefaultDropRetry
	}
	r.drops.mu.Lock()
	defer r.drops.mu.Unlock()
	if r.drops.stop != nil {
		return nil
	}
	stop, done := make(chan struct{}), make(chan struct{})
	r.drops.stop, r.drops.done = stop, done
	go func() {
		defer close(done)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if _, err := r.RetryDrops(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("retry pending database deletions", "err", err)
			}
			t.Reset(interval)
		}
	}()
	return nil
}

// stopDrops ends Start's timer and waits for a pass under way.
func (r *Registry) stopDrops() {
	r.drops.mu.Lock()
	stop, done := r.drops.stop, r.drops.done
	r.drops.stop = nil
	r.drops.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// DropReport is what one RetryDrops pass did.
type DropReport struct {
	// Done were confirmed gone (or turned out to belong to an organization); Failed were
	// tried and are still there; Waiting were not due yet, or another process is on them.
	Done, Failed, Waiting int
}

// RetryDrops tries every pending deletion on this Registry's backend that is due: an orphan
// once its grace period is over, any record once its backoff has passed. A database the
// catalog turns out to hold for an organization is not deleted; its record is removed.
func (r *Registry) RetryDrops(ctx context.Context) (DropReport, error) {
	var rep DropReport
	list, err := r.catalog.PendingDrops(ctx)
	if err != nil {
		return rep, err
	}
	now := time.Now()
	for _, d := range list {
		if d.Backend != r.backend.Kind() {
			continue
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		if now.Before(d.NotBefore) || (d.Reason == catalog.DropOrphan && now.Sub(d.CreatedAt) < r.orphanGrace) ||
			(d.Holder != "" && now.Before(d.HeldUntil)) {
			rep.Waiting++
			continue
		}
		lock := r.nameLock(d.DBName)
		lock.Lock()
		done, err := r.tryDrop(ctx, d)
		lock.Unlock()
		switch {
		case done:
			rep.Done++
		case errors.Is(err, errDropBusy):
			rep.Waiting++
		default:
			rep.Failed++
		}
	}
	return rep, nil
}

// errDropBusy: another holder is deleting the database right now.
var errDropBusy = errors.New("another process is deleting this database right now")

// tryDrop deletes the recorded database d under a claim on its record (the caller holds the
// name's lock). It reports true once the record is gone: the backend confirmed the deletion,
// the record was gone already, or the catalog holds the database for an organization (then it
// is left alone). A failure is recorded with the time of the next attempt.
func (r *Registry) tryDrop(ctx context.Context, d catalog.PendingDrop) (bool, error) {
	kind := r.backend.Kind()
	holder := holderID() + ":" + strconv.FormatInt(holderSeq.Add(1), 10)
	ok, err := r.catalog.ClaimDrop(ctx, kind, d.DBName, holder, dropClaimTTL)
	if err != nil {
		return false, err
	}
	if !ok {
		if _, still, err := r.catalog.PendingDrop(ctx, kind, d.DBName); err != nil {
			return false, err
		} else if !still {
			return true, nil
		}
		return false, errDropBusy
	}
	held, err := r.catalog.HoldsDB(ctx, kind, d.DBName)
	if err != nil {
		return false, err
	}
	if held {
		r.log.Warn("pending deletion of a database an organization holds; keeping the database",
			"db", d.DBName, "backend", kind, "reason", d.Reason)
		return true, r.catalog.FinishDrop(ctx, kind, d.DBName, holder)
	}
	derr := r.backend.Drop(ctx, d.DBName)
	if derr == nil {
		r.log.Info("database deleted on the backend", "db", d.DBName, "backend", kind, "reason", d.Reason,
			"earlier_attempts", d.Attempts)
		return true, r.catalog.FinishDrop(context.WithoutCancel(ctx), kind, d.DBName, holder)
	}
	next := time.Now().Add(dropBackoff(r.dropBackoff, d.Attempts))
	r.log.Warn("deleting a database on the backend failed; retrying later", "db", d.DBName, "backend", kind,
		"reason", d.Reason, "attempts", d.Attempts+1, "next", next.UTC().Format(time.RFC3339), "err", derr)
	if err := r.catalog.FailDrop(context.WithoutCancel(ctx), kind, d.DBName, holder, derr.Error(), next); err != nil {
		return false, errors.Join(derr, err)
	}
	return false, derr
}

// dropBackoff is the wait after attempts earlier failed attempts: first, doubling, at most an
// hour.
func dropBackoff(first time.Duration, attempts int) time.Duration {
	d := first
	for range min(attempts, 12) {
		d *= 2
	}
	return min(d, dropBackoffMax)
}

// dropDeleted deletes the database of an organization just removed from the catalog (its
// record written in the same transaction). A failure leaves the record for the retries and is
// logged, not returned: the organization is gone either way.
func (r *Registry) dropDeleted(ctx context.Context, name string) {
	if _, err := r.tryDrop(ctx, catalog.PendingDrop{DBName: name, Reason: catalog.DropDeleted}); err != nil {
		r.log.Warn("deleted organization's database left for the retries", "db", name, "backend", r.backend.Kind(), "err", err)
	}
}

// clearPendingDrop deletes an earlier database of name that is still recorded for deletion,
// before name is registered again (the caller holds the name's lock). An error means the
// name is not free yet: the registration should be tried again later.
func (r *Registry) clearPendingDrop(ctx context.Context, name string) error {
	d, ok, err := r.catalog.PendingDrop(ctx, r.backend.Kind(), name)
	if err != nil || !ok {
		return err
	}
	if _, err := r.tryDrop(ctx, d); err != nil {
		return fmt.Errorf("an earlier database of this name is still to be deleted: %w", err)
	}
	return nil
}

// queueOrphan records name as a database a failed registration may have left on the backend.
func (r *Registry) queueOrphan(ctx context.Context, name string, cause error) {
	if err := r.catalog.QueueDrop(context.WithoutCancel(ctx), r.backend.Kind(), name, catalog.DropOrphan, cause.Error()); err != nil {
		r.log.Error("record a possibly orphaned database", "db", name, "backend", r.backend.Kind(), "err", err, "cause", cause)
		return
	}
	r.log.Warn("possibly orphaned database recorded for deletion", "db", name, "backend", r.backend.Kind(), "cause", cause)
}

// keepRenewedSecret stores the credential database was opened with when it is newer than the
// catalog's (a Turso token renewed at half its life), sealed, so that the next process starts
// from it. A failure only costs a renewal later.
func (r *Registry) keepRenewedSecret(ctx context.Context, org catalog.Organization, database Database) {
	rs, ok := database.(interface{ RenewedSecret() string })
	if !ok || r.sealer == nil {
		return
	}
	secret := rs.RenewedSecret()
	if secret == "" {
		return
	}
	sealed, err := r.sealer.Seal(org.DBName, secret)
	if err == nil {
		_, err = r.catalog.SetDBSecret(ctx, org.ID, org.DBSecret, sealed)
	}
	if err != nil {
		r.log.Warn("store a renewed database credential", "tenant", org.Username, "err", err)
	}
}
