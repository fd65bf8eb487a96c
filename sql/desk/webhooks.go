package desk

// Webhooks: the owner and admins register endpoints (a URL and the events it wants); every
// change of the desk that is one of those events becomes, in the change's own transaction, a
// delivery in the endpoint's log and an outbox item of kind WebhookKind. A Sender the HTTP
// layer registers (it alone speaks HTTP) delivers the items: it asks WebhookJob what to send,
// sends it signed with the endpoint's secret and tells RecordWebhookAttempt what happened.
//
// Order per ticket: a delivery waits while an older delivery of the same endpoint and ticket
// is pending (WebhookJob says so), so a receiver sees one ticket's events in the order they
// happened even when it was down for a while. Delivery is at least once: the body carries the
// event's id, which receivers deduplicate on.
//
// The signing secret is needed in clear to sign, so it is stored sealed (AES-256-GCM, bound to
// the tenant and the endpoint), never hashed; it is shown once, when the endpoint is made.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// WebhookKind is the outbox kind of webhook deliveries.
const WebhookKind = "webhook"

// The webhook events.
const (
	WebhookTicketCreated  = "ticket.created"
	WebhookMessageCreated = "message.created"
	WebhookNoteCreated    = "note.created"
	WebhookTicketUpdated  = "ticket.updated" // status, assignment, priority, tags
	WebhookRatingCreated  = "rating.created"
)

// WebhookEvents lists the events an endpoint may want, in the order a form offers them.
var WebhookEvents = []string{WebhookTicketCreated, WebhookMessageCreated, WebhookNoteCreated, WebhookTicketUpdated, WebhookRatingCreated}

// Limits and codes of webhooks.
const (
	MaxWebhookURL   = 2048
	MaxWebhooks     = 20 // live endpoints per organization
	CodeWebhookGone = apperr.Code("webhook_not_found")
	CodeTooMany     = apperr.Code("too_many_webhooks")
	// webhookAnswer bounds the answer kept in the log (bytes).
	webhookAnswer = 1024
	// deliveryKeep is how long settled deliveries stay in an endpoint's log (as long as the
	// outbox keeps what it sent).
	deliveryKeep = outboxKeepSent
)

// Webhook delivery states (the log's).
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Webhook is a registered endpoint.
type Webhook struct {
	ID        int64
	URL       string
	Events    []string
	CreatedAt time.Time
	RemovedAt time.Time
}

// Removed reports whether the endpoint was removed (it keeps its log).
func (w Webhook) Removed() bool { return !w.RemovedAt.IsZero() }

// WebhookDelivery is one event for one endpoint, as its log shows it.
type WebhookDelivery struct {
	ID         int64
	EndpointID int64
	EventID    string
	Event      string
	TicketID   int64
	State      string
	Attempts   int
	// StatusCode is the last answer's status (0: none came); Error names the last failure;
	// Duration is the last attempt's; Answer the first kilobyte of the last answer.
	StatusCode    int
	Error         string
	Duration      time.Duration
	Answer        string
	CreatedAt     time.Time
	LastAttemptAt time.Time
	DeliveredAt   time.Time
}

// sealName binds an endpoint's sealed secret to its tenant and its id: copied to another row
// or another tenant, it does not open.
func (s *Service) sealName(org *catalog.Organization, endpointID int64) string {
	return org.DBName + "/webhooks/" + strconv.FormatInt(endpointID, 10)
}

// NormalizeEvents checks a set of webhook events: known, at least one; sorted, each once.
func NormalizeEvents(events []string) ([]string, error) {
	var out []string
	for _, e := range events {
		if !slices.Contains(WebhookEvents, e) {
			return nil, apperr.Field(apperr.Invalid, "events", apperr.CodeInvalid)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, apperr.Field(apperr.Invalid, "events", apperr.CodeRequired)
	}
	slices.Sort(out)
	return out, nil
}

// CreateWebhook registers an endpoint: url (checked for delivery by the HTTP layer, which
// alone knows the network rules; here only for its shape), the events it wants and its
// signing secret, which is stored sealed. The owner and admins only.
func (s *Service) CreateWebhook(ctx context.Context, org *catalog.Organization, a Actor, url string, events []string, secret string) (Webhook, error) {
	if err := mayManage(a); err != nil {
		return Webhook{}, err
	}
	if err := checkText("url", url); err != nil {
		return Webhook{}, err
	}
	if len(url) > MaxWebhookURL || !(strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://")) {
		return Webhook{}, apperr.Field(apperr.Invalid, "url", apperr.CodeInvalid)
	}
	events, err := NormalizeEvents(events)
	if err != nil {
		return Webhook{}, err
	}
	if len(secret) < 32 {
		return Webhook{}, errors.New("desk.CreateWebhook: a secret of fewer than 32 characters")
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Webhook{}, err
	}
	defer release()
	now := stamp(s.now)
	w := Webhook{URL: url, Events: events, CreatedAt: now}
	err = db.inTx(ctx, "CreateWebhook", func(tx *sql.Tx) error {
		var live int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM webhook_endpoints WHERE removed_at IS NULL").Scan(&live); err != nil {
			return err
		}
		if live >= MaxWebhooks {
			return apperr.Field(apperr.Conflict, "url", CodeTooMany)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO webhook_endpoints (url, events, secret, created_at)
			VALUES (?, ?, '', ?) RETURNING id`, url, strings.Join(events, ","), now.Unix()).Scan(&w.ID); err != nil {
			return err
		}
		sealed, err := s.secrets.Seal(s.sealName(org, w.ID), secret)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE webhook_endpoints SET secret = ? WHERE id = ?", sealed, w.ID); err != nil {
			return err
		}
		return writeAudit(ctx, tx, now, a, audit{event: AuditWebhookCreated, targetKind: TargetWebhook, targetID: w.ID,
			detail: map[string]string{"url": url, "events": strings.Join(events, ", ")}})
	})
	if err != nil {
		return Webhook{}, err
	}
	s.changed(ts, Event{Kind: SettingsChanged, By: a})
	return w, nil
}

// Webhooks lists the endpoints, newest first, removed ones too: the owner and admins.
func (s *Service) Webhooks(ctx context.Context, org *catalog.Organization, a Actor) ([]Webhook, error) {
	if err := mayManage(a); err != nil {
		return nil, err
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	return db.webhooks(ctx, db.db, "1")
}

// Webhook returns endpoint id: the owner and admins.
func (s *Service) Webhook(ctx context.Context, org *catalog.Organization, a Actor, id int64) (Webhook, error) {
	if err := mayManage(a); err != nil {
		return Webhook{}, err
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return Webhook{}, err
	}
	defer release()
	ws, err := db.webhooks(ctx, db.db, "id = ?", id)
	if err != nil {
		return Webhook{}, err
	}
	if len(ws) == 0 {
		return Webhook{}, notFound(CodeWebhookGone)
	}
	return ws[0], nil
}

func (s *store) webhooks(ctx context.Context, q querier, where string, args ...any) ([]Webhook, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, CAST(url AS BLOB), CAST(events AS BLOB), created_at, COALESCE(removed_at, 0)
		FROM webhook_endpoints WHERE `+where+` ORDER BY id DESC LIMIT 200`, args...)
	if err != nil {
		return nil, fmt.Errorf("desk.webhooks: %w", err)
	}
	defer rows.Close()
	var out []Webhook
	for rows.Next() {
		var w Webhook
		var events string
		var created, removed int64
		if err := rows.Scan(&w.ID, &w.URL, &events, &created, &removed); err != nil {
			return nil, fmt.Errorf("desk.webhooks: %w", err)
		}
		w.Events = strings.Split(events, ",")
		w.CreatedAt, w.RemovedAt = unix(created), unix(removed)
		out = append(out, w)
	}
	return out, rows.Err()
}

// RemoveWebhook removes endpoint id: no event goes to it from now on, and its pending
// deliveries are given up. Its log stays. The owner and admins only.
func (s *Service) RemoveWebhook(ctx context.Context, org *catalog.Organization, a Actor, id int64) error {
	if err := mayManage(a); err != nil {
		return err
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return err
	}
	defer release()
	now := stamp(s.now)
	err = db.inTx(ctx, "RemoveWebhook", func(tx *sql.Tx) error {
		ws, err := db.webhooks(ctx, tx, "id = ?", id)
		if err != nil {
			return err
		}
		if len(ws) == 0 {
			return notFound(CodeWebhookGone)
		}
		if ws[0].Removed() {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE webhook_endpoints SET removed_at = ? WHERE id = ?", now.Unix(), id); err != nil {
			return err
		}
		return writeAudit(ctx, tx, now, a, audit{event: AuditWebhookRemoved, targetKind: TargetWebhook, targetID: id,
			detail: map[string]string{"url": ws[0].URL}})
	})
	if err != nil {
		return err
	}
	s.changed(ts, Event{Kind: SettingsChanged, By: a})
	return nil
}

const deliveryColumns = `id, endpoint_id, CAST(event_id AS BLOB), CAST(event AS BLOB), COALESCE(ticket_id, 0),
	CAST(state AS BLOB), attempts, COALESCE(status_code, 0), CAST(error AS BLOB), COALESCE(duration_ms, 0),
	CAST(answer AS BLOB), created_at, COALESCE(last_attempt_at, 0), COALESCE(delivered_at, 0)`

func scanDelivery(row interface{ Scan(...any) error }) (WebhookDelivery, error) {
	var d WebhookDelivery
	var ms, created, last, delivered int64
	err := row.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.Event, &d.TicketID, &d.State, &d.Attempts, &d.StatusCode,
		&d.Error, &ms, &d.Answer, &created, &last, &delivered)
	d.Duration = time.Duration(ms) * time.Millisecond
	d.CreatedAt, d.LastAttemptAt, d.DeliveredAt = unix(created), unix(last), unix(delivered)
	return d, err
}

// WebhookDeliveries lists endpoint id's deliveries, newest first, with ids below before (0:
// from the newest), at most limit: the owner and admins.
func (s *Service) WebhookDeliveries(ctx context.Context, org *catalog.Organization, a Actor, id, before int64, limit int) ([]WebhookDelivery, error) {
	if err := mayManage(a); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	if before <= 0 {
		before = 1 << 62
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	// A delivery the outbox gave up on by itself (its log row never settled) shows as failed.
	rows, err := db.db.QueryContext(ctx, "SELECT "+strings.Replace(deliveryColumns, "CAST(state AS BLOB)",
		"CAST(CASE WHEN state = 'pending' AND EXISTS (SELECT 1 FROM outbox o WHERE o.kind = ? AND o.dedupe_key = 'delivery/' || d.id AND o.state = 'failed') THEN 'failed' ELSE state END AS BLOB)", 1)+
		` FROM webhook_deliveries d WHERE endpoint_id = ? AND id < ? ORDER BY id DESC LIMIT ?`, WebhookKind, id, before, limit)
	if err != nil {
		return nil, fmt.Errorf("desk.WebhookDeliveries: %w", err)
	}
	defer rows.Close()
	var out []WebhookDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("desk.WebhookDeliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ResendWebhook sends delivery deliveryID of endpoint id again, as a new delivery with the same
// event id and body (receivers that saw it already deduplicate it): the owner and admins.
func (s *Service) ResendWebhook(ctx context.Context, org *catalog.Organization, a Actor, id, deliveryID int64) (WebhookDelivery, error) {
	if err := mayManage(a); err != nil {
		return WebhookDelivery{}, err
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return WebhookDelivery{}, err
	}
	defer release()
	now := stamp(s.now)
	var d WebhookDelivery
	kick := false
	err = db.inTx(ctx, "ResendWebhook", func(tx *sql.Tx) error {
		ws, err := db.webhooks(ctx, tx, "id = ?", id)
		if err != nil {
			return err
		}
		if len(ws) == 0 || ws[0].Removed() {
			return notFound(CodeWebhookGone)
		}
		var body string
		err = tx.QueryRowContext(ctx, "SELECT "+deliveryColumns+", CAST(body AS BLOB) FROM webhook_deliveries WHERE id = ? AND endpoint_id = ?",
			deliveryID, id).Scan(&d.ID, &d.EndpointID, &d.EventID, &d.Event, &d.TicketID, &d.State, &d.Attempts, &d.StatusCode,
			&d.Error, new(int64), &d.Answer, new(int64), new(int64), new(int64), &body)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(CodeWebhookGone)
		}
		if err != nil {
			return err
		}
		item, err := newDelivery(ctx, tx, now, ws[0], d.EventID, d.Event, d.TicketID, 0, []byte(body))
		if err != nil {
			return err
		}
		d = WebhookDelivery{ID: item.deliveryID, EndpointID: id, EventID: d.EventID, Event: d.Event, TicketID: d.TicketID,
			State: DeliveryPending, CreatedAt: now}
		first, err := enqueue(ctx, tx, now, []OutboxItem{item.OutboxItem})
		if err != nil {
			return err
		}
		if !first.IsZero() {
			kick = true
			s.outboxWake(ctx, org, ts, first)
		}
		// A resend sends an event again to a receiver: who did it belongs in the log.
		return writeAudit(ctx, tx, now, a, audit{event: AuditWebhookResent, targetKind: TargetWebhook, targetID: id,
			detail: map[string]string{"event": d.Event, "event_id": d.EventID}})
	})
	if err != nil {
		return WebhookDelivery{}, err
	}
	if kick {
		s.kickOutbox(org)
	}
	return d, nil
}

// deliveryItem is a new delivery: its log row's id and its outbox item.
type deliveryItem struct {
	OutboxItem
	deliveryID int64
}

// webhookPayload is a webhook outbox item's payload: the delivery it sends.
type webhookPayload struct {
	Delivery int64 `json:"delivery"`
}

// newDelivery writes a pending delivery of body to endpoint w in q and returns its outbox
// item.
func newDelivery(ctx context.Context, q querier, now time.Time, w Webhook, eventID, event string, ticketID, messageID int64, body []byte) (deliveryItem, error) {
	var ticket any
	if ticketID != 0 {
		ticket = ticketID
	}
	var id int64
	if err := q.QueryRowContext(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id, event, ticket_id, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, w.ID, eventID, event, ticket, string(body), now.Unix()).Scan(&id); err != nil {
		return deliveryItem{}, err
	}
	payload, err := json.Marshal(webhookPayload{Delivery: id})
	if err != nil {
		return deliveryItem{}, err
	}
	return deliveryItem{deliveryID: id, OutboxItem: OutboxItem{Kind: WebhookKind, Key: "delivery/" + strconv.FormatInt(id, 10),
		Target: clipBytes(w.URL, maxOutboxTarget), TicketID: ticketID, MessageID: messageID, Payload: payload}}, nil
}

// ---------------------------------------------------------------------------------------------
// The events

// WebhookEvent is the body of a delivery.
type WebhookEvent struct {
	// ID is the event's id: the same in every delivery of the event (to each endpoint, each
	// attempt, each resend).
	ID           string `json:"id"`
	Type         string `json:"type"`
	CreatedAt    string `json:"created_at"`
	Organization string `json:"organization"`
	Data         struct {
		Ticket  *webhookTicket  `json:"ticket,omitempty"`
		Message *webhookMessage `json:"message,omitempty"`
		// Changes lists what a ticket.updated changed: status, assignee, priority, tags.
		Changes []string `json:"changes,omitempty"`
		// Activity is the activity line of the change, when it wrote one.
		Activity *Activity `json:"activity,omitempty"`
	} `json:"data"`
}

type webhookTicket struct {
	ID            int64    `json:"id"`
	ContactID     int64    `json:"contact_id"`
	CustomerName  string   `json:"customer_name"`
	CustomerEmail string   `json:"customer_email"`
	Query         string   `json:"query"`
	Status        string   `json:"status"`
	Priority      string   `json:"priority"`
	AssigneeID    *int64   `json:"assignee_id"`
	Tags          []string `json:"tags"`
	Rating        *int     `json:"rating"`
	RatingComment string   `json:"rating_comment,omitempty"`
	CreatedAt     string   `json:"created_at"`
	UpdatedAt     string   `json:"updated_at"`
}

type webhookMessage struct {
	ID        int64  `json:"id"`
	Sender    string `json:"sender"`
	AgentID   *int64 `json:"agent_id"`
	AgentName string `json:"agent_name,omitempty"`
	Body      string `json:"body"`
	CreatedAt string `json:"created_at"`
}

// clipBytes shortens s to at most n bytes (n ≥ 4), ending in "…" when it was longer, without
// splitting a character: the outbox bounds its targets in bytes, and an endpoint's URL may be
// longer.
func clipBytes(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// webhookEvents names the events change c is: a new ticket, a message or a note (and the
// ticket change a message brought), a ticket's update, a rating.
func webhookEvents(c change) []string {
	var out []string
	switch c.Kind {
	case TicketChanged:
		if c.Changed&ChangedCreated != 0 {
			out = append(out, WebhookTicketCreated)
		}
		if c.Changed&(ChangedStatus|ChangedAssignee|ChangedPriority|ChangedTags) != 0 {
			out = append(out, WebhookTicketUpdated)
		}
		if c.Changed&ChangedRating != 0 {
			out = append(out, WebhookRatingCreated)
		}
	case MessageAdded:
		switch c.Sender {
		case SenderCustomer, SenderAgent:
			out = append(out, WebhookMessageCreated)
		case SenderNote:
			out = append(out, WebhookNoteCreated)
		}
		if c.Activity != nil {
			out = append(out, WebhookTicketUpdated)
		}
	}
	return out
}

// changesOf words what a ticket.updated changed.
func changesOf(c change) []string {
	var out []string
	if c.Activity != nil {
		switch c.Activity.Kind {
		case "assigned":
			return []string{"assignee"}
		case "status", "priority", "tags":
			return []string{c.Activity.Kind}
		}
	}
	for _, x := range []struct {
		bit  Change
		name string
	}{{ChangedStatus, "status"}, {ChangedAssignee, "assignee"}, {ChangedPriority, "priority"}, {ChangedTags, "tags"}} {
		if c.Changed&x.bit != 0 {
			out = append(out, x.name)
		}
	}
	return out
}

// newEventID is an event's id: "evt_" and 128 random bits.
func newEventID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "evt_" + base64.RawURLEncoding.EncodeToString(b)
}

// webhookProducer turns a change into deliveries to every live endpoint that wants its
// events, inside the change's transaction.
func (s *Service) webhookProducer(ctx context.Context, q querier, org *catalog.Organization, c change) ([]OutboxItem, error) {
	events := webhookEvents(c)
	if len(events) == 0 || c.TicketID == 0 {
		return nil, nil
	}
	db := &store{now: s.now}
	endpoints, err := db.webhooks(ctx, q, "removed_at IS NULL")
	if err != nil || len(endpoints) == 0 {
		return nil, err
	}
	var t *webhookTicket
	var items []OutboxItem
	for _, ev := range events {
		var body []byte
		eventID := newEventID()
		for _, w := range endpoints {
			if !slices.Contains(w.Events, ev) {
				continue
			}
			if body == nil {
				if t == nil {
					if t, err = webhookTicketOf(ctx, q, c.TicketID); err != nil {
						return nil, err
					}
				}
				if body, err = eventBody(eventID, ev, org, c, t); err != nil {
					return nil, err
				}
			}
			item, err := newDelivery(ctx, q, c.Now, w, eventID, ev, c.TicketID, c.MessageID, body)
			if err != nil {
				return nil, err
			}
			items = append(items, item.OutboxItem)
		}
	}
	return items, nil
}

// webhookTicketOf reads ticket id as it is in q now.
func webhookTicketOf(ctx context.Context, q querier, id int64) (*webhookTicket, error) {
	tk, err := scanTicket(q.QueryRowContext(ctx, ticketSelect+"WHERE t.id = ?", id))
	if err != nil {
		return nil, err
	}
	tags := tk.Tags
	if tags == nil {
		tags = []string{}
	}
	t := &webhookTicket{ID: tk.ID, ContactID: tk.ContactID, CustomerName: tk.CustomerName, CustomerEmail: tk.CustomerEmail,
		Query: tk.Query, Status: tk.Status, Priority: tk.Priority.String(), Tags: tags, CreatedAt: rfc3339(tk.CreatedAt),
		UpdatedAt: rfc3339(tk.UpdatedAt)}
	if tk.AssigneeID != 0 {
		t.AssigneeID = &tk.AssigneeID
	}
	if tk.Rating != 0 {
		t.Rating, t.RatingComment = &tk.Rating, tk.RatingComment
	}
	return t, nil
}

// eventBody is the JSON body of event ev of change c.
func eventBody(id, ev string, org *catalog.Organization, c change, t *webhookTicket) ([]byte, error) {
	e := WebhookEvent{ID: id, Type: ev, CreatedAt: rfc3339(c.Now), Organization: org.Username}
	e.Data.Ticket = t
	switch ev {
	case WebhookMessageCreated, WebhookNoteCreated:
		if m := c.Message; m != nil {
			wm := &webhookMessage{ID: m.ID, Sender: m.Sender, AgentName: m.AgentName, Body: m.Body, CreatedAt: rfc3339(m.CreatedAt)}
			if m.AgentID != 0 {
				wm.AgentID = &m.AgentID
			}
			e.Data.Message = wm
		}
	case WebhookTicketUpdated:
		e.Data.Changes = changesOf(c)
		e.Data.Activity = c.Activity
	}
	return json.Marshal(e)
}

// ---------------------------------------------------------------------------------------------
// Delivering (for the Sender)

// WebhookJob is what a delivery sends: where, signed with what, which event, which bytes.
type WebhookJob struct {
	DeliveryID int64
	// EndpointID and TicketID say whose order the delivery keeps (TicketID 0: none).
	EndpointID, TicketID int64
	URL                  string
	Secret               string
	EventID              string
	Body                 []byte
	// Wait says an older delivery of the same endpoint and ticket is still pending: this one
	// must wait, so that the receiver gets the ticket's events in order.
	Wait bool
	// InFlight says such an older delivery is being attempted right now (its outbox item is
	// leased, by this instance or another): it is worth waiting a moment for it rather than
	// retrying later.
	InFlight bool
	// Gone says the endpoint was removed: the delivery is given up.
	Gone bool
}

// olderPendingQuery asks whether an older delivery of the same endpoint and ticket is still to
// be made, and whether one is leased now (now, kind, endpoint, ticket, delivery id).
const olderPendingQuery = `SELECT count(*) > 0, COALESCE(max(o.lease_until > ?), 0) FROM webhook_deliveries d
	JOIN outbox o ON o.kind = ? AND o.dedupe_key = 'delivery/' || d.id
	WHERE d.endpoint_id = ? AND d.ticket_id = ? AND d.id < ? AND d.state = 'pending' AND o.state = 'pending'`

// nextPendingQuery finds the next delivery of the same endpoint and ticket still to be made
// after a delivery (its id).
const nextPendingQuery = `SELECT min(n.id) FROM webhook_deliveries d JOIN webhook_deliveries n
	ON n.endpoint_id = d.endpoint_id AND n.ticket_id = d.ticket_id AND n.id > d.id AND n.state = 'pending'
	WHERE d.id = ?`

// ErrWebhookSecret is WebhookJob's error when the endpoint's signing secret does not open: it
// was sealed with another server secret (a changed SESSION_SECRET, a database imported from
// elsewhere). No later attempt does better; the endpoint must be added again.
var ErrWebhookSecret = errors.New("the signing secret cannot be read")

// WebhookJob reads what outbox item it delivers: the system only (the Sender). When the
// secret does not open, the error is ErrWebhookSecret and the job still names the delivery.
func (s *Service) WebhookJob(ctx context.Context, org *catalog.Organization, a Actor, it OutboxItem) (WebhookJob, error) {
	if a.Kind != System {
		return WebhookJob{}, apperr.New(apperr.Forbidden, CodeForbidden)
	}
	var p webhookPayload
	if err := json.Unmarshal(it.Payload, &p); err != nil || p.Delivery <= 0 {
		return WebhookJob{}, fmt.Errorf("desk.WebhookJob: payload %q", it.Payload)
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return WebhookJob{}, err
	}
	defer release()
	j := WebhookJob{DeliveryID: p.Delivery}
	var endpoint, ticket, removed int64
	var body, sealed string
	err = db.db.QueryRowContext(ctx, `SELECT d.endpoint_id, COALESCE(d.ticket_id, 0), CAST(d.event_id AS BLOB), CAST(d.body AS BLOB),
		CAST(w.url AS BLOB), CAST(w.secret AS BLOB), COALESCE(w.removed_at, 0)
		FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.id = ?`, p.Delivery).
		Scan(&endpoint, &ticket, &j.EventID, &body, &j.URL, &sealed, &removed)
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookJob{Gone: true}, nil
	}
	if err != nil {
		return WebhookJob{}, fmt.Errorf("desk.WebhookJob: %w", err)
	}
	if removed != 0 {
		return WebhookJob{DeliveryID: p.Delivery, Gone: true}, nil
	}
	j.Body, j.EndpointID, j.TicketID = []byte(body), endpoint, ticket
	if ticket != 0 {
		// Only an older delivery the outbox still holds counts: one the outbox gave up on
		// without its log row being settled (a crash, an error reading it) holds nothing back.
		if err := db.db.QueryRowContext(ctx, olderPendingQuery, stamp(s.now).Unix(), WebhookKind, endpoint, ticket, p.Delivery).
			Scan(&j.Wait, &j.InFlight); err != nil {
			return WebhookJob{}, fmt.Errorf("desk.WebhookJob: %w", err)
		}
	}
	if j.Secret, err = s.secrets.Open(s.sealName(org, endpoint), sealed); err != nil {
		j.Secret = ""
		return j, fmt.Errorf("desk.WebhookJob: %w: %w", ErrWebhookSecret, err)
	}
	return j, nil
}

// pruneDeliveries deletes some settled deliveries made before before. It reads only the
// oldest rows of the log (ids are given in time order), so its work stays bounded however long
// the log is.
func pruneDeliveries(ctx context.Context, q querier, before time.Time) error {
	_, err := q.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
		WHERE id < (SELECT COALESCE(min(id), 0) + 2000 FROM webhook_deliveries) AND created_at < ? AND state != 'pending'
		ORDER BY id LIMIT 500)`, before.Unix())
	if err != nil {
		return fmt.Errorf("desk.pruneDeliveries: %w", err)
	}
	return nil
}

// WebhookAttempt is what one attempt of a delivery got.
type WebhookAttempt struct {
	// State is DeliveryDelivered, DeliveryFailed (given up) or DeliveryPending (to retry).
	State      string
	StatusCode int
	Error      string
	Duration   time.Duration
	Answer     []byte
}

// RecordWebhookAttempt writes an attempt into delivery id's log row: the system only. When
// the delivery is settled (delivered or given up), the next delivery of its endpoint and
// ticket, which waited for it, is made due at once.
func (s *Service) RecordWebhookAttempt(ctx context.Context, org *catalog.Organization, a Actor, id int64, at WebhookAttempt) error {
	if a.Kind != System {
		return apperr.New(apperr.Forbidden, CodeForbidden)
	}
	if at.State != DeliveryDelivered && at.State != DeliveryFailed && at.State != DeliveryPending {
		return fmt.Errorf("desk.RecordWebhookAttempt: state %q", at.State)
	}
	answer := at.Answer
	if len(answer) > webhookAnswer {
		answer = answer[:webhookAnswer]
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return err
	}
	defer release()
	now := stamp(s.now)
	var delivered any
	if at.State == DeliveryDelivered {
		delivered = now.Unix()
	}
	var code any
	if at.StatusCode != 0 {
		code = at.StatusCode
	}
	ts := s.tenant(org)
	due := false
	err = db.inTx(ctx, "RecordWebhookAttempt", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, status_code = ?,
			error = ?, duration_ms = ?, answer = ?, last_attempt_at = ?, delivered_at = COALESCE(delivered_at, ?) WHERE id = ?`,
			at.State, code, clipRunes(at.Error, 300), at.Duration.Milliseconds(), clipRunes(strings.ToValidUTF8(string(answer), "\uFFFD"), webhookAnswer),
			now.Unix(), delivered, id)
		if err != nil || at.State == DeliveryPending {
			return err
		}
		if mrand.IntN(64) == 0 {
			if err := pruneDeliveries(ctx, tx, now.Add(-deliveryKeep)); err != nil {
				return err
			}
		}
		var next sql.NullInt64
		if err := tx.QueryRowContext(ctx, nextPendingQuery, id).Scan(&next); err != nil || !next.Valid {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET next_attempt_at = ?, updated_at = ? WHERE kind = ? AND dedupe_key = ?
			AND state = 'pending' AND next_attempt_at > ? AND (lease_until IS NULL OR lease_until <= ?)`,
			now.Unix(), now.Unix(), WebhookKind, "delivery/"+strconv.FormatInt(next.Int64, 10), now.Unix(), now.Unix())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			due = true
			s.outboxWake(ctx, org, ts, now)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("desk.RecordWebhookAttempt: %w", err)
	}
	if due {
		s.kickOutbox(org)
	}
	return nil
}
