package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a real HTTP server on a loopback address that counts what reaches it and
// checks every signature the way a customer's receiver would.
type receiver struct {
	*httptest.Server
	hits atomic.Int32

	mu  sync.Mutex
	got []received
}

type received struct {
	eventID, contentType, userAgent string
	body                            []byte
	verify                          error
}

// newReceiver starts a receiver on network ("tcp4" or "tcp6") that verifies signatures with
// secret and answers with answer (nil: 200 "ok" when the signature holds, 401 otherwise).
func newReceiver(t *testing.T, network, secret string, answer http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil {
			t.Errorf("receiver: reading the body: %v", err)
		}
		v := Verify(secret, req.Header.Get(SignatureHeader), body, time.Now(), 0)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Get(EventIDHeader), req.Header.Get("Content-Type"), req.Header.Get("User-Agent"), body, v})
		r.mu.Unlock()
		if answer != nil {
			answer(w, req)
			return
		}
		if v != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("no %s loopback here: %v", network, err)
	}
	r.Listener.Close()
	r.Listener = l
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) port() string {
	_, p, _ := net.SplitHostPort(r.Listener.Addr().String())
	return p
}

func (r *receiver) addrPort() netip.AddrPort {
	return netip.MustParseAddrPort(r.Listener.Addr().String())
}

func delivery(url, secret, id string) Delivery {
	return Delivery{URL: url, Secret: secret, EventID: id, Body: []byte(`{"id":"` + id + `","event":"ticket.created"}`)}
}

// TestDeliverSigned: with AllowPrivate, deliveries reach a loopback receiver, which finds
// every signature valid, in order, with the event id, the JSON type and the user agent.
func TestDeliverSigned(t *testing.T) {
	secret := NewSecret()
	rcv := newReceiver(t, "tcp4", secret, nil)
	c := NewClient(Options{AllowPrivate: true})
	defer c.CloseIdleConnections()
	for i := range 3 {
		id := fmt.Sprintf("evt_%d", i)
		r := c.Deliver(context.Background(), delivery(rcv.URL+"/hooks?x=1", secret, id))
		if r.Kind != Delivered || r.Status != 200 || string(r.Answer) != "ok" || r.Err != nil || r.Duration <= 0 || r.Retryable() {
			t.Fatalf("Deliver %s = %+v", id, r)
		}
	}
	if len(rcv.got) != 3 {
		t.Fatalf("receiver got %d deliveries, want 3", len(rcv.got))
	}
	for i, g := range rcv.got {
		id := fmt.Sprintf("evt_%d", i)
		if g.verify != nil || g.eventID != id || !bytes.Equal(g.body, delivery("", "", id).Body) ||
			g.contentType != "application/json" || g.userAgent != "tenantdesk-webhook" {
			t.Errorf("delivery %d arrived as %+v", i, g)
		}
	}

	// Signed with another secret, the receiver refuses it: an answer, final.
	r := c.Deliver(context.Background(), delivery(rcv.URL, NewSecret(), "evt_x"))
	if r.Kind != Status || r.Status != http.StatusUnauthorized || r.Retryable() || !strings.Contains(string(r.Answer), "bad signature") {
		t.Fatalf("Deliver with the wrong secret = %+v", r)
	}
	if g := rcv.got[len(rcv.got)-1]; !errors.Is(g.verify, ErrMismatch) {
		t.Fatalf("receiver's check of the wrong secret: %v", g.verify)
	}

	// IPv6 loopback and a name that resolves to loopback work too.
	rcv6 := newReceiver(t, "tcp6", secret, nil)
	for _, u := range []string{rcv6.URL, "http://localhost:" + rcv.port() + "/"} {
		if r := c.Deliver(context.Background(), delivery(u, secret, "evt_6")); r.Kind != Delivered {
			t.Errorf("Deliver to %s with AllowPrivate = %+v", u, r)
		}
	}
}

// TestSSRFRefused: without AllowPrivate, nothing reaches a receiver on this machine, however
// its address is spelled, and the metadata service is never asked.
func TestSSRFRefused(t *testing.T) {
	secret := NewSecret()
	rcv := newReceiver(t, "tcp4", secret, nil)
	p := rcv.port()
	urls := []string{
		rcv.URL,
		"http://localhost:" + p + "/",
		"http://LOCALHOST:" + p + "/",
		"http://127.0.0.1:" + p + "/",
		"http://127.0.0.2:" + p + "/",
		"http://0.0.0.0:" + p + "/",
		"http://[::]:" + p + "/",
		"http://[::ffff:127.0.0.1]:" + p + "/",
		"http://[::ffff:7f00:1]:" + p + "/",
		"http://[64:ff9b::7f00:1]:" + p + "/",
		"http://2130706433:" + p + "/",
		"http://0177.0.0.1:" + p + "/",
		"http://0x7f.0.0.1:" + p + "/",
		"http://127.1:" + p + "/",
		"http://169.254.169.254/latest/meta-data/",
		"http://[fd00:ec2::254]/latest/meta-data/",
		"http://10.0.0.1/",
		"http://user:pw@example.com/",
		"file:///etc/passwd",
	}
	rcv6 := newReceiver(t, "tcp6", secret, nil)
	urls = append(urls, rcv6.URL, "http://[::1]:"+rcv6.port()+"/")

	c := NewClient(Options{})
	for _, u := range urls {
		r := c.Deliver(context.Background(), delivery(u, secret, "evt_ssrf"))
		if r.Kind != Refused || r.Status != 0 || r.Retryable() || r.Err == nil {
			t.Errorf("Deliver to %s = %+v, want refused", u, r)
		}
	}
	if n := rcv.hits.Load() + rcv6.hits.Load(); n != 0 {
		t.Fatalf("%d deliveries reached the loopback receivers", n)
	}
}

// TestDialGuard: the check on the connected address holds by itself, for URLs that pass
// validation (a name that resolves to loopback) and for requests that skip it.
func TestDialGuard(t *testing.T) {
	rcv := newReceiver(t, "tcp4", "s", nil)
	rcv6 := newReceiver(t, "tcp6", "s", nil)
	p := rcv.port()
	c := NewClient(Options{})
	for _, u := range []string{
		"http://localhost:" + p + "/",
		"http://127.0.0.1:" + p + "/",
		"http://0.0.0.0:" + p + "/",
		"http://[::ffff:127.0.0.1]:" + p + "/",
		"http://[::1]:" + rcv6.port() + "/",
	} {
		_, err := c.http.Get(u)
		var re *RefusedError
		if !errors.As(err, &re) {
			t.Errorf("GET %s without validation: %v, want a *RefusedError", u, err)
		}
	}
	// Numeric host spellings: a resolver either reads them as 127.0.0.1 (then the guard
	// refuses) or looks them up as names (and fails); either way nothing connects.
	for _, u := range []string{"http://2130706433:" + p + "/", "http://0177.0.0.1:" + p + "/", "http://0x7f000001:" + p + "/"} {
		if resp, err := c.http.Get(u); err == nil {
			resp.Body.Close()
			t.Errorf("GET %s without validation succeeded", u)
		}
	}
	if n := rcv.hits.Load() + rcv6.hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the receivers", n)
	}
	if c.transport.Proxy != nil {
		t.Fatal("the transport uses a proxy: the guard would check the proxy's address")
	}
}

// TestRedirectNotFollowed: a 3xx is the answer, recorded; the address it points to is never
// contacted, private or not.
func TestRedirectNotFollowed(t *testing.T) {
	secret := NewSecret()
	target := newReceiver(t, "tcp4", secret, nil)
	var location atomic.Value
	redirector := newReceiver(t, "tcp4", secret, func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.Header().Set("Location", location.Load().(string))
		w.WriteHeader(code)
		io.WriteString(w, "moved")
	})
	// A receiver the rules would allow (public), standing in through the test-only hook, and
	// one allowed by AllowPrivate. Its URL names it by a name, which validation leaves to the
	// connection-time check that the hook opens for exactly its address.
	public := NewClient(Options{})
	public.allowAddr = func(ap netip.AddrPort) bool { return ap == redirector.addrPort() }
	onPrem := NewClient(Options{AllowPrivate: true})
	for _, c := range []*Client{public, onPrem} {
		for _, loc := range []string{target.URL + "/stolen", "http://169.254.169.254/latest/meta-data/", "http://localhost:" + target.port() + "/"} {
			location.Store(loc)
			for _, code := range []int{301, 302, 303, 307, 308} {
				r := c.Deliver(context.Background(), delivery("http://localhost:"+redirector.port()+"/?code="+strconv.Itoa(code), secret, "evt_r"))
				if r.Kind != Status || r.Status != code || r.Retryable() || string(r.Answer) != "moved" {
					t.Errorf("redirect %d to %s: %+v", code, loc, r)
				}
			}
		}
	}
	if n := target.hits.Load(); n != 0 {
		t.Fatalf("the redirect target was reached %d times", n)
	}
	if n := redirector.hits.Load(); n != 30 {
		t.Fatalf("the redirector got %d deliveries, want 30", n)
	}
}

func TestStatusAnswers(t *testing.T) {
	secret := NewSecret()
	rcv := newReceiver(t, "tcp4", secret, func(w http.ResponseWriter, r *http.Request) {
		if ra := r.URL.Query().Get("retry"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
	})
	c := NewClient(Options{AllowPrivate: true})
	inTwoMinutes := time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)
	for _, tt := range []struct {
		code       int
		retry      string
		kind       Kind
		retryable  bool
		retryAfter time.Duration
	}{
		{200, "", Delivered, false, 0},
		{202, "", Delivered, false, 0},
		{204, "", Delivered, false, 0},
		{304, "", Status, false, 0},
		{400, "", Status, false, 0},
		{401, "", Status, false, 0},
		{404, "", Status, false, 0},
		{408, "", Status, true, 0},
		{410, "", Status, false, 0},
		{422, "", Status, false, 0},
		{425, "", Status, true, 0},
		{429, "30", Status, true, 30 * time.Second},
		{500, "", Status, true, 0},
		{502, "", Status, true, 0},
		{503, inTwoMinutes, Status, true, 2 * time.Minute},
		{503, "999999999", Status, true, 24 * time.Hour},
		{503, "soon", Status, true, 0},
		{599, "", Status, true, 0},
	} {
		u := rcv.URL + "/?code=" + strconv.Itoa(tt.code) + "&retry=" + url.QueryEscape(tt.retry)
		r := c.Deliver(context.Background(), delivery(u, secret, "evt_s"))
		okRetry := r.RetryAfter == tt.retryAfter || tt.retryAfter == 2*time.Minute && r.RetryAfter > 2*time.Minute-3*time.Second && r.RetryAfter <= 2*time.Minute
		if r.Kind != tt.kind || r.Status != tt.code || r.Retryable() != tt.retryable || !okRetry || (r.Err == nil) != (tt.kind == Delivered) {
			t.Errorf("answer %d (Retry-After %q): %+v; want kind %q, retryable %v, retry after %v", tt.code, tt.retry, r, tt.kind, tt.retryable, tt.retryAfter)
		}
	}
}

// TestAnswerKept: of a large answer only the first kilobyte is kept, and a receiver that
// stalls after it does not hold the delivery.
func TestAnswerKept(t *testing.T) {
	secret := NewSecret()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	release := make(chan struct{})
	defer close(release)
	rcv := newReceiver(t, "tcp4", secret, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			w.WriteHeader(500)
			w.Write(big[:2048])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write(big)
	})
	c := NewClient(Options{AllowPrivate: true, Timeout: 5 * time.Second})
	r := c.Deliver(context.Background(), delivery(rcv.URL, secret, "evt_big"))
	if r.Kind != Delivered || !bytes.Equal(r.Answer, big[:MaxAnswer]) {
		t.Fatalf("a 1 MiB answer: kind %q, %d bytes kept", r.Kind, len(r.Answer))
	}
	r = c.Deliver(context.Background(), delivery(rcv.URL+"/stall", secret, "evt_stall"))
	if r.Kind != Status || r.Status != 500 || !bytes.Equal(r.Answer, big[:MaxAnswer]) || r.Duration > 3*time.Second {
		t.Fatalf("a stalling answer: %+v", r)
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	secret := NewSecret()
	rcv := newReceiver(t, "tcp4", secret, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	c := NewClient(Options{AllowPrivate: true, Timeout: 300 * time.Millisecond})
	r := c.Deliver(context.Background(), delivery(rcv.URL, secret, "evt_slow"))
	if r.Kind != Timeout || !r.Retryable() || r.Status != 0 || r.Duration < 300*time.Millisecond || r.Duration > 3*time.Second {
		t.Fatalf("a receiver slower than the timeout: %+v", r)
	}

	slow := NewClient(Options{AllowPrivate: true})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	r = slow.Deliver(ctx, delivery(rcv.URL, secret, "evt_cancel"))
	if r.Kind != Canceled || !r.Retryable() || r.Duration > 3*time.Second {
		t.Fatalf("a canceled delivery: %+v", r)
	}
}

func TestConnectionFailures(t *testing.T) {
	c := NewClient(Options{AllowPrivate: true, Timeout: 3 * time.Second})
	// A port nothing listens on.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/"
	l.Close()
	r := c.Deliver(context.Background(), delivery(closed, "s", "evt_c"))
	if r.Kind != Connection || !r.Retryable() || r.Err == nil {
		t.Fatalf("a closed port: %+v", r)
	}

	// A TLS receiver whose certificate nobody vouches for: no handshake, nothing delivered.
	var hits atomic.Int32
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	r = c.Deliver(context.Background(), delivery(tlsSrv.URL, "s", "evt_tls"))
	if r.Kind != Connection || !r.Retryable() || hits.Load() != 0 {
		t.Fatalf("an untrusted certificate: %+v (%d requests arrived)", r, hits.Load())
	}
}

func TestInvalidDelivery(t *testing.T) {
	rcv := newReceiver(t, "tcp4", "s", nil)
	c := NewClient(Options{AllowPrivate: true})
	for _, d := range []Delivery{
		{URL: rcv.URL, Secret: "", EventID: "evt_1"},
		{URL: rcv.URL, Secret: "s", EventID: ""},
		{URL: rcv.URL, Secret: "s", EventID: "evt 1"},
		{URL: rcv.URL, Secret: "s", EventID: "evt_1\r\nX-Injected: 1"},
		{URL: rcv.URL, Secret: "s", EventID: strings.Repeat("e", 201)},
	} {
		if r := c.Deliver(context.Background(), d); r.Kind != Invalid || r.Retryable() {
			t.Errorf("Deliver(%+v) = %+v, want invalid", d, r)
		}
	}
	if n := rcv.hits.Load(); n != 0 {
		t.Fatalf("%d invalid deliveries were sent", n)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 2 * time.Minute},
		{"-5", 0},
		{"1.5", 0},
		{"86401", 24 * time.Hour},
		{"Mon, 09 Mar 2026 12:05:00 GMT", 5 * time.Minute},
		{"Mon, 09 Mar 2026 11:55:00 GMT", 0},
		{"Mon, 09 Mar 2099 12:05:00 GMT", 24 * time.Hour},
	} {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
