// Package smtpin is the built-in SMTP receiver (INBOUND_SMTP_ADDR): a github.com/emersion/go-smtp
// server for one mail domain that an MX record or a forwarding rule points at. It answers
// every RCPT TO through a Router (known recipient, or 550), enforces the size limit (552 at
// SIZE and at DATA), command and data timeouts, a per-sender and per-address rate limit and a
// hop limit, ignores our own mail coming back, and hands each accepted message, parsed, to
// the Router once per recipient. It answers 250 only after the Router stored the message, so
// nothing is lost: any failure is a 4xx and the sending server tries again.
package smtpin

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/tenantdesk/tenantdesk/sql/email"
)

// Router is what the desk implements: which recipients exist and where a message goes.
type Router interface {
	// Route is asked once per RCPT TO address in the receiver's domain. nil accepts the
	// recipient; an error wrapping ErrUnknownRecipient answers 550 (the sender gets a
	// bounce); any other error answers 451 and the sender retries later. Errors are logged:
	// they must not contain rcpt.Tag, which works like a password.
	Route(ctx context.Context, rcpt email.Recipient) error
	// Deliver stores one received message for one accepted recipient. When it returns nil
	// the message must be durable. It must be idempotent on d.Key: a sending server that did
	// not see our answer sends the same message again, and a message for two recipients is
	// delivered again to both when the second fails. An error wrapped with Permanent answers
	// 554 (the sender gets a bounce); any other error answers 451 (the sender retries).
	Deliver(ctx context.Context, rcpt email.Recipient, d *Delivery) error
}

// ErrUnknownRecipient is what Route returns (wrapped or not) for an address that does not
// exist.
var ErrUnknownRecipient = errors.New("smtpin: unknown recipient")

// Permanent marks a Deliver error as final: the receiver answers 554 instead of 451.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

// Delivery is one accepted message.
type Delivery struct {
	// Key identifies the message for deduplication (see email.Key).
	Key string
	// Message is the parsed message.
	Message *email.Message
	// Raw is the message as received, with our Received header on top: what agents open as
	// the original.
	Raw      []byte
	Envelope Envelope
}

// Envelope is what the SMTP session said about a message.
type Envelope struct {
	// From is the envelope sender (MAIL FROM); "" is the null sender of bounces and
	// auto-replies.
	From string
	// Recipients are every accepted recipient of the message.
	Recipients []email.Recipient
	// Remote is the client's address; HELO the name it gave.
	Remote netip.AddrPort
	HELO   string
	// TLS is true when the session used STARTTLS.
	TLS bool
	// Received is when the message was accepted.
	Received time.Time
}

// Config configures a receiver. Zero values take the defaults named.
type Config struct {
	// Domain is MAIL_DOMAIN: only recipients in it are accepted (no relaying).
	Domain string
	// Hostname is the name in the greeting and in Received headers; default Domain.
	Hostname string
	// MaxMessageBytes is the largest message (MAX_EMAIL_MB); default 25 MiB.
	MaxMessageBytes int64
	// MaxRecipients per message; default 50.
	MaxRecipients int
	// MaxConnections open at once; more are answered 421. Default 100.
	MaxConnections int
	// MaxConcurrentData bounds how many messages are received at once, each held in memory
	// up to MaxMessageBytes (default 8); a message that waits longer than CommandTimeout for
	// a slot is answered 451 and sent again later.
	MaxConcurrentData int
	// CommandTimeout bounds the wait for each command and, during DATA, for each read
	// (default 1 min); DataTimeout bounds a whole message's transfer (default 10 min).
	CommandTimeout, DataTimeout time.Duration
	// RouterTimeout bounds each Route and Deliver call; default 30 s.
	RouterTimeout time.Duration
	// SenderRate is how many messages one envelope sender may send per minute, with
	// SenderBurst at once (defaults 20 and 10); AddrRate and AddrBurst the same per client
	// IP address (defaults 120 and 30). Over the limit MAIL FROM is answered 451: a real
	// server retries later, a flood is slowed down.
	SenderRate, SenderBurst int
	AddrRate, AddrBurst     int
	// MaxHops is the most Received headers a message may carry before it is refused as a
	// loop (554 5.4.6); default 30.
	MaxHops int
	// TLSConfig, when set, offers STARTTLS with it.
	TLSConfig *tls.Config
	// Logger receives one line per message outcome (never a reply address's tag, which
	// works like a password); nil logs nothing.
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if err := email.ValidDomain(c.Domain); err != nil {
		return fmt.Errorf("smtpin: domain: %w", err)
	}
	c.Domain = strings.ToLower(c.Domain)
	if c.Hostname == "" {
		c.Hostname = c.Domain
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 25 << 20
	}
	def(&c.MaxRecipients, 50)
	def(&c.MaxConnections, 100)
	def(&c.MaxConcurrentData, 8)
	def(&c.SenderRate, 20)
	def(&c.SenderBurst, 10)
	def(&c.AddrRate, 120)
	def(&c.AddrBurst, 30)
	def(&c.MaxHops, 30)
	defDur(&c.CommandTimeout, time.Minute)
	defDur(&c.DataTimeout, 10*time.Minute)
	defDur(&c.RouterTimeout, 30*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Server is a running receiver.
type Server struct {
	cfg     Config
	router  Router
	srv     *gosmtp.Server
	conns   atomic.Int64
	data    chan struct{} // one token per message being received
	senders *lru.Cache[string, *rate.Limiter]
	addrs   *lru.Cache[string, *rate.Limiter]
	limMu   sync.Mutex
}

// New returns a receiver for cfg that routes through r.
func New(cfg Config, r Router) (*Server, error) {
	if r == nil {
		return nil, errors.New("smtpin: no router")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, router: r, data: make(chan struct{}, cfg.MaxConcurrentData)}
	var err error
	if s.senders, err = lru.New[string, *rate.Limiter](10000); err != nil {
		return nil, err
	}
	if s.addrs, err = lru.New[string, *rate.Limiter](10000); err != nil {
		return nil, err
	}
	srv := gosmtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.ReadTimeout = cfg.CommandTimeout
	srv.WriteTimeout = cfg.CommandTimeout
	srv.TLSConfig = cfg.TLSConfig
	srv.ErrorLog = slogLogger{cfg.Logger}
	s.srv = srv
	return s, nil
}

// Serve accepts connections on ln until Close or Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if errors.Is(err, gosmtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Close closes the listener and every connection at once; a message whose answer was not
// sent is retried by its sender.
func (s *Server) Close() error { return s.srv.Close() }

// Shutdown stops accepting and waits for open sessions to end, until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// reply builds an SMTP answer.
func reply(code int, enh gosmtp.EnhancedCode, msg string) *gosmtp.SMTPError {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// NewSession is called by go-smtp at HELO/EHLO.
func (s *Server) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	if s.conns.Add(1) > int64(s.cfg.MaxConnections) {
		s.conns.Add(-1)
		return nil, reply(421, gosmtp.EnhancedCode{4, 7, 0}, "Too many connections, try again later")
	}
	sess := &session{s: s, conn: c, helo: c.Hostname()}
	if ap, err := netip.ParseAddrPort(c.Conn().RemoteAddr().String()); err == nil {
		sess.remote = ap
	}
	_, sess.tls = c.TLSConnectionState()
	return sess, nil
}

type session struct {
	s      *Server
	conn   *gosmtp.Conn
	helo   string
	remote netip.AddrPort
	tls    bool
	closed atomic.Bool // Logout runs on the session's goroutine or on Close's

	from    string
	hasFrom bool
	rcpts   []email.Recipient
}

func (ss *session) Reset() {
	ss.from, ss.hasFrom, ss.rcpts = "", false, nil
}

func (ss *session) Logout() error {
	if ss.closed.CompareAndSwap(false, true) {
		ss.s.conns.Add(-1)
	}
	return nil
}

func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if from != "" {
		if err := email.ValidAddress(from); err != nil {
			return reply(553, gosmtp.EnhancedCode{5, 1, 7}, "Sender address not accepted")
		}
	}
	key := "<>" + ss.remote.Addr().String()
	if from != "" {
		key = email.NormalizeAddress(from)
	}
	if !ss.s.allow(ss.s.senders, key, ss.s.cfg.SenderRate, ss.s.cfg.SenderBurst) ||
		!ss.s.allow(ss.s.addrs, ss.remote.Addr().String(), ss.s.cfg.AddrRate, ss.s.cfg.AddrBurst) {
		ss.s.cfg.Logger.Warn("smtpin: rate limited", "from", from, "remote", ss.remote.Addr())
		return reply(451, gosmtp.EnhancedCode{4, 7, 1}, "Too many messages, slow down and try again later")
	}
	ss.from, ss.hasFrom = from, true
	return nil
}

// allow takes one token from key's limiter (rate per minute, burst).
func (s *Server) allow(c *lru.Cache[string, *rate.Limiter], key string, perMinute, burst int) bool {
	s.limMu.Lock()
	lim, ok := c.Get(key)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(float64(perMinute)/60), burst)
		c.Add(key, lim)
	}
	s.limMu.Unlock()
	return lim.Allow()
}

func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	r, ok := email.SplitRecipient(to, ss.s.cfg.Domain)
	if !ok {
		if at := strings.LastIndexByte(to, '@'); at < 0 || !strings.EqualFold(to[at+1:], ss.s.cfg.Domain) {
			return reply(550, gosmtp.EnhancedCode{5, 7, 1}, "Relaying denied: not a local domain")
		}
		return reply(550, gosmtp.EnhancedCode{5, 1, 1}, "No such recipient here")
	}
	for _, have := range ss.rcpts {
		if have.Address == r.Address {
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), ss.s.cfg.RouterTimeout)
	defer cancel()
	if err := ss.s.router.Route(ctx, r); err != nil {
		if errors.Is(err, ErrUnknownRecipient) {
			return reply(550, gosmtp.EnhancedCode{5, 1, 1}, "No such recipient here")
		}
		ss.s.cfg.Logger.Error("smtpin: route", "mailbox", r.Mailbox, "err", err)
		return reply(451, gosmtp.EnhancedCode{4, 3, 0}, "Temporary failure, try again later")
	}
	ss.rcpts = append(ss.rcpts, r)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	start := time.Now()
	wait := time.NewTimer(ss.s.cfg.CommandTimeout)
	defer wait.Stop()
	select {
	case ss.s.data <- struct{}{}:
		defer func() { <-ss.s.data }()
	case <-wait.C:
		ss.s.cfg.Logger.Warn("smtpin: busy, message deferred", "from", ss.from, "remote", ss.remote.Addr())
		return reply(451, gosmtp.EnhancedCode{4, 3, 2}, "Too busy, try again later")
	}
	raw, err := io.ReadAll(&deadlineReader{r: r, conn: ss.conn.Conn(), idle: ss.s.cfg.CommandTimeout,
		end: start.Add(ss.s.cfg.DataTimeout)})
	if err != nil {
		var se *gosmtp.SMTPError
		if errors.As(err, &se) { // 552 from go-smtp's size limit
			ss.s.cfg.Logger.Info("smtpin: refused, too large", "from", ss.from, "remote", ss.remote.Addr())
			return se
		}
		if errors.Is(err, gosmtp.ErrTooLongLine) {
			// Sending it again will not shorten its lines: refused for good (RFC 5321 4.5.3.1.6).
			ss.s.cfg.Logger.Info("smtpin: refused, a line too long", "from", ss.from, "remote", ss.remote.Addr())
			return reply(500, gosmtp.EnhancedCode{5, 5, 6}, "Line too long")
		}
		ss.s.cfg.Logger.Info("smtpin: message not received completely", "from", ss.from, "remote", ss.remote.Addr(), "err", err)
		return reply(451, gosmtp.EnhancedCode{4, 4, 2}, "Message not received completely, try again")
	}
	if hops := countReceived(raw); hops > ss.s.cfg.MaxHops {
		ss.s.cfg.Logger.Warn("smtpin: refused, mail loop", "hops", hops, "from", ss.from)
		return reply(554, gosmtp.EnhancedCode{5, 4, 6}, "Too many hops, mail loop suspected")
	}
	msg := email.Parse(raw, email.ParseOptions{Domain: ss.s.cfg.Domain, ReturnPath: ss.from, HasReturnPath: true})
	if msg.Ours {
		// Our own notification came back (a forwarding rule, an auto-forward): accepting it
		// silently ends the loop; a bounce would only start another round.
		ss.s.cfg.Logger.Info("smtpin: ignored our own mail", "message_id", msg.MessageID, "from", ss.from)
		return nil
	}
	d := &Delivery{
		Key:     email.Key(msg, raw),
		Message: msg,
		Envelope: Envelope{From: ss.from, Recipients: append([]email.Recipient(nil), ss.rcpts...),
			Remote: ss.remote, HELO: ss.helo, TLS: ss.tls, Received: start},
	}
	d.Raw = append([]byte(ss.received(start)), raw...)
	for _, rcpt := range ss.rcpts {
		ctx, cancel := context.WithTimeout(context.Background(), ss.s.cfg.RouterTimeout)
		err := ss.s.router.Deliver(ctx, rcpt, d)
		cancel()
		if err != nil {
			var p permanentError
			if errors.As(err, &p) {
				ss.s.cfg.Logger.Info("smtpin: refused by the desk", "mailbox", rcpt.Mailbox, "err", err)
				return reply(554, gosmtp.EnhancedCode{5, 6, 0}, "Message refused")
			}
			ss.s.cfg.Logger.Error("smtpin: deliver", "mailbox", rcpt.Mailbox, "key", d.Key, "err", err)
			return reply(451, gosmtp.EnhancedCode{4, 3, 0}, "Temporary failure, try again later")
		}
	}
	ss.s.cfg.Logger.Info("smtpin: accepted", "key", d.Key, "from", ss.from, "rcpts", len(ss.rcpts),
		"bytes", len(raw), "auto", string(msg.Auto.Kind))
	return nil
}

// received is our trace header (RFC 5321 4.4).
func (ss *session) received(at time.Time) string {
	with := "ESMTP"
	if ss.tls {
		with = "ESMTPS"
	}
	helo := email.CleanLine(ss.helo)
	if len(helo) > 100 {
		helo = helo[:100]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s (tenantdesk) with %s", helo, ss.remote.Addr(), ss.s.cfg.Hostname, with)
	// Named only without a tag: a reply address's tag works like a password and must not
	// spread into stored copies.
	if len(ss.rcpts) == 1 && ss.rcpts[0].Tag == "" {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", ss.rcpts[0].Address)
	}
	fmt.Fprintf(&b, "; %s\r\n", at.UTC().Format(time.RFC1123Z))
	return b.String()
}

// countReceived counts the Received header fields in the message's header.
func countReceived(raw []byte) int {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		if end = bytes.Index(raw, []byte("\n\n")); end < 0 {
			end = len(raw)
		}
	}
	n := 0
	for _, line := range bytes.Split(raw[:end], []byte("\n")) {
		if len(line) > 9 && bytes.EqualFold(line[:9], []byte("received:")) {
			n++
		}
	}
	return n
}

// deadlineReader gives each 4 KB of the message idle time to arrive, and the whole message
// until end: a slow but steady sender gets through, a stalled one is dropped. (go-smtp's
// reader fills the whole buffer it is given before it returns, so the buffer is kept small.)
type deadlineReader struct {
	r    io.Reader
	conn net.Conn
	idle time.Duration
	end  time.Time
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	dl := time.Now().Add(d.idle)
	if dl.After(d.end) {
		dl = d.end
	}
	if err := d.conn.SetReadDeadline(dl); err != nil {
		return 0, err
	}
	if len(p) > 4096 {
		p = p[:4096]
	}
	return d.r.Read(p)
}

// slogLogger passes go-smtp's internal errors to slog.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) { s.l.Warn("smtpin: " + fmt.Sprintf(format, v...)) }
func (s slogLogger) Println(v ...any)               { s.l.Warn("smtpin: " + fmt.Sprint(v...)) }
