// Package imapin polls an IMAP mailbox that an organization keeps itself (support@its-company)
// and imports each new message exactly once.
//
// The mailbox's position is a State: its UIDVALIDITY and the last UID imported. The desk
// stores it in the same transaction as each imported message (Mailbox.Import), so a crash, a
// restart or an hour of outage resumes exactly after the last stored message, and a message
// deleted on the server leaves no gap (IMAP never reuses a UID within one UIDVALIDITY). When
// the server changes UIDVALIDITY (a restore, a migration, a recreated folder) every UID may
// name another message: the poller re-scans the folder and imports only messages the desk has
// not seen (Mailbox.Seen, by Message-ID). Each poll has its own deadline and a size cap, so a
// hanging server or a huge message delays only its own mailbox.
//
// It uses github.com/emersion/go-imap v1.2.1, the last release of that client; v2 is a beta.
package imapin

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"

	"github.com/tenantdesk/tenantdesk/sql/email"
)

// Security is how the connection to the server is protected.
type Security string

// The connection modes an organization can pick.
const (
	// ImplicitTLS is IMAPS (port 993): TLS from the first byte.
	ImplicitTLS Security = "tls"
	// StartTLS upgrades a plain connection (port 143) and fails unless the server offers it.
	StartTLS Security = "starttls"
	// Plain sends everything in the clear; it is allowed only to a loopback address (an
	// IMAP server on the same host).
	Plain Security = "none"
)

// Settings name one mailbox.
type Settings struct {
	Host     string
	Port     int
	Security Security
	Username string
	Password email.Secret
	// Folder is the folder polled; empty means INBOX.
	Folder string
	// RootCAs verifies the server's certificate; nil uses the system's roots.
	RootCAs *x509.CertPool
}

// ErrSettings is the error kind of unusable settings.
var ErrSettings = errors.New("imapin: invalid settings")

// Validate checks the settings before any connection.
func (s Settings) Validate() error {
	if s.Host == "" || len(s.Host) > 253 || strings.ContainsAny(s.Host, " /\\@:\x00\r\n") && net.ParseIP(s.Host) == nil {
		return fmt.Errorf("%w: host", ErrSettings)
	}
	if s.Port < 1 || s.Port > 65535 {
		return fmt.Errorf("%w: port %d", ErrSettings, s.Port)
	}
	switch s.Security {
	case ImplicitTLS, StartTLS:
	case Plain:
		if ip := net.ParseIP(s.Host); (ip == nil || !ip.IsLoopback()) && s.Host != "localhost" {
			return fmt.Errorf("%w: an unencrypted connection is allowed only to this host", ErrSettings)
		}
	default:
		return fmt.Errorf("%w: security %q is none of tls, starttls, none", ErrSettings, s.Security)
	}
	if s.Username == "" || s.Password == "" || strings.ContainsAny(s.Username+string(s.Password), "\x00\r\n") {
		return fmt.Errorf("%w: user name and password", ErrSettings)
	}
	if len(s.Folder) > 200 || strings.ContainsAny(s.Folder, "\x00\r\n*%") {
		return fmt.Errorf("%w: folder", ErrSettings)
	}
	return nil
}

func (s Settings) folder() string {
	if s.Folder == "" {
		return "INBOX"
	}
	return s.Folder
}

// State is where a mailbox's import stands. The zero State is a mailbox never polled. The
// desk stores all of it.
type State struct {
	UIDValidity uint32
	LastUID     uint32
	// RescanBelow is set while a re-scan after a UIDVALIDITY change is unfinished: messages
	// with a lower UID were in the folder at the change, may have been imported before, and
	// are checked with Mailbox.Seen. It is 0 once the re-scan has passed them.
	RescanBelow uint32
}

// at is the state after uid, keeping a re-scan mark only while it still matters.
func (st State) at(uid uint32) State {
	st.LastUID = uid
	if st.RescanBelow != 0 && uid+1 >= st.RescanBelow {
		st.RescanBelow = 0
	}
	return st
}

// Message is one fetched message.
type Message struct {
	UID, UIDValidity uint32
	// Size is the server's RFC822.SIZE; InternalDate when the server received it.
	Size         int64
	InternalDate time.Time
	// MessageID is the Message-ID from the server's envelope, without brackets; "" if none.
	MessageID string
	// Raw is the whole message; nil when TooLarge.
	Raw []byte
	// TooLarge is true when Size exceeds the cap: the message is not downloaded, but still
	// reported so that the desk can tell the agents it exists.
	TooLarge bool
	// Rescan is true while the folder is re-scanned after a UIDVALIDITY change.
	Rescan bool
}

// Key identifies the message for deduplication, as email.Key does for received mail: its
// Message-ID, else the SHA-256 of its bytes, else (too large and without an ID) its place in
// the folder.
func (m *Message) Key() string {
	if m.MessageID != "" {
		return "mid:" + m.MessageID
	}
	if m.Raw != nil {
		sum := sha256.Sum256(m.Raw)
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	return "imap:" + strconv.FormatUint(uint64(m.UIDValidity), 10) + ":" + strconv.FormatUint(uint64(m.UID), 10)
}

// Mailbox is what the desk implements for one polled mailbox.
type Mailbox interface {
	// Import stores the message and next, the mailbox's new State, in one transaction. When
	// it returns nil both are durable; an error stops the poll, and the next poll fetches
	// the same message again. It should also be idempotent on m.Key().
	Import(ctx context.Context, m *Message, next State) error
	// Seen reports whether a message with this key was imported from this mailbox before.
	// It is asked only during a re-scan after a UIDVALIDITY change.
	Seen(ctx context.Context, key string) (bool, error)
	// Save stores next alone, for messages passed over (seen before during a re-scan, or
	// the existing ones when Options.SkipExisting).
	Save(ctx context.Context, next State) error
}

// Options tune a poll. Zero values take the defaults named.
type Options struct {
	// MaxMessageBytes is the largest message downloaded (MAX_EMAIL_MB); default 25 MiB.
	MaxMessageBytes int64
	// Timeout bounds a whole poll of one mailbox; default 2 min. CommandTimeout bounds each
	// IMAP command and the connection; default 30 s.
	Timeout, CommandTimeout time.Duration
	// Batch is how many messages one FETCH asks about; default 50. MaxPerPoll bounds how many
	// messages one poll downloads (default 200), so that a full mailbox is imported over
	// several polls instead of one long one.
	Batch, MaxPerPoll int
	// SkipExisting makes the first poll of a mailbox (zero State) start after its newest
	// message instead of importing everything already in the folder.
	SkipExisting bool
	// Logger receives a line per poll that changes something; nil logs nothing.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 25 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 30 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 50
	}
	if o.MaxPerPoll <= 0 {
		o.MaxPerPoll = 200
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Result says what a poll did.
type Result struct {
	// State is the mailbox's state after the poll (what the Mailbox last stored).
	State State
	// Imported counts messages passed to Import (TooLarge of them too large to download);
	// Skipped those passed over as seen during a re-scan.
	Imported, TooLarge, Skipped int
	// More is true when the poll stopped at MaxPerPoll with messages left.
	More bool
	// UIDValidityChanged is true when the server's UIDVALIDITY differed from the stored
	// one: the server renumbered the folder (a restore, a migration or a recreated folder),
	// and the poll re-scanned it from the start, skipping what was seen before.
	UIDValidityChanged  bool
	PreviousUIDValidity uint32
}

// Error is a failed poll. Setup errors (a refused login, a certificate not trusted, no
// STARTTLS, a missing folder) need the owner to change the settings; others (a server down
// or hanging, a broken connection) heal by themselves and the next poll retries.
type Error struct {
	Setup bool
	Stage string
	Err   error
}

func (e *Error) Error() string {
	kind := "temporary"
	if e.Setup {
		kind = "settings"
	}
	return fmt.Sprintf("imapin: %s failure at %s: %v", kind, e.Stage, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Poll imports the messages that arrived in the mailbox since st, oldest first, each through
// mb.Import with the state that includes it. It returns the state reached and an error when
// it stopped early; everything imported before the error stays imported.
func Poll(ctx context.Context, s Settings, st State, mb Mailbox, opts Options) (Result, error) {
	opts.defaults()
	res := Result{State: st}
	if err := s.Validate(); err != nil {
		return res, &Error{Setup: true, Stage: "settings", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	c, conn, err := connect(ctx, s, opts)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	// The deadline of the whole poll also ends a command that waits on a silent server.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer func() {
		conn.setBudget(commandBudget)
		_ = c.Logout()
	}()

	fail := func(stage string, err error, setup bool) (Result, error) {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			setup = false
		}
		return res, &Error{Setup: setup, Stage: stage, Err: err}
	}

	// Read-only (EXAMINE): polling never changes the mailbox, not even the \Seen flags.
	conn.setBudget(commandBudget)
	status, err := c.Select(s.folder(), true)
	if err != nil {
		return fail("select "+s.folder(), err, !isNetErr(err))
	}
	validity := status.UidValidity
	last := st.LastUID
	rescanBelow := st.RescanBelow
	switch {
	case st.UIDValidity == 0 && opts.SkipExisting:
		next := State{UIDValidity: validity, LastUID: status.UidNext - 1}
		if status.UidNext == 0 {
			next.LastUID = 0
		}
		if err := mb.Save(ctx, next); err != nil {
			return fail("save", err, false)
		}
		res.State = next
		return res, nil
	case st.UIDValidity == 0:
		last, rescanBelow = 0, 0
	case st.UIDValidity != validity:
		// Every message in the folder now may be one imported under the old numbering.
		last, rescanBelow = 0, status.UidNext
		if rescanBelow == 0 {
			rescanBelow = ^uint32(0)
		}
		res.UIDValidityChanged, res.PreviousUIDValidity = true, st.UIDValidity
		opts.Logger.Warn("imapin: UIDVALIDITY changed: the server renumbered the folder; re-scanning it, "+
			"importing only messages not seen before", "host", s.Host, "folder", s.folder(),
			"old", st.UIDValidity, "new", validity)
	}

	// Every UID above the last one. "last+1:*" also matches the highest UID when nothing is
	// newer (a range is unordered in IMAP), so the answer is filtered.
	set := new(imap.SeqSet)
	set.AddRange(last+1, 0)
	conn.setBudget(commandBudget)
	uids, err := c.UidSearch(&imap.SearchCriteria{Uid: set})
	if err != nil {
		return fail("search", err, false)
	}
	uids = slices.DeleteFunc(uids, func(u uint32) bool { return u <= last })
	slices.Sort(uids)

	base := State{UIDValidity: validity, LastUID: last, RescanBelow: rescanBelow}
	passed := base // seen but not yet saved
	savePassed := func() error {
		if passed != res.State && (passed.LastUID > res.State.LastUID || passed.UIDValidity != res.State.UIDValidity) {
			if err := mb.Save(ctx, passed); err != nil {
				return err
			}
			res.State = passed
		}
		return nil
	}
	downloaded := 0
	for len(uids) > 0 {
		n := min(opts.Batch, len(uids))
		batch := uids[:n]
		uids = uids[n:]
		metas, err := fetchMeta(c, conn, batch)
		if err != nil {
			return fail("fetch", err, false)
		}
		for _, uid := range batch {
			meta, ok := metas[uid]
			if !ok {
				continue // expunged between SEARCH and FETCH
			}
			if downloaded >= opts.MaxPerPoll {
				res.More = true
				if err := savePassed(); err != nil {
					return fail("save", err, false)
				}
				return res, nil
			}
			rescan := uid < rescanBelow
			m := &Message{UID: uid, UIDValidity: validity, Size: int64(meta.Size), InternalDate: meta.InternalDate, Rescan: rescan}
			if meta.Envelope != nil {
				if ids := email.ParseMessageIDs(meta.Envelope.MessageId, 1); len(ids) == 1 {
					m.MessageID = ids[0]
				}
			}
			if rescan && m.MessageID != "" {
				seen, err := mb.Seen(ctx, m.Key())
				if err != nil {
					return fail("seen", err, false)
				}
				if seen {
					res.Skipped++
					passed = base.at(uid)
					continue
				}
			}
			if m.Size > opts.MaxMessageBytes {
				m.TooLarge = true
				res.TooLarge++
			} else {
				raw, err := fetchBody(c, conn, uid, opts.MaxMessageBytes)
				if err != nil {
					return fail("fetch body", err, false)
				}
				if raw == nil {
					continue // expunged meanwhile
				}
				m.Raw = raw
				downloaded++
				if rescan && m.MessageID == "" {
					seen, err := mb.Seen(ctx, m.Key())
					if err != nil {
						return fail("seen", err, false)
					}
					if seen {
						res.Skipped++
						passed = base.at(uid)
						continue
					}
				}
			}
			next := base.at(uid)
			if err := mb.Import(ctx, m, next); err != nil {
				return fail("import", err, false)
			}
			res.State, passed = next, next
			res.Imported++
		}
		// A long re-scan keeps its progress even if a later batch fails or times out.
		if err := savePassed(); err != nil {
			return fail("save", err, false)
		}
	}
	if err := savePassed(); err != nil {
		return fail("save", err, false)
	}
	if res.State.UIDValidity != validity || res.State.RescanBelow != 0 && res.State.LastUID+1 >= res.State.RescanBelow {
		// Nothing (more) to pass after the change: store the new UIDVALIDITY, re-scan done.
		next := base.at(max(res.State.LastUID, last))
		if res.State.UIDValidity != validity {
			next = State{UIDValidity: validity, LastUID: last}
		}
		if next != res.State {
			if err := mb.Save(ctx, next); err != nil {
				return fail("save", err, false)
			}
			res.State = next
		}
	}
	if res.Imported > 0 || res.Skipped > 0 {
		opts.Logger.Info("imapin: polled", "host", s.Host, "folder", s.folder(), "imported", res.Imported,
			"too_large", res.TooLarge, "skipped", res.Skipped, "last_uid", res.State.LastUID)
	}
	return res, nil
}

// connect dials, secures, greets and logs in.
func connect(ctx context.Context, s Settings, opts Options) (*client.Client, *budgetConn, error) {
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	d := net.Dialer{Timeout: opts.CommandTimeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, &Error{Stage: "connect", Err: err}
	}
	tlsCfg := &tls.Config{ServerName: s.Host, RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12}
	var nc net.Conn = raw
	if s.Security == ImplicitTLS {
		tc := tls.Client(raw, tlsCfg)
		_ = tc.SetDeadline(time.Now().Add(opts.CommandTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, nil, &Error{Setup: isTLSSetup(err), Stage: "TLS", Err: err}
		}
		nc = tc
	}
	conn := &budgetConn{Conn: nc, budget: commandBudget}
	// The greeting is read inside client.New, before the client's own timeout applies.
	_ = conn.SetDeadline(time.Now().Add(opts.CommandTimeout))
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c, err := client.New(conn)
	if err != nil {
		conn.Close()
		return nil, nil, &Error{Stage: "greeting", Err: err}
	}
	c.ErrorLog = log.New(io.Discard, "", 0)
	c.Timeout = opts.CommandTimeout
	if s.Security == StartTLS {
		conn.setBudget(commandBudget)
		ok, err := c.SupportStartTLS()
		if err != nil {
			conn.Close()
			return nil, nil, &Error{Stage: "capability", Err: err}
		}
		if !ok {
			conn.Close()
			return nil, nil, &Error{Setup: true, Stage: "STARTTLS", Err: errors.New("the server does not offer STARTTLS")}
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			conn.Close()
			return nil, nil, &Error{Setup: isTLSSetup(err), Stage: "STARTTLS", Err: err}
		}
	}
	if err := c.Login(s.Username, s.Password.Reveal()); err != nil {
		conn.Close()
		return nil, nil, &Error{Setup: !isNetErr(err), Stage: "login", Err: err}
	}
	return c, conn, nil
}

func fetchMeta(c *client.Client, conn *budgetConn, uids []uint32) (map[uint32]*imap.Message, error) {
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	// Envelopes are small; a hostile server is still held to a budget.
	conn.setBudget(int64(len(uids))*64<<10 + 1<<20)
	out := map[uint32]*imap.Message{}
	err := fetch(c, set, []imap.FetchItem{imap.FetchUid, imap.FetchRFC822Size, imap.FetchInternalDate, imap.FetchEnvelope},
		func(m *imap.Message) {
			if m.Uid != 0 {
				out[m.Uid] = m
			}
		})
	return out, err
}

// fetchBody downloads one message without setting \Seen; nil when it no longer exists.
func fetchBody(c *client.Client, conn *budgetConn, uid uint32, max int64) ([]byte, error) {
	set := new(imap.SeqSet)
	set.AddNum(uid)
	section := &imap.BodySectionName{Peek: true}
	// The size was checked; the budget holds a server to it whatever it claimed.
	conn.setBudget(max + 1<<20)
	var raw []byte
	var readErr error
	err := fetch(c, set, []imap.FetchItem{imap.FetchUid, section.FetchItem()}, func(m *imap.Message) {
		if m.Uid != uid {
			return
		}
		if lit := m.GetBody(section); lit != nil {
			raw, readErr = io.ReadAll(io.LimitReader(lit, max+1))
			if readErr == nil && raw == nil {
				raw = []byte{}
			}
		}
	})
	if err == nil {
		err = readErr
	}
	if err == nil && int64(len(raw)) > max {
		err = fmt.Errorf("message %d is larger than its announced size", uid)
	}
	return raw, err
}

func fetch(c *client.Client, set *imap.SeqSet, items []imap.FetchItem, each func(*imap.Message)) error {
	ch := make(chan *imap.Message, 16)
	done := make(chan error, 1)
	go func() { done <- c.UidFetch(set, items, ch) }()
	for m := range ch {
		each(m)
	}
	return <-done
}

// budgetConn fails reads beyond a byte budget, so that a server announcing a gigantic literal
// cannot make the client allocate it (go-imap v1 reads a literal whole into memory).
type budgetConn struct {
	net.Conn
	mu     sync.Mutex
	budget int64
}

// commandBudget is what the server may send in answer to a command other than FETCH.
const commandBudget = 8 << 20

func (b *budgetConn) setBudget(n int64) {
	b.mu.Lock()
	b.budget = n
	b.mu.Unlock()
}

var errBudget = errors.New("imapin: the server sent more than the size limit allows")

func (b *budgetConn) Read(p []byte) (int, error) {
	b.mu.Lock()
	budget := b.budget
	b.mu.Unlock()
	if budget <= 0 {
		return 0, errBudget
	}
	if int64(len(p)) > budget {
		p = p[:budget]
	}
	n, err := b.Conn.Read(p)
	b.mu.Lock()
	b.budget -= int64(n)
	b.mu.Unlock()
	return n, err
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection closed")
}

func isTLSSetup(err error) bool {
	var (
		certErr *tls.CertificateVerificationError
		recErr  tls.RecordHeaderError
		alert   tls.AlertError
	)
	return errors.As(err, &certErr) || errors.As(err, &recErr) || errors.As(err, &alert)
}
