package handlers_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/handlers/webhook"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// hookReceiver is a real HTTP server on a loopback port that checks every delivery's
// signature as a customer's receiver would, and can die and come back on the same port.
type hookReceiver struct {
	t      *testing.T
	addr   string
	secret string
	answer func(w http.ResponseWriter, r *http.Request) bool // true: answered it

	mu   sync.Mutex
	srv  *http.Server
	got  []hookEvent
	bad  []string
	hits int
}

type hookEvent struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	CreatedAt string `json:"created_at"`
	Org       string `json:"organization"`
	Data      struct {
		Ticket *struct {
			ID         int64    `json:"id"`
			Status     string   `json:"status"`
			Priority   string   `json:"priority"`
			AssigneeID *int64   `json:"assignee_id"`
			Tags       []string `json:"tags"`
			Rating     *int     `json:"rating"`
			Comment    string   `json:"rating_comment"`
		} `json:"ticket"`
		Message *struct {
			Sender string `json:"sender"`
			Body   string `json:"body"`
		} `json:"message"`
		Changes []string `json:"changes"`
	} `json:"data"`
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hookReceiver{t: t, addr: l.Addr().String()}
	h.serve(l)
	t.Cleanup(h.stop)
	return h
}

func (h *hookReceiver) url() string { return "http://" + h.addr + "/hooks" }

func (h *hookReceiver) serve(l net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(h.handle), ReadHeaderTimeout: 5 * time.Second}
	h.mu.Lock()
	h.srv = srv
	h.mu.Unlock()
	go srv.Serve(l)
}

// stop kills the receiver: its port refuses connections until start.
func (h *hookReceiver) stop() {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// start brings the receiver back on its port.
func (h *hookReceiver) start() {
	h.t.Helper()
	var l net.Listener
	var err error
	for range 50 { // the old socket may linger a moment
		if l, err = net.Listen("tcp4", h.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	h.serve(l)
}

func (h *hookReceiver) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	h.mu.Lock()
	h.hits++
	secret := h.secret
	h.mu.Unlock()
	if h.answer != nil && h.answer(w, r) {
		return
	}
	if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0); err != nil {
		h.mu.Lock()
		h.bad = append(h.bad, err.Error())
		h.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev hookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != r.Header.Get(webhook.EventIDHeader) || r.Header.Get("Content-Type") != "application/json" {
		h.mu.Lock()
		h.bad = append(h.bad, "body or headers: "+string(body))
		h.mu.Unlock()
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.got = append(h.got, ev)
	h.mu.Unlock()
	io.WriteString(w, "thanks")
}

// events returns what arrived, each event once (the first time it did), in arrival order.
func (h *hookReceiver) events() []hookEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	var out []hookEvent
	for _, e := range h.got {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	return out
}

// waitFor waits until n distinct events arrived.
func (h *hookReceiver) waitFor(n int, within time.Duration) []hookEvent {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := h.events()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			var names []string
			for _, e := range got {
				names = append(names, e.Type)
			}
			h.t.Fatalf("%d of %d events arrived within %v: %v", len(got), n, within, names)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var webhookSecretRE = regexp.MustCompile(`id="webhook-secret"[^>]*>([^<]+)<`)

// addWebhook registers url for events (all when none) on who's /dash/webhooks and returns the
// signing secret.
func (e *env) addWebhook(who *client, url string, events ...string) string {
	e.t.Helper()
	who.get("/dash/webhooks")
	f := form("url", url)
	if len(events) == 0 {
		events = desk.WebhookEvents
	}
	f["events"] = events
	r := who.post("/dash/webhooks", f)
	wantStatus(e.t, r, http.StatusOK)
	m := webhookSecretRE.FindStringSubmatch(r.body)
	if m == nil {
		e.t.Fatalf("no webhook-secret in:\n%.2000s", r.body)
	}
	return m[1]
}

// webhookEnv is a server whose webhooks may go to loopback receivers and are retried fast.
func webhookEnv(t *testing.T) *env {
	cfg := testConfig()
	cfg.WebhookAllowPrivate = true
	cfg.WebhookRetry = desk.OutboxPolicy{FirstRetry: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond,
		GiveUpAfter: time.Minute, Timeout: 5 * time.Second}
	return newEnv(t, cfg)
}

func types(evs []hookEvent) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return strings.Join(out, " ")
}

// TestWebhookEvents: every kind of change reaches a real receiver, signed with the secret
// shown once, with its event id, in the order the changes happened; the delivery log shows
// each delivery with its answer, and resending one sends the same event again.
func TestWebhookEvents(t *testing.T) {
	e := webhookEnv(t)
	o := e.register("acme")
	a := e.onboard(o, "Maria Agent")
	rcv := newHookReceiver(t)
	rcv.secret = e.addWebhook(o.browser, rcv.url())
	if !strings.HasPrefix(rcv.secret, webhook.SecretPrefix) {
		t.Fatalf("secret %q", rcv.secret)
	}
	// The secret is not shown again, nor kept in clear.
	if r := o.browser.get("/dash/webhooks"); r.has(rcv.secret) || !r.has(rcv.url()) {
		t.Fatal("the webhooks page shows the secret again, or not the endpoint")
	}

	cust := e.openTicket("acme", "Printer on fire")
	talk := e.engage(a)
	wantStatus(t, a.browser.post(talk+"/messages", form("message", "Put it out"), htmx), http.StatusOK)
	wantStatus(t, a.browser.post(talk+"/notes", form("note", "Call the fire brigade"), htmx), http.StatusOK)
	wantRedirect(t, a.browser.post("/agent/acme/tickets/1/priority", form("priority", "urgent")), talk)
	wantRedirect(t, a.browser.post("/agent/acme/tickets/1/tags", form("tags", "Fire, hardware")), talk)
	wantStatus(t, cust.browser.post(cust.page+"/messages", form("message", "It is out")), http.StatusSeeOther)
	wantRedirect(t, a.browser.post("/agent/acme/tickets/1/close", nil), talk)
	cust.browser.get(cust.page)
	wantStatus(t, cust.browser.post(cust.page+"/rating", form("rating", "5", "comment", "Quick and calm")), http.StatusSeeOther)

	want := "ticket.created ticket.updated message.created note.created ticket.updated ticket.updated message.created ticket.updated rating.created"
	got := rcv.waitFor(9, 20*time.Second)
	if types(got) != want {
		t.Fatalf("events:\n got %s\nwant %s", types(got), want)
	}
	if len(rcv.bad) > 0 {
		t.Fatalf("refused deliveries: %v", rcv.bad)
	}
	ids := map[string]bool{}
	for _, ev := range got {
		if ids[ev.ID] || !strings.HasPrefix(ev.ID, "evt_") || ev.Org != "acme" || ev.Data.Ticket == nil || ev.Data.Ticket.ID != 1 {
			t.Fatalf("event %+v", ev)
		}
		ids[ev.ID] = true
	}
	if got[1].Data.Changes[0] != "assignee" || got[2].Data.Message.Body != "Put it out" || got[3].Data.Message.Sender != "note" ||
		got[4].Data.Ticket.Priority != "urgent" || strings.Join(got[5].Data.Ticket.Tags, ",") != "fire,hardware" ||
		got[7].Data.Ticket.Status != "closed" || got[8].Data.Ticket.Rating == nil || *got[8].Data.Ticket.Rating != 5 || got[8].Data.Ticket.Comment != "Quick and calm" {
		b, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("event contents:\n%s", b)
	}

	// The log: nine delivered, with the answer's status; resend the first.
	r := o.browser.get("/dash/webhooks/1")
	wantStatus(t, r, http.StatusOK)
	if n := strings.Count(r.body, `data-state="delivered"`); n != 9 || !r.has("answer 200") || !r.has(got[0].ID) {
		t.Fatalf("delivery log: %d delivered\n%.3000s", n, r.body)
	}
	first := regexp.MustCompile(`/dash/webhooks/1/deliveries/(\d+)/resend`).FindAllStringSubmatch(r.body, -1)
	wantRedirect(t, o.browser.post(first[len(first)-1][0], nil), "/dash/webhooks/1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		rcv.mu.Lock()
		n := len(rcv.got)
		rcv.mu.Unlock()
		if n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resend did not arrive: %d deliveries", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rcv.got[9].ID != got[0].ID {
		t.Fatalf("the resend carries event %s, want %s", rcv.got[9].ID, got[0].ID)
	}

	// An endpoint that wants only notes gets only notes; removed, it gets nothing more.
	notes := newHookReceiver(t)
	notes.secret = e.addWebhook(o.browser, notes.url(), desk.WebhookNoteCreated)
	wantStatus(t, a.browser.post(talk+"/notes", form("note", "After closing"), htmx), http.StatusOK)
	if got := notes.waitFor(1, 10*time.Second); types(got) != "note.created" {
		t.Fatalf("notes endpoint: %s", types(got))
	}
	wantRedirect(t, o.browser.post("/dash/webhooks/2/remove", nil), "/dash/webhooks")
	wantStatus(t, a.browser.post(talk+"/notes", form("note", "After removal"), htmx), http.StatusOK)
	rcv.waitFor(11, 10*time.Second) // the first endpoint still hears it
	if n := len(notes.events()); n != 1 {
		t.Fatalf("a removed endpoint got %d events", n)
	}
	// The audit log has both webhooks' creation, the resend and the removal.
	if got := strings.Join(auditEvents(o.browser.get("/dash/audit?event=webhook").body), " "); got != "webhook.removed webhook.created webhook.resent webhook.created" {
		t.Fatalf("audit: %s", got)
	}
}

// TestWebhookReceiverDown: the receiver dies while events keep coming on two tickets, and
// comes back later on the same port: every event arrives, each ticket's in the order they
// happened, all signed.
func TestWebhookReceiverDown(t *testing.T) {
	e := webhookEnv(t)
	o := e.register("acme")
	a := e.onboard(o, "Maria Agent")
	rcv := newHookReceiver(t)
	rcv.secret = e.addWebhook(o.browser, rcv.url(), desk.WebhookTicketCreated, desk.WebhookMessageCreated, desk.WebhookTicketUpdated)

	c1 := e.openTicket("acme", "First question")
	rcv.waitFor(1, 10*time.Second)
	rcv.stop()
	talk := e.engage(a) // ticket 1, the one waiting longest
	c2 := e.openTicket("acme", "Second question")
	for i, body := range []string{"one", "two", "three"} {
		wantStatus(t, c1.browser.post(c1.page+"/messages", form("message", "c1 "+body)), http.StatusSeeOther)
		wantStatus(t, a.browser.post(talk+"/messages", form("message", "a1 "+body), htmx), http.StatusOK)
		if i == 1 {
			wantRedirect(t, a.browser.post("/agent/acme/tickets/1/priority", form("priority", "high")), talk)
		}
		wantStatus(t, c2.browser.post(c2.page+"/messages", form("message", "c2 "+body)), http.StatusSeeOther)
	}
	time.Sleep(500 * time.Millisecond) // deliveries fail and back off meanwhile
	rcv.start()

	got := rcv.waitFor(13, 30*time.Second)
	per := map[int64][]string{}
	for _, ev := range got {
		s := ev.Type
		if ev.Data.Message != nil {
			s += ":" + ev.Data.Message.Body
		}
		per[ev.Data.Ticket.ID] = append(per[ev.Data.Ticket.ID], s)
	}
	want1 := "ticket.created ticket.updated message.created:c1 one message.created:a1 one message.created:c1 two " +
		"message.created:a1 two ticket.updated message.created:c1 three message.created:a1 three"
	want2 := "ticket.created message.created:c2 one message.created:c2 two message.created:c2 three"
	if g := strings.Join(per[1], " "); g != want1 {
		t.Errorf("ticket 1:\n got %s\nwant %s", g, want1)
	}
	if g := strings.Join(per[2], " "); g != want2 {
		t.Errorf("ticket 2:\n got %s\nwant %s", g, want2)
	}
	if len(rcv.bad) > 0 {
		t.Errorf("refused deliveries: %v", rcv.bad)
	}
	// The log shows the failed attempts before the successes.
	r := o.browser.get("/dash/webhooks/1")
	if strings.Count(r.body, `data-state="delivered"`) != 13 || !r.has("attempts") {
		t.Errorf("delivery log after the outage:\n%.3000s", r.body)
	}
}

// TestWebhookSSRF: without WEBHOOK_ALLOW_PRIVATE, loopback, private and metadata addresses
// are refused when registered, and a name that resolves to loopback is refused when the
// delivery connects (it never reaches the receiver); a redirect, even to an address the rules
// allow, is never followed.
func TestWebhookSSRF(t *testing.T) {
	e := newEnv(t)
	o := e.register("acme")
	rcv := newHookReceiver(t)
	_, port, _ := net.SplitHostPort(rcv.addr)
	o.browser.get("/dash/webhooks")
	for _, u := range []string{rcv.url(), "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]:" + port + "/",
		"http://2130706433:" + port + "/", "ftp://example.com/", "http://user:pw@example.com/", "not a url"} {
		f := form("url", u)
		f["events"] = []string{desk.WebhookTicketCreated}
		r := o.browser.post("/dash/webhooks", f)
		if r.status != http.StatusUnprocessableEntity || !r.has(`id="url-error"`) {
			t.Errorf("registering %s: %d", u, r.status)
		}
	}
	f := form("url", "https://hooks.example.com/x")
	if r := o.browser.post("/dash/webhooks", f); r.status != 422 || !r.has(`id="events-error"`) {
		t.Errorf("no events: %d", r.status)
	}
	// A name: accepted at registration, refused at the connection.
	e.addWebhook(o.browser, "http://localhost:"+port+"/hooks", desk.WebhookTicketCreated)
	e.openTicket("acme", "SSRF?")
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := o.browser.get("/dash/webhooks/1")
		if r.has(`data-state="failed"`) {
			if !r.has("refused") {
				t.Errorf("the failed delivery does not say it was refused:\n%.2000s", r.body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivery to localhost did not fail:\n%.2000s", r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rcv.mu.Lock()
	hits := rcv.hits
	rcv.mu.Unlock()
	if hits != 0 {
		t.Fatalf("the loopback receiver got %d requests", hits)
	}
}

// TestWebhookRedirectNotFollowed: a receiver that answers with a redirect gets its answer
// recorded (failed, the 3xx status); the place it points to is never contacted.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	e := webhookEnv(t)
	o := e.register("acme")
	target := newHookReceiver(t)
	redirector := newHookReceiver(t)
	redirector.answer = func(w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, target.url(), http.StatusTemporaryRedirect)
		return true
	}
	e.addWebhook(o.browser, redirector.url(), desk.WebhookTicketCreated)
	e.addWebhook(o.browser, "http://127.0.0.1:1/unreachable", desk.WebhookTicketCreated)
	e.openTicket("acme", "Where do you go?")
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := o.browser.get("/dash/webhooks/1")
		if r.has(`data-state="failed"`) {
			if !r.has("answer 307") {
				t.Errorf("the log does not show the redirect:\n%.2000s", r.body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the redirected delivery did not fail:\n%.2000s", r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	target.mu.Lock()
	hits := target.hits
	target.mu.Unlock()
	if hits != 0 {
		t.Fatalf("the redirect target got %d requests", hits)
	}
	// The unreachable one is retried, pending, with its connection error.
	if r := o.browser.get("/dash/webhooks/2"); !r.has(`data-state="pending"`) || !r.has("connection") {
		t.Errorf("the unreachable endpoint's log:\n%.2000s", r.body)
	}
}

// TestWebhookSurvivesRestart: an event whose delivery failed waits in the outbox through a
// restart of the server, and once the receiver is back it arrives, signed with the secret
// shown before the restart.
func TestWebhookSurvivesRestart(t *testing.T) {
	e := webhookEnv(t)
	o := e.register("acme")
	rcv := newHookReceiver(t)
	rcv.secret = e.addWebhook(o.browser, rcv.url(), desk.WebhookTicketCreated)
	rcv.stop()
	e.openTicket("acme", "Asked before the restart")
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := o.browser.get("/dash/webhooks/1")
		if r.has(`data-state="pending"`) && r.has("connection") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt in the log:\n%.2000s", r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e2 := e.restart()
	o.browser.on(e2)
	rcv.start()
	got := rcv.waitFor(1, 30*time.Second)
	if got[0].Type != desk.WebhookTicketCreated || got[0].Data.Ticket == nil || got[0].Data.Ticket.ID != 1 {
		t.Fatalf("after the restart: %+v", got[0])
	}
	rcv.mu.Lock()
	bad := rcv.bad
	rcv.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("refused deliveries: %v", bad)
	}
	if r := o.browser.get("/dash/webhooks/1"); !r.has(`data-state="delivered"`) {
		t.Fatalf("the log after the restart:\n%.2000s", r.body)
	}
}

// TestWebhookSecretUnreadable: after the server's secret changed, an endpoint's sealed signing
// secret does not open; its deliveries fail at once, saying why, and nothing unsigned or
// wrongly signed reaches the receiver.
func TestWebhookSecretUnreadable(t *testing.T) {
	e := webhookEnv(t)
	o := e.register("acme")
	rcv := newHookReceiver(t)
	rcv.secret = e.addWebhook(o.browser, rcv.url(), desk.WebhookTicketCreated)
	e2 := e.restartSealed("another server secret, 32 bytes")
	o.browser.on(e2)
	e2.openTicket("acme", "After the secret changed")
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := o.browser.get("/dash/webhooks/1")
		if r.has(`data-state="failed"`) {
			if !r.has("signing secret cannot be read") {
				t.Fatalf("the log does not say why:\n%.2000s", r.body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivery did not fail:\n%.2000s", r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rcv.mu.Lock()
	hits := rcv.hits
	rcv.mu.Unlock()
	if hits != 0 {
		t.Fatalf("the receiver got %d requests", hits)
	}
}

// TestWebhookBurstInOrderWithoutBackoff: a burst of one ticket's events to a slow receiver
// arrives in order and promptly: no delivery of it waits out a backoff (the first retry here
// is 30 s, far beyond the deadline), though later ones are claimed while earlier ones are
// under way.
func TestWebhookBurstInOrderWithoutBackoff(t *testing.T) {
	cfg := testConfig()
	cfg.WebhookAllowPrivate = true
	cfg.WebhookRetry = desk.OutboxPolicy{FirstRetry: 30 * time.Second, MaxBackoff: time.Hour, GiveUpAfter: time.Hour,
		Timeout: 25 * time.Second}
	e := newEnv(t, cfg)
	o := e.register("acme")
	rcv := newHookReceiver(t)
	rcv.answer = func(http.ResponseWriter, *http.Request) bool {
		time.Sleep(150 * time.Millisecond) // slow: later events are claimed while one is under way
		return false
	}
	rcv.secret = e.addWebhook(o.browser, rcv.url(), desk.WebhookTicketCreated, desk.WebhookMessageCreated)
	c := e.openTicket("acme", "Burst")
	var want []string
	want = append(want, "ticket.created")
	for _, body := range []string{"one", "two", "three", "four", "five", "six"} {
		wantStatus(t, c.browser.post(c.page+"/messages", form("message", body)), http.StatusSeeOther)
		want = append(want, "message.created:"+body)
	}
	got := rcv.waitFor(len(want), 8*time.Second)
	var seq []string
	for _, ev := range got {
		s := ev.Type
		if ev.Data.Message != nil {
			s += ":" + ev.Data.Message.Body
		}
		seq = append(seq, s)
	}
	if strings.Join(seq, " ") != strings.Join(want, " ") {
		t.Fatalf("events:\n got %s\nwant %s", strings.Join(seq, " "), strings.Join(want, " "))
	}
}
