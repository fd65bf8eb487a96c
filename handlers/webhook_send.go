package handlers

// The webhook Sender: the outbox hands it webhook items; it asks the desk what to send, sends
// it signed through the SSRF-safe client (handlers/webhook) and records the attempt in the
// endpoint's delivery log.

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tenantdesk/tenantdesk/handlers/webhook"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// webhookPolicy retries a delivery with backoff for a day. One attempt may first wait for an
// earlier delivery of its ticket under way, then make its own: twice the client's timeout.
var webhookPolicy = desk.OutboxPolicy{FirstRetry: 30 * time.Second, MaxBackoff: time.Hour, GiveUpAfter: 24 * time.Hour,
	Timeout: 2*webhook.DefaultTimeout + 5*time.Second}

// inFlightPoll is how often a delivery waiting for an earlier one under way looks again.
const inFlightPoll = 100 * time.Millisecond

// errWaiting is the outcome of a delivery held back behind an older one of its ticket.
var errWaiting = errors.New("waiting for an earlier event of this ticket to be delivered")

// webhookSender delivers the outbox's webhook items.
type webhookSender struct {
	desk   *desk.Service
	client *webhook.Client
	policy desk.OutboxPolicy
	now    func() time.Time
	log    *slog.Logger
}

// Deliver sends one webhook item.
func (w *webhookSender) Deliver(ctx context.Context, org *catalog.Organization, it desk.OutboxItem) desk.Outcome {
	job, err := w.desk.WebhookJob(ctx, org, desk.AsSystem(), it)
	if errors.Is(err, desk.ErrWebhookSecret) {
		w.record(ctx, org, job.DeliveryID, desk.WebhookAttempt{State: desk.DeliveryFailed,
			Error: wordsWebhookSecretNA})
		return desk.GiveUp(err)
	}
	if err != nil {
		return desk.RetryLater(err)
	}
	if job.Gone {
		if job.DeliveryID != 0 {
			w.record(ctx, org, job.DeliveryID, desk.WebhookAttempt{State: desk.DeliveryFailed, Error: wordsWebhookRemoved})
		}
		return desk.GiveUp(errors.New("the endpoint was removed"))
	}
	// An earlier delivery of the ticket being attempted right now (claimed in the same pass,
	// on another worker or another instance) settles within its timeout: wait for it here
	// rather than retry after a backoff. The database decides, so one ticket's deliveries to
	// an endpoint go one at a time and in order across instances too.
	for job.Wait && job.InFlight {
		select {
		case <-ctx.Done():
			return desk.RetryLater(errWaiting)
		case <-time.After(inFlightPoll):
		}
		if job, err = w.desk.WebhookJob(ctx, org, desk.AsSystem(), it); err != nil {
			return desk.RetryLater(err)
		}
	}
	last := !w.now().Before(it.CreatedAt.Add(w.policy.GiveUpAfter))
	if job.Wait {
		if last {
			w.record(ctx, org, job.DeliveryID, desk.WebhookAttempt{State: desk.DeliveryFailed, Error: wordsWebhookGaveUp})
			return desk.GiveUp(errWaiting)
		}
		// An earlier delivery of the ticket failed and waits for its retry; this one follows
		// it (it is made due as soon as the earlier one is settled).
		return desk.RetryLater(errWaiting)
	}
	r := w.client.Deliver(ctx, webhook.Delivery{URL: job.URL, Secret: job.Secret, EventID: job.EventID, Body: job.Body})
	at := desk.WebhookAttempt{StatusCode: r.Status, Duration: r.Duration, Answer: r.Answer, Error: string(r.Kind)}
	var out desk.Outcome
	switch {
	case r.Kind == webhook.Delivered:
		at.State, out = desk.DeliveryDelivered, desk.Delivered()
	case !r.Retryable() || last:
		at.State, out = desk.DeliveryFailed, desk.GiveUp(r.Err)
	default:
		at.State, out = desk.DeliveryPending, desk.Outcome{Err: r.Err, RetryAfter: r.RetryAfter}
	}
	if r.Kind == webhook.Canceled {
		// The server is stopping: the attempt is not the receiver's doing, and the item is
		// tried again at the next start.
		at.State = desk.DeliveryPending
	}
	w.record(ctx, org, job.DeliveryID, at)
	return out
}

// record writes an attempt into the log; the outbox's own record stands if it fails.
func (w *webhookSender) record(ctx context.Context, org *catalog.Organization, id int64, at desk.WebhookAttempt) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.desk.RecordWebhookAttempt(ctx, org, desk.AsSystem(), id, at); err != nil {
		w.log.Warn("webhook: record an attempt", "tenant", org.Username, "delivery", id, "err", err)
	}
}
