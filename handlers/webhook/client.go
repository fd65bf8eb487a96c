package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// DefaultTimeout bounds one delivery from the first connection attempt to the last byte of
// the answer kept.
const DefaultTimeout = 10 * time.Second

// MaxAnswer is how much of an answer's body a Result keeps.
const MaxAnswer = 1024

// maxRetryAfter caps a receiver's Retry-After: deliveries are retried for a day at most.
const maxRetryAfter = 24 * time.Hour

// Options configure a Client.
type Options struct {
	// AllowPrivate lets deliveries go to loopback, RFC 1918, CGNAT (100.64.0.0/10) and
	// unique-local IPv6 (fc00::/7) addresses, for receivers on the same premises
	// (WEBHOOK_ALLOW_PRIVATE=true). Link-local and metadata addresses stay refused.
	AllowPrivate bool
	// Timeout bounds each delivery; zero means DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent with each delivery; empty means "tenantdesk-webhook".
	UserAgent string
}

// Client delivers webhooks. It is safe for concurrent use; make one and keep it, so that
// connections to the same receiver are reused.
type Client struct {
	allowPrivate bool
	userAgent    string
	transport    *http.Transport
	http         *http.Client

	// allowAddr, when set, admits an address the rules would refuse. Only tests set it, to
	// stand a loopback server in for a public one.
	allowAddr func(netip.AddrPort) bool
}

// NewClient returns a Client for o.
func NewClient(o Options) *Client {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c := &Client{allowPrivate: o.AllowPrivate, userAgent: o.UserAgent}
	if c.userAgent == "" {
		c.userAgent = "tenantdesk-webhook"
	}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: c.control}
	c.transport = &http.Transport{
		// No proxy, whatever HTTP_PROXY says: through a proxy the address checked would be the
		// proxy's and the proxy would reach any receiver, private ones included.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
	}
	c.http = &http.Client{
		Transport: c.transport,
		Timeout:   timeout,
		// A redirect is the receiver's answer, recorded as it is: following it would let any
		// receiver send deliveries anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// CloseIdleConnections closes the kept-alive connections, as at shutdown.
func (c *Client) CloseIdleConnections() { c.transport.CloseIdleConnections() }

// Delivery is one attempt to deliver an event to an endpoint.
type Delivery struct {
	URL     string // the endpoint, as registered (checked again with ValidateURL)
	Secret  string // the endpoint's signing secret
	EventID string // the event's id: 1–200 visible ASCII characters
	Body    []byte // the JSON body
}

// Kind classifies the outcome of a delivery for the delivery log and the retry decision.
type Kind string

// The outcomes. Delivered is the only success.
const (
	Delivered  Kind = ""           // the receiver answered 2xx
	Invalid    Kind = "invalid"    // the delivery itself is unusable (no secret, a bad event id); never retried
	Refused    Kind = "refused"    // the URL, or an address it resolved to, is not one deliveries may go to
	Timeout    Kind = "timeout"    // no complete answer within the timeout
	Connection Kind = "connection" // name resolution, connection or TLS failed
	Status     Kind = "status"     // the receiver answered, but not 2xx (a 3xx included)
	Canceled   Kind = "canceled"   // the caller's context was canceled, as at shutdown
)

// Result is the outcome of one delivery, fit for a delivery log.
type Result struct {
	Kind       Kind
	Status     int           // the answer's status code; 0 when none came
	Duration   time.Duration // from the start of the attempt to the end of the kept answer
	Answer     []byte        // the first MaxAnswer bytes of the answer's body
	RetryAfter time.Duration // the answer's Retry-After (at most 24 h), when it gave one
	Err        error         // the cause, for logs; nil when delivered
}

// Retryable reports whether trying the same delivery later may succeed: after a timeout, a
// connection failure, a cancellation, or an answer 408, 425, 429 or 5xx. Refused and
// invalid deliveries, redirects and other answers are final.
func (r Result) Retryable() bool {
	switch r.Kind {
	case Timeout, Connection, Canceled:
		return true
	case Status:
		s := r.Status
		return s == http.StatusRequestTimeout || s == http.StatusTooEarly || s == http.StatusTooManyRequests || s >= 500
	}
	return false
}

// Deliver POSTs d.Body to d.URL, signed, and reports what happened. It never follows a
// redirect and never connects to an address the Client refuses.
func (c *Client) Deliver(ctx context.Context, d Delivery) Result {
	begin := time.Now()
	res := func(r Result) Result {
		r.Duration = time.Since(begin)
		return r
	}
	u, err := ValidateURL(d.URL, c.allowPrivate)
	if err != nil {
		return res(Result{Kind: Refused, Err: err})
	}
	if d.Secret == "" {
		return res(Result{Kind: Invalid, Err: errors.New("webhook: no secret")})
	}
	if !validEventID(d.EventID) {
		return res(Result{Kind: Invalid, Err: errors.New("webhook: invalid event id")})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(d.Body))
	if err != nil {
		return res(Result{Kind: Invalid, Err: err})
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set(EventIDHeader, d.EventID)
	req.Header.Set(SignatureHeader, Sign(d.Secret, time.Now(), d.Body))

	resp, err := c.http.Do(req)
	if err != nil {
		return res(Result{Kind: classify(ctx, err), Err: err})
	}
	defer resp.Body.Close()
	// A receiver that sends its first kilobyte and then stalls does not hold the delivery:
	// what arrives before the timeout is kept, and a failed read does not undo the status.
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	r := Result{Status: resp.StatusCode, Answer: answer}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		r.Kind, r.Err = Status, fmt.Errorf("webhook: answer %d", resp.StatusCode)
		r.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return res(r)
}

// classify names the failure of a request that got no answer.
func classify(ctx context.Context, err error) Kind {
	var refused *RefusedError
	var ne net.Error
	switch {
	case errors.As(err, &refused):
		return Refused
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return Canceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Timeout
	}
	return Connection
}

func validEventID(id string) bool {
	if id == "" || len(id) > 200 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return false
		}
	}
	return true
}

// retryAfter reads a Retry-After value, seconds or an HTTP date, as a wait from now; zero
// when there is none or it cannot be read, capped at maxRetryAfter.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
