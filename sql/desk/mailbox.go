package desk

// An organization's own IMAP mailbox is polled by the scheduler like any other due work: its
// row in the tenant (mailbox) says when it is next due, and the catalog's wake-up of the
// tenant covers that time, so no pass walks the tenants. A poll is claimed with a lease in
// the row (one instance polls a mailbox at a time), runs on a goroutine of its own under its
// own deadline (a hanging server or a huge message delays only its mailbox), imports each new
// message with the mailbox's new position in the same transaction (exactly once, across
// restarts, outages and messages deleted on the server: imapin), and sets the next poll.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/imapin"
)

// Polling defaults.
const (
	defaultPollEvery = time.Minute
	// pollRetry is the wait after a failed poll.
	pollRetry = 5 * time.Minute
	// maxPolls bounds the mailboxes polled at once by one Service.
	maxPolls = 32
)

// MailboxStatus is where an organization's mailbox stands, for its settings page.
type MailboxStatus struct {
	PolledAt  time.Time
	NextPoll  time.Time
	Imported  int
	LastError string
}

// mailboxIdentity is what makes a mailbox another one: a change starts its import afresh.
func mailboxIdentity(st *imapin.Settings) string {
	if st == nil {
		return ""
	}
	return fmt.Sprintf("%s|%d|%s|%s", st.Host, st.Port, st.Username, st.Folder)
}

// mailboxChanged keeps the mailbox row in step with the IMAP settings saved in tx: none
// without settings; a fresh one, due now, for a new mailbox.
func (s *Service) mailboxChanged(ctx context.Context, tx *sql.Tx, org *catalog.Organization, old, cur *imapin.Settings, now time.Time) error {
	switch {
	case cur == nil:
		_, err := tx.ExecContext(ctx, "DELETE FROM mailbox")
		return err
	case mailboxIdentity(old) == mailboxIdentity(cur):
		// Same mailbox (a new password, say): poll it now, from where it stands.
		_, err := tx.ExecContext(ctx, "UPDATE mailbox SET next_poll_at = ?, last_error = ''", now.Unix())
		if err == nil {
			s.wakeAt(ctx, org, now)
		}
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO mailbox (id, next_poll_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET
		uid_validity = 0, last_uid = 0, rescan_below = 0, next_poll_at = excluded.next_poll_at, lease_holder = NULL,
		lease_until = NULL, last_error = '', polled_at = 0, imported = 0, connected_at = 0`, now.Unix()); err != nil {
		return err
	}
	s.wakeAt(ctx, org, now)
	return nil
}

// mailboxStatus reads the mailbox row (nil: none).
func mailboxStatus(ctx context.Context, q querier) (*MailboxStatus, error) {
	var m MailboxStatus
	var polled, next int64
	err := q.QueryRowContext(ctx, "SELECT polled_at, next_poll_at, imported, CAST(last_error AS BLOB) FROM mailbox WHERE id = 1").
		Scan(&polled, &next, &m.Imported, &m.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m.PolledAt, m.NextPoll = unix(polled), unix(next)
	return &m, nil
}

// pollDue starts a poll of org's mailbox when it is due and a slot is free, and returns when
// the mailbox is next due (zero: org has none).
func (s *Service) pollDue(ctx context.Context, org *catalog.Organization) (time.Time, error) {
	if s.mail == nil {
		return time.Time{}, nil
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return time.Time{}, err
	}
	defer release()
	now := stamp(s.now)
	var next, leaseUntil sql.NullInt64
	err = db.db.QueryRowContext(ctx, "SELECT next_poll_at, lease_until FROM mailbox WHERE id = 1").Scan(&next, &leaseUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("desk.pollDue: %w", err)
	}
	if leaseUntil.Valid && leaseUntil.Int64 > now.Unix() {
		return unix(leaseUntil.Int64), nil
	}
	if next.Int64 > now.Unix() {
		return unix(next.Int64), nil
	}
	select {
	case s.polls <- struct{}{}:
	default:
		return now, nil // every slot busy: still due
	}
	lease := s.mail.pollTimeout() + time.Minute
	res, err := db.db.ExecContext(ctx, `UPDATE mailbox SET lease_holder = ?, lease_until = ? WHERE id = 1 AND next_poll_at <= ?
		AND (lease_until IS NULL OR lease_until <= ?)`, s.outbox.holder, now.Add(lease).Unix(), now.Unix(), now.Unix())
	if err != nil {
		<-s.polls
		return time.Time{}, fmt.Errorf("desk.pollDue: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		<-s.polls
		return now.Add(time.Second), nil // another instance claimed it just now
	}
	s.pollers.Add(1)
	go func() {
		defer s.pollers.Done()
		defer func() { <-s.polls }()
		s.poll(org)
	}()
	return now.Add(lease), nil
}

func (m *mailer) pollTimeout() time.Duration {
	if m.cfg.PollTimeout > 0 {
		return m.cfg.PollTimeout
	}
	return 2 * time.Minute
}

func (m *mailer) pollEvery() time.Duration {
	if m.cfg.PollEvery > 0 {
		return m.cfg.PollEvery
	}
	return defaultPollEvery
}

// MailboxPolls is how many IMAP polls this Service has finished, failed ones included.
func (s *Service) MailboxPolls() int64 { return s.pollsDone.Load() }

// poll polls org's mailbox once (its lease held) and schedules the next poll.
func (s *Service) poll(org *catalog.Organization) {
	defer s.pollsDone.Add(1)
	m := s.mail
	ctx := s.outbox.ctx
	var res imapin.Result
	var perr error
	om, err := s.orgMail(ctx, org)
	var st imapin.State
	var connected time.Time
	if err == nil && om.imap != nil {
		st, connected, err = s.mailboxState(ctx, org)
	}
	switch {
	case err != nil:
		perr = err
	case om.imap == nil:
		perr = errors.New("no IMAP settings")
	default:
		settings := *om.imap
		settings.RootCAs = m.cfg.RootCAs
		res, perr = imapin.Poll(ctx, settings, st, &mailboxOf{s: s, org: org, connected: connected}, imapin.Options{
			MaxMessageBytes: m.cfg.MaxEmailBytes, Timeout: m.pollTimeout(), SkipExisting: true, Logger: s.log.With("tenant", org.Username)})
	}
	now := stamp(s.now)
	next := now.Add(m.pollEvery())
	lastErr := ""
	switch {
	case s.outbox.ctx.Err() != nil:
		next = now // the Service closed: the next start polls at once
	case perr != nil:
		next, lastErr = now.Add(pollRetry), perr.Error()
		s.log.Warn("imap poll failed", "tenant", org.Username, "err", perr)
	case res.More:
		next = now
	case res.TooLarge > 0:
		lastErr = fmt.Sprintf("%d message(s) larger than %s were not imported; they stay in the mailbox.", res.TooLarge,
			byteSize(int(m.cfg.MaxEmailBytes)))
	}
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.wakeAt(fctx, org, next)
	ts := s.tenant(org)
	db, release, err := s.store(fctx, org, ts)
	if err != nil {
		s.log.Error("imap poll: record the outcome", "tenant", org.Username, "err", err)
		return
	}
	defer release()
	if _, err := db.db.ExecContext(fctx, `UPDATE mailbox SET next_poll_at = ?, lease_holder = NULL, lease_until = NULL,
		last_error = ?, polled_at = ? WHERE id = 1 AND lease_holder = ?`, next.Unix(), clipRunes(lastErr, maxOutboxError), now.Unix(),
		s.outbox.holder); err != nil {
		s.log.Error("imap poll: record the outcome", "tenant", org.Username, "err", err)
	}
}

// mailboxState reads where org's mailbox import stands, and when it was connected (zero:
// not yet).
func (s *Service) mailboxState(ctx context.Context, org *catalog.Organization) (imapin.State, time.Time, error) {
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return imapin.State{}, time.Time{}, err
	}
	defer release()
	var st imapin.State
	var connected int64
	err = db.db.QueryRowContext(ctx, "SELECT uid_validity, last_uid, rescan_below, connected_at FROM mailbox WHERE id = 1").
		Scan(&st.UIDValidity, &st.LastUID, &st.RescanBelow, &connected)
	if err != nil {
		return st, time.Time{}, fmt.Errorf("desk: mailbox state: %w", err)
	}
	return st, unix(connected), nil
}

// saveMailbox stores the mailbox's state (for messages passed over).
func (s *Service) saveMailbox(ctx context.Context, org *catalog.Organization, st imapin.State, imported bool) error {
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return err
	}
	defer release()
	return saveMailboxIn(ctx, db.db, st, imported)
}

func saveMailboxIn(ctx context.Context, q querier, st imapin.State, imported bool) error {
	n := 0
	if imported {
		n = 1
	}
	// The first state saved is the first poll's: the mailbox is connected now.
	_, err := q.ExecContext(ctx, `UPDATE mailbox SET uid_validity = ?, last_uid = ?, rescan_below = ?, imported = imported + ?,
		connected_at = CASE WHEN connected_at = 0 THEN ? ELSE connected_at END WHERE id = 1`,
		st.UIDValidity, st.LastUID, st.RescanBelow, n, time.Now().Unix())
	return err
}

// mailboxOf is org's mailbox as imapin polls it; connected is when it was connected.
type mailboxOf struct {
	s         *Service
	org       *catalog.Organization
	connected time.Time
}

// Import receives one message with the mailbox's state after it. Our own mail and mail the
// desk refuses (no sender) are passed over, with the state saved: they would be refused at
// every poll.
func (mb *mailboxOf) Import(ctx context.Context, m *imapin.Message, next imapin.State) error {
	s, org := mb.s, mb.org
	if m.Rescan && !mb.connected.IsZero() && m.InternalDate.Before(mb.connected) {
		// Renumbered by the server, and there before the mailbox was connected: it was left
		// alone then, and stays so.
		return s.saveMailbox(ctx, org, next, false)
	}
	if m.TooLarge || m.Raw == nil {
		s.log.Warn("imap: message over the size limit not imported", "tenant", org.Username, "uid", m.UID, "bytes", m.Size)
		return s.saveMailbox(ctx, org, next, false)
	}
	msg := email.Parse(m.Raw, email.ParseOptions{Domain: s.mail.cfg.Domain})
	if msg.Ours {
		return s.saveMailbox(ctx, org, next, false)
	}
	_, err := s.ReceiveEmail(ctx, org, AsSystem(), InboundEmail{Key: m.Key(), Message: msg, Raw: m.Raw, Source: SourceIMAP, mailbox: &next})
	if e, ok := apperr.As(err); ok && (e.Kind == apperr.Invalid || e.Kind == apperr.Forbidden || e.Kind == apperr.NotFound) {
		s.log.Warn("imap: message refused", "tenant", org.Username, "uid", m.UID, "err", err)
		return s.saveMailbox(ctx, org, next, false)
	}
	return err
}

// Seen reports whether a message with this key was received before (by either source).
func (mb *mailboxOf) Seen(ctx context.Context, key string) (bool, error) {
	id, _, err := mb.s.inboundSeen(ctx, mb.org, mb.s.tenant(mb.org), key)
	return id != 0, err
}

// Save stores the mailbox's state alone.
func (mb *mailboxOf) Save(ctx context.Context, next imapin.State) error {
	return mb.s.saveMailbox(ctx, mb.org, next, false)
}
