package desk_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// A delivery the outbox gives up on without its log row being settled (the Sender never
// recorded it) shows as failed in the endpoint's log and holds back none of the ticket's later
// deliveries. The secret is stored sealed and only the system reads what a delivery sends.
func TestWebhookGivenUpHoldsNothingBack(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	var mu sync.Mutex
	var jobs []desk.WebhookJob
	tm.svc.RegisterSender(desk.WebhookKind, desk.SenderFunc(func(ctx context.Context, org *catalog.Organization, it desk.OutboxItem) desk.Outcome {
		job, err := tm.svc.WebhookJob(ctx, org, desk.AsSystem(), it)
		if err != nil {
			return desk.GiveUp(err)
		}
		mu.Lock()
		jobs = append(jobs, job)
		first := len(jobs) == 1
		mu.Unlock()
		if first {
			return desk.GiveUp(errors.New("refused")) // the log row is left pending
		}
		if err := tm.svc.RecordWebhookAttempt(ctx, org, desk.AsSystem(), job.DeliveryID,
			desk.WebhookAttempt{State: desk.DeliveryDelivered, StatusCode: 200}); err != nil {
			return desk.RetryLater(err)
		}
		return desk.Delivered()
	}), desk.OutboxPolicy{})

	const secret = "whsec_0123456789abcdefghijklmnopqrstuvwxyzABCD"
	if _, err := tm.svc.CreateWebhook(ctx, tm.org, desk.AsAgent(tm.thomas), "https://hooks.example.com/x",
		[]string{desk.WebhookTicketCreated}, secret); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("an agent without the admin role made a webhook: %v", err)
	}
	w, err := tm.svc.CreateWebhook(ctx, tm.org, tm.owner(), "https://hooks.example.com/x",
		[]string{desk.WebhookMessageCreated, desk.WebhookTicketCreated, desk.WebhookTicketCreated}, secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(w.Events, ",") != "message.created,ticket.created" {
		t.Fatalf("events %v", w.Events)
	}

	tk, _ := tm.open(t, "c@example.com", "hello")
	deliveries := func() []desk.WebhookDelivery {
		ds, err := tm.svc.WebhookDeliveries(ctx, tm.org, tm.owner(), w.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	waitFor(t, "the first delivery given up", func() bool {
		ds := deliveries()
		return len(ds) == 1 && ds[0].State == desk.DeliveryFailed
	})
	if _, err := tm.svc.AddMessage(ctx, tm.org, desk.AsAgent(tm.ann), tk.ConversationID, "an answer"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second delivery", func() bool {
		ds := deliveries()
		return len(ds) == 2 && ds[0].State == desk.DeliveryDelivered
	})
	mu.Lock()
	defer mu.Unlock()
	if len(jobs) != 2 || jobs[1].Wait || jobs[1].Secret != secret || jobs[1].TicketID != tk.ID || jobs[1].URL != w.URL {
		t.Fatalf("jobs: %+v", jobs)
	}
	var body struct {
		ID, Type, Organization string
		Data                   struct {
			Message struct{ Body string }
		}
	}
	if err := json.Unmarshal(jobs[1].Body, &body); err != nil || body.ID != jobs[1].EventID || body.Type != desk.WebhookMessageCreated ||
		body.Organization != "acme" || body.Data.Message.Body != "an answer" {
		t.Fatalf("body %s: %v", jobs[1].Body, err)
	}
	if _, err := tm.svc.WebhookJob(ctx, tm.org, tm.owner(), desk.OutboxItem{Payload: []byte(`{"delivery":1}`)}); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("the owner read a delivery's secret: %v", err)
	}

	// On disk the secret is sealed.
	db, err := sqlite.Open(filepath.Join(tm.dir, tm.org.DBName+".db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored string
	if err := db.QueryRow("SELECT CAST(secret AS TEXT) FROM webhook_endpoints WHERE id = ?", w.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "v1:") || strings.Contains(stored, "0123456789abcdef") {
		t.Fatalf("stored secret %q", stored)
	}
}

// An endpoint's URL may be longer than the outbox keeps of a target: changes still commit,
// and the delivery goes to the whole URL.
func TestWebhookLongURL(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	urls := make(chan string, 1)
	tm.svc.RegisterSender(desk.WebhookKind, desk.SenderFunc(func(ctx context.Context, org *catalog.Organization, it desk.OutboxItem) desk.Outcome {
		job, err := tm.svc.WebhookJob(ctx, org, desk.AsSystem(), it)
		if err != nil {
			return desk.GiveUp(err)
		}
		if len(it.Target) > 500 || !strings.HasSuffix(it.Target, "…") {
			return desk.GiveUp(errors.New("target " + it.Target))
		}
		urls <- job.URL
		return desk.Delivered()
	}), desk.OutboxPolicy{})
	long := "https://hooks.example.com/" + strings.Repeat("é", 600) + strings.Repeat("a", 700)
	if _, err := tm.svc.CreateWebhook(ctx, tm.org, tm.owner(), long, []string{desk.WebhookTicketCreated},
		"whsec_0123456789abcdefghijklmnopqrstuvwxyzABCD"); err != nil {
		t.Fatal(err)
	}
	tm.open(t, "c@example.com", "hello")
	select {
	case got := <-urls:
		if got != long {
			t.Fatalf("delivered to %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
	}
}
