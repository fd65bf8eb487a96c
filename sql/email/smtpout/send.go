package smtpout

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"regexp"
	"strings"
	"syscall"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/tenantdesk/tenantdesk/sql/email"
)

// Kind classifies a failed send by what the caller should do.
type Kind int

// The kinds of failure.
const (
	// Temporary: the server or the network failed for now (4xx replies, refused or broken
	// connections, timeouts). Send the same message again later.
	Temporary Kind = iota + 1
	// Setup: the server cannot be used as configured (TLS required but not offered, an
	// untrusted certificate, authentication refused, the server refusing us before any
	// message). Retry like Temporary, and tell the owner: it will not heal by itself.
	Setup
	// Permanent: the server refused this message or recipient for good (a 5xx reply to MAIL
	// FROM, RCPT TO or the message). Do not retry; mark the message failed.
	Permanent
)

func (k Kind) String() string {
	switch k {
	case Temporary:
		return "temporary"
	case Setup:
		return "setup"
	case Permanent:
		return "permanent"
	}
	return "unknown"
}

// The stages of an SMTP transaction an Error can come from.
const (
	StageConnect = "connect"   // TCP, TLS handshake, greeting, EHLO, STARTTLS, AUTH
	StageMail    = "MAIL FROM" // the envelope sender
	StageRcpt    = "RCPT TO"   // a recipient
	StageData    = "DATA"      // the DATA command and writing the message
	StageEnd     = "end of data"
	StageMessage = "message" // the message itself, before connecting
)

// Error is a failed send.
type Error struct {
	Kind  Kind
	Stage string
	// Code and Enhanced are the server's reply code and enhanced status code ("5.1.1") when
	// it answered; 0 and "" otherwise.
	Code     int
	Enhanced string
	// Recipient is the refused recipient for a RCPT TO failure.
	Recipient string
	// MaybeSent is true when the connection broke after the whole message was written and
	// before the server's answer: the server may have accepted it. Retrying may deliver it
	// twice; the unchanged Message-ID lets mail clients show it once.
	MaybeSent bool
	Err       error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("smtpout: %s failure at %s", e.Kind, e.Stage)
	if e.Recipient != "" {
		s += " (" + e.Recipient + ")"
	}
	return s + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Retry reports whether the same message should be sent again later.
func (e *Error) Retry() bool { return e.Kind != Permanent }

// enhancedCode finds an enhanced status code (RFC 3463) at the start of a reply text.
var enhancedCode = regexp.MustCompile(`^([245])\.\d{1,3}\.\d{1,3}\b`)

// Client sends mail through one server. It holds no connection: each Send connects, sends
// and quits, so a Client is safe for concurrent use and never holds a broken connection.
type Client struct {
	cfg Config
}

// New validates cfg and returns a Client for it.
func New(cfg Config) (*Client, error) {
	if err := validHost(cfg.Host); err != nil {
		return nil, err
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("%w: port %d", ErrConfig, cfg.Port)
	}
	if cfg.Username == "" && cfg.Password != "" {
		return nil, fmt.Errorf("%w: a password without a user name", ErrConfig)
	}
	return &Client{cfg: cfg}, nil
}

// Config returns the client's configuration.
func (c *Client) Config() Config { return c.cfg }

func (c *Client) goMail() (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(c.cfg.Port),
		gomail.WithTimeout(c.cfg.timeout()),
		gomail.WithTLSConfig(c.cfg.tlsConfig()),
	}
	switch c.cfg.Security {
	case StartTLSIfOffered:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case StartTLSRequired:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	}
	if c.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(c.cfg.HELO))
	}
	if c.cfg.Username != "" {
		// Auto-discovery picks the strongest mechanism the server offers and, without TLS,
		// none that sends the password in the clear (PLAIN, LOGIN).
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(c.cfg.Username), gomail.WithPassword(c.cfg.Password.Reveal()))
	}
	return gomail.NewClient(c.cfg.Host, opts...)
}

// dial connects, greets, secures and authenticates. go-mail reads the greeting and runs
// EHLO, STARTTLS and AUTH under its own timeout, not the context: the dial runs aside, and a
// cancelled context returns at once while the abandoned dial ends within the timeout and
// closes its connection.
func (c *Client) dial(ctx context.Context) (*gosmtp.Client, *Error) {
	gm, err := c.goMail()
	if err != nil {
		return nil, &Error{Kind: Setup, Stage: StageConnect, Err: err}
	}
	type result struct {
		sc  *gosmtp.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		sc, err := gm.DialToSMTPClientWithContext(ctx)
		done <- result{sc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, classify(StageConnect, r.err, ctx)
		}
		return r.sc, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.sc != nil {
				_ = r.sc.Close()
			}
		}()
		return nil, &Error{Kind: Temporary, Stage: StageConnect, Err: ctx.Err()}
	}
}

// Check connects, secures the connection, authenticates and quits, without sending: the
// settings page's test of an SMTP server.
func (c *Client) Check(ctx context.Context) error {
	sc, e := c.dial(ctx)
	if e != nil {
		return e
	}
	_ = sc.Quit()
	_ = sc.Close()
	return nil
}

// Send sends one composed message to its envelope recipients, or returns an *Error saying
// why not and whether to retry. All recipients must be accepted: one refused recipient fails
// the message (the outbox sends one recipient per message). Cancelling ctx closes the
// connection.
func (c *Client) Send(ctx context.Context, out *email.Outgoing) error {
	if out == nil || len(out.Raw) == 0 || len(out.To) == 0 {
		return &Error{Kind: Permanent, Stage: StageMessage, Err: errors.New("nothing to send")}
	}
	for _, a := range append([]string{out.From}, out.To...) {
		if err := email.ValidAddress(a); err != nil {
			return &Error{Kind: Permanent, Stage: StageMessage, Err: err}
		}
	}
	sc, e := c.dial(ctx)
	if e != nil {
		return e
	}
	defer sc.Close()
	stop := context.AfterFunc(ctx, func() { _ = sc.Close() })
	defer stop()

	step := func(stage string, f func() error) *Error {
		if err := sc.UpdateDeadline(c.cfg.timeout()); err != nil {
			return classify(stage, err, ctx)
		}
		if err := f(); err != nil {
			return classify(stage, err, ctx)
		}
		return nil
	}
	if e := step(StageMail, func() error { return sc.Mail("<" + out.From + ">") }); e != nil {
		return e
	}
	for _, rcpt := range out.To {
		if e := step(StageRcpt, func() error { return sc.Rcpt("<" + rcpt + ">") }); e != nil {
			e.Recipient = rcpt
			return e
		}
	}
	var w io.WriteCloser
	if e := step(StageData, func() error {
		var err error
		w, err = sc.Data()
		if err != nil {
			return err
		}
		_, err = w.Write(out.Raw)
		return err
	}); e != nil {
		return e
	}
	if e := step(StageEnd, w.Close); e != nil {
		var tp *textproto.Error
		e.MaybeSent = !errors.As(e.Err, &tp)
		return e
	}
	// The message is accepted; a failing QUIT changes nothing.
	_ = sc.Quit()
	return nil
}

// classify turns an error of one stage into an *Error.
func classify(stage string, err error, ctx context.Context) *Error {
	e := &Error{Kind: Temporary, Stage: stage, Err: err}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		e.Code = tp.Code
		if m := enhancedCode.FindString(tp.Msg); m != "" {
			e.Enhanced = m
		}
		switch {
		case tp.Code >= 400 && tp.Code < 500:
			e.Kind = Temporary
		case tp.Code >= 500 && stage == StageConnect:
			// Refused before any message: greeting, EHLO, STARTTLS or AUTH (530, 535 …).
			e.Kind = Setup
		case tp.Code >= 500:
			e.Kind = Permanent
		}
		return e
	}
	if ctx.Err() != nil {
		e.Err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		return e
	}
	var (
		certErr     *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalid     x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		alert       tls.AlertError
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr),
		errors.As(err, &invalid), errors.As(err, &recordErr), errors.As(err, &alert):
		e.Kind = Setup
	case stage == StageConnect && isSetupText(err):
		e.Kind = Setup
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		e.Kind = Temporary
	default:
		var ne net.Error
		if errors.As(err, &ne) {
			e.Kind = Temporary
		}
	}
	return e
}

// isSetupText recognises go-mail's errors for a server that does not offer what the
// configuration needs (they carry no type of their own).
func isSetupText(err error) bool {
	s := err.Error()
	for _, sub := range []string{"does not support STARTTLS", "does not support SMTP AUTH",
		"not able to detect a supported authentication", "unsupported SMTP AUTH", "auth type",
		"unencrypted connection", "SMTP AUTH failed"} {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return errors.Is(err, gomail.ErrNoSupportedAuthDiscovered) || errors.Is(err, gosmtp.ErrUnencrypted)
}
