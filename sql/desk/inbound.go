package desk

// Mail that reaches an organization — through the built-in receiver at {org}@MAIL_DOMAIN or a
// reply address, or from its own IMAP mailbox — becomes a ticket or a message on one:
//
//  1. a reply address names its ticket (and, for an agent's notification, the agent: the
//     reply is that agent's message when it comes from that agent's address);
//  2. else In-Reply-To and References are looked up among the Message-IDs of this tenant's
//     emails;
//  3. else a "[#ref]" in the subject names a ticket, only when the sender is its contact;
//  4. else it opens a new ticket, the sender its contact.
//
// A reply on a closed ticket opens a new one that follows up the old; one on a pending or
// snoozed ticket reopens it (the customer's message does). Automatic mail (auto-replies,
// bounces, bulk) is stored, and changes nothing else: it reopens nothing and nothing answers
// it. The tenant is only ever the one whose verified address the mail came to: nothing in the
// mail chooses another.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/imapin"
	"github.com/tenantdesk/tenantdesk/sql/files"
)

// Codes of refused mail.
const (
	// CodeNoSender: the email has no usable sender address.
	CodeNoSender apperr.Code = "email_no_sender"
	// CodeNotFromAgent: mail to an agent's reply address from another address.
	CodeNotFromAgent apperr.Code = "email_not_from_agent"
	// codeDuplicate rolls back the write of an email stored meanwhile (never leaves the desk).
	codeDuplicate apperr.Code = "email_duplicate"
)

// Email sources.
const (
	SourceSMTP = "smtp"
	SourceIMAP = "imap"
)

// maxInboundBody bounds the text of a message made from an email (characters); the whole
// text stays in the stored email.
const maxInboundBody = 20000

// InboundEmail is an email received for an organization.
type InboundEmail struct {
	// Key identifies it for deduplication (email.Key, imapin.Message.Key).
	Key     string
	Message *email.Message
	// Raw is the email as received.
	Raw []byte
	// Source is SourceSMTP or SourceIMAP.
	Source string
	// Tag is the tag of the recipient address ("" for the organization's own address and for
	// mail from its mailbox).
	Tag string
	// ReturnPath is the envelope sender, when the source knows it.
	ReturnPath string

	// mailbox is the IMAP mailbox's state to store with the email (IMAP only).
	mailbox *imapin.State
}

// Received says what became of an email.
type Received struct {
	TicketID, MessageID int64
	// Created: it opened a ticket (FollowUp: following up that closed ticket).
	Created  bool
	FollowUp int64
	// Duplicate: it was received before; nothing was stored.
	Duplicate bool
	// Note: an agent's reply that could not go to the customer was stored as its note.
	Note bool
}

// CheckReplyTag reports whether tag is a valid reply tag of org's (nil) or not (NotFound):
// the receiver asks before it accepts a recipient. Only the system asks.
func (s *Service) CheckReplyTag(ctx context.Context, org *catalog.Organization, a Actor, tag string) error {
	if a.Kind != System {
		return apperr.New(apperr.Forbidden, CodeForbidden)
	}
	_, _, err := s.verifyTag(ctx, org, s.tenant(org), tag)
	return err
}

// verifyTag checks a reply tag against the ticket it names: NotFound unless its MAC is the
// one of org, that ticket and (for the customer's) its access version now.
func (s *Service) verifyTag(ctx context.Context, org *catalog.Organization, ts *tenantState, tag string) (ReplyTag, ticketState, error) {
	t, ok := ParseReplyTag(tag)
	if !ok || s.mail == nil {
		return t, ticketState{}, notFound(CodeConversationNotFound)
	}
	st, err := s.stateByTicket(ctx, org, ts, t.Ticket)
	if err != nil {
		return t, st, err
	}
	access := st.access
	if t.Agent != 0 {
		access = 0
	}
	want := s.mail.tagMAC(org, t, access)
	if want == "" || !hmac.Equal([]byte(want), []byte(t.MAC)) {
		return t, st, notFound(CodeConversationNotFound)
	}
	return t, st, nil
}

// ReceiveEmail stores an email received for org (see the top of the file) and returns what
// it became. Only the system receives. It is idempotent on in.Key: an email received again
// is a Duplicate. A refusal is an apperr: NotFound (a reply tag that is not valid), Invalid
// (CodeNoSender), Forbidden (CodeNotFromAgent).
func (s *Service) ReceiveEmail(ctx context.Context, org *catalog.Organization, a Actor, in InboundEmail) (Received, error) {
	if a.Kind != System {
		return Received{}, apperr.New(apperr.Forbidden, CodeForbidden)
	}
	if s.mail == nil {
		return Received{}, errNoMail
	}
	msg := in.Message
	if msg == nil || in.Key == "" || len(in.Raw) == 0 {
		return Received{}, errors.New("desk: ReceiveEmail without a parsed email, key or bytes")
	}
	if in.Source != SourceSMTP && in.Source != SourceIMAP {
		return Received{}, fmt.Errorf("desk: email source %q", in.Source)
	}
	sender := inboundSender(msg, in.ReturnPath)
	if sender.Address == "" {
		return Received{}, apperr.New(apperr.Invalid, CodeNoSender)
	}
	ts := s.tenant(org)
	if id, ticket, err := s.inboundSeen(ctx, org, ts, in.Key); err != nil || id != 0 {
		if err == nil && in.mailbox != nil {
			err = s.saveMailbox(ctx, org, *in.mailbox, false)
		}
		return Received{Duplicate: true, TicketID: ticket}, err
	}
	quiet := msg.Auto.Automatic()
	up, left, err := s.stageInbound(ctx, org, msg)
	if err != nil {
		return Received{}, err
	}
	// Whatever becomes of the email, its files are either the message's or gone.
	defer up.Discard()
	body := inboundBody(msg, left)

	// Which ticket, and as whom.
	var target ticketState
	var actor Actor
	found := false
	if in.Tag != "" {
		t, st, err := s.verifyTag(ctx, org, ts, in.Tag)
		if err != nil {
			return Received{}, err
		}
		target, found = st, true
		actor = Actor{Kind: Customer, ticket: st.TicketID, access: st.access}
		if t.Agent != 0 {
			ag, err := s.Agent(ctx, org, AsSystem(), t.Agent)
			if err != nil || ag.Removed() || email.NormalizeAddress(ag.Email) != email.NormalizeAddress(sender.Address) {
				return Received{}, apperr.New(apperr.Forbidden, CodeNotFromAgent)
			}
			actor = AsAgent(ag)
		}
	}
	if !found {
		st, ok, err := s.threadTicket(ctx, org, ts, msg, sender.Address)
		if err != nil {
			return Received{}, err
		}
		if ok {
			target, found = st, true
			actor = Actor{Kind: Customer, ticket: st.TicketID, access: st.access}
		}
	}
	if found && target.Status == StatusClosed {
		// A reply to a closed ticket that was followed up already joins the follow-up.
		latest, err := s.latestFollowUp(ctx, org, ts, target)
		if err != nil {
			return Received{}, err
		}
		if latest.TicketID != target.TicketID {
			target = latest
			if actor.Kind == Customer {
				actor = Actor{Kind: Customer, ticket: latest.TicketID, access: latest.access}
			}
		}
	}
	// An agent's reply always stays on its ticket (a note when the ticket no longer takes it):
	// it never opens a ticket with the agent as the customer.
	if found && (target.Status != StatusClosed || actor.Kind == AgentActor) {
		r, err := s.receiveReply(ctx, org, ts, actor, target, body, up, in, sender.Address, quiet)
		if actor.Kind == AgentActor || !apperr.Is(err, apperr.Conflict) || apperr.CodeOf(err) != CodeTicketClosed {
			return r, err
		}
		// Closed meanwhile: a follow-up, as below.
	}
	followUp := int64(0)
	if found {
		followUp = target.TicketID
	}
	return s.openByEmail(ctx, org, ts, sender, body, up, in, quiet, followUp)
}

// inboundSender is who wrote msg: its From, else the envelope sender; zero when neither is a
// usable address.
func inboundSender(msg *email.Message, returnPath string) email.Address {
	if msg.From != nil && email.ValidAddress(msg.From.Address) == nil {
		return email.Address{Name: msg.From.Name, Address: email.NormalizeAddress(msg.From.Address)}
	}
	if email.ValidAddress(returnPath) == nil {
		return email.Address{Address: email.NormalizeAddress(returnPath)}
	}
	return email.Address{}
}

// inboundBody is the message an email becomes: its new text (the quoted history trimmed),
// bounded, with automatic mail marked and the attachments that were not kept named (left).
func inboundBody(msg *email.Message, left []string) string {
	body := strings.TrimSpace(msg.Reply)
	if body == "" {
		body = "(This email has no text.)"
	}
	if utf8.RuneCountInString(body) > maxInboundBody {
		body = string([]rune(body)[:maxInboundBody]) + "\n\n[…the rest is in the original email]"
	}
	if msg.Auto.Automatic() {
		body = "[Automatic email: " + msg.Auto.Reason + "]\n\n" + body
	}
	if len(left) > 0 {
		body += "\n\n[Not kept with this message, only in the original email:\n- " + strings.Join(left, "\n- ") + "]"
	}
	return body
}

// maxLeftNamed bounds the left-out attachments a message names one by one.
const maxLeftNamed = 20

// stageInbound stores msg's attachments as the staged files of the message the email will
// become, under the limits of uploads: a file over the per-file limit, beyond the per-message
// count, empty, or over the organization's quota is not kept, and the returned lines say
// which and why. The upload is nil when nothing was kept (its methods accept nil). Inline
// parts (an HTML email's cid: images) are kept like the others, with their Content-ID.
func (s *Service) stageInbound(ctx context.Context, org *catalog.Organization, msg *email.Message) (*Upload, []string, error) {
	if len(msg.Attachments) == 0 {
		return nil, nil, nil
	}
	lim := s.files
	var left []string
	leave := func(at email.Attachment, why string) {
		if len(left) == maxLeftNamed {
			left = append(left, "and more")
		}
		if len(left) > maxLeftNamed {
			return
		}
		left = append(left, fmt.Sprintf("%s (%s): %s", files.CleanName(at.Name), byteSize(at.Size), why))
	}
	up, err := s.StartUpload(ctx, org, AsSystem(), 0)
	if err != nil {
		return nil, nil, err
	}
	for _, at := range msg.Attachments {
		switch {
		case at.Size == 0:
			leave(at, "empty")
			continue
		case int64(at.Size) > lim.MaxFileBytes:
			leave(at, "larger than the "+byteSize(int(lim.MaxFileBytes))+" limit per file")
			continue
		case len(up.files) >= lim.MaxFiles:
			leave(at, fmt.Sprintf("more than %d files in one message", lim.MaxFiles))
			continue
		}
		name := at.Name
		if path.Ext(name) == "" {
			// A part without a name of its own (an inline image often has none: the parser
			// calls it attachment-N): the extension of its content, so it opens when saved.
			name += files.Ext(files.Sniff(at.Data))
		}
		_, err := up.Add(ctx, NewFile{Name: name, ContentID: at.ContentID}, bytes.NewReader(at.Data))
		switch {
		case err == nil:
		case apperr.CodeOf(err) == CodeQuotaExceeded:
			leave(at, "the organization's storage is full")
		case apperr.CodeOf(err) == CodeFileTooLarge:
			leave(at, "larger than the "+byteSize(int(lim.MaxFileBytes))+" limit per file")
		case apperr.Is(err, apperr.Invalid):
			leave(at, "not a file that can be kept")
		default:
			up.Discard()
			return nil, nil, err
		}
	}
	if len(up.files) == 0 {
		up.Discard()
		return nil, left, nil
	}
	return up, left, nil
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// inboundSeen returns the stored email with this key and its ticket (0, 0: none).
func (s *Service) inboundSeen(ctx context.Context, org *catalog.Organization, ts *tenantState, key string) (int64, int64, error) {
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return 0, 0, err
	}
	defer release()
	var id, ticket int64
	err = db.db.QueryRowContext(ctx, "SELECT id, COALESCE(ticket_id, 0) FROM inbound_emails WHERE dedupe_key = ?", key).Scan(&id, &ticket)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	return id, ticket, err
}

// threadTicket finds the ticket an email answers without a reply address: by its threading
// headers among this tenant's Message-IDs, then by a subject reference when the sender is
// the ticket's contact.
func (s *Service) threadTicket(ctx context.Context, org *catalog.Organization, ts *tenantState, msg *email.Message, sender string) (ticketState, bool, error) {
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return ticketState{}, false, err
	}
	var ticket int64
	ids := append(append([]string(nil), msg.InReplyTo...), msg.References...)
	if len(ids) > 0 {
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		err = db.db.QueryRowContext(ctx, `SELECT ticket_id FROM email_ids WHERE message_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)
			ORDER BY id DESC LIMIT 1`, args...).Scan(&ticket)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			release()
			return ticketState{}, false, err
		}
	}
	if ticket == 0 {
		if ref, ok := email.SubjectRef(msg.Subject); ok {
			var contact string
			err = db.db.QueryRowContext(ctx, "SELECT CAST(customer_email AS BLOB) FROM tickets WHERE id = ?", ref).Scan(&contact)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				release()
				return ticketState{}, false, err
			}
			if err == nil && email.NormalizeAddress(contact) == sender {
				ticket = ref
			}
		}
	}
	release()
	if ticket == 0 {
		return ticketState{}, false, nil
	}
	st, err := s.stateByTicket(ctx, org, ts, ticket)
	if apperr.Is(err, apperr.NotFound) {
		return st, false, nil
	}
	return st, err == nil, err
}

// maxFollowUps bounds the follow-ups latestFollowUp walks.
const maxFollowUps = 20

// latestFollowUp is the newest ticket of closed ticket t's follow-ups (each opened by a reply
// to the one before): t itself when it has none.
func (s *Service) latestFollowUp(ctx context.Context, org *catalog.Organization, ts *tenantState, t ticketState) (ticketState, error) {
	for range maxFollowUps {
		db, release, err := s.store(ctx, org, ts)
		if err != nil {
			return t, err
		}
		var next int64
		err = db.db.QueryRowContext(ctx, "SELECT ticket_id FROM email_tickets WHERE follows = ? ORDER BY ticket_id DESC LIMIT 1",
			t.TicketID).Scan(&next)
		release()
		if errors.Is(err, sql.ErrNoRows) {
			return t, nil
		}
		if err != nil {
			return t, err
		}
		st, err := s.stateByTicket(ctx, org, ts, next)
		if apperr.Is(err, apperr.NotFound) {
			return t, nil
		}
		if err != nil {
			return t, err
		}
		t = st
		if t.Status != StatusClosed {
			return t, nil
		}
	}
	return t, nil
}

// recordInbound stores the email in tx as what became of it (ticket, message), with its
// Message-ID in the ticket's thread and the mailbox's state (IMAP). A key stored meanwhile
// is a refusal (codeDuplicate), which rolls the write back.
func (s *Service) recordInbound(ctx context.Context, q querier, in InboundEmail, sender string, ticket, message int64, now time.Time) error {
	msg := in.Message
	res, err := q.ExecContext(ctx, `INSERT INTO inbound_emails (dedupe_key, ticket_id, message_id, source, sender, subject, auto,
		raw, text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
		in.Key, ticket, message, in.Source, sender, msg.Subject, string(msg.Auto.Kind), in.Raw, msg.Text, now.Unix())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.Conflict, codeDuplicate)
	}
	if msg.MessageID != "" {
		if _, err := q.ExecContext(ctx, `INSERT INTO email_ids (message_id, ticket_id, audience, created_at) VALUES (?, ?, 'customer', ?)
			ON CONFLICT (message_id) DO NOTHING`, msg.MessageID, ticket, now.Unix()); err != nil {
			return err
		}
	}
	if in.mailbox != nil {
		return saveMailboxIn(ctx, q, *in.mailbox, true)
	}
	return nil
}

// receiveReply adds an email to an open ticket as actor's message. An agent's reply that the
// ticket does not take (someone else's, or closed) becomes the agent's note instead.
func (s *Service) receiveReply(ctx context.Context, org *catalog.Organization, ts *tenantState, actor Actor, target ticketState,
	body string, up *Upload, in InboundEmail, sender string, quiet bool) (Received, error) {
	due, err := s.dueRefresh(ctx, org)
	if err != nil {
		return Received{}, err
	}
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Received{}, err
	}
	defer release()
	now := stamp(s.now)
	kick := false
	write := func(note bool) (Message, error) {
		return db.write(ctx, actor, func(ctx context.Context, tx querier) (Message, bool, error) {
			var m Message
			var changed bool
			var act *Activity
			var err error
			if note {
				m, err = insertMessage(ctx, tx, Message{TicketID: target.TicketID, ConversationID: target.ConversationID,
					Sender: SenderNote, AgentID: actor.AgentID, AgentName: actor.Name, CreatedAt: now,
					Body: "(An email reply that could not go to the customer: the ticket is someone else's or closed.)\n\n" + body})
			} else {
				if err := allow(actor, opWrite, target); err != nil {
					return Message{}, false, err
				}
				m, changed, act, err = storeMessage(ctx, tx, db, actor, target, body, nil, now, due, quiet)
			}
			if err != nil {
				return m, changed, err
			}
			if m.Files, err = up.link(ctx, tx, m.ID); err != nil {
				return Message{}, false, err
			}
			if err := s.recordInbound(ctx, tx, in, sender, m.TicketID, m.ID, now); err != nil {
				return Message{}, false, err
			}
			ev := Event{Kind: MessageAdded, TicketID: m.TicketID, ConversationID: m.ConversationID, MessageID: m.ID, Sender: m.Sender, By: actor}
			if act != nil {
				ev.Changed = ChangedStatus | ChangedAssignee
			}
			k, err := s.produce(ctx, tx, org, ts, change{Event: ev, Now: now, Message: &m, Activity: act, Quiet: quiet})
			kick = kick || k
			return m, changed, err
		})
	}
	m, err := write(false)
	note := false
	if actor.Kind == AgentActor && (apperr.Is(err, apperr.Forbidden) || apperr.CodeOf(err) == CodeTicketClosed) {
		note = true
		m, err = write(true)
	}
	if apperr.CodeOf(err) == codeDuplicate {
		return Received{Duplicate: true, TicketID: target.TicketID}, nil
	}
	if err != nil {
		return Received{}, err
	}
	up.sent()
	if kick {
		s.kickOutbox(org)
	}
	return Received{TicketID: m.TicketID, MessageID: m.ID, Note: note}, nil
}

// openByEmail opens a ticket from an email (following up ticket followUp when it is not 0).
func (s *Service) openByEmail(ctx context.Context, org *catalog.Organization, ts *tenantState, sender email.Address, body string,
	up *Upload, in InboundEmail, quiet bool, followUp int64) (Received, error) {
	msg := in.Message
	name := truncate(email.CleanLine(sender.Name), 100)
	if name == "" {
		name, _, _ = strings.Cut(sender.Address, "@")
	}
	subject := email.BaseSubject(msg.Subject)
	due, err := s.dueRefresh(ctx, org)
	if err != nil {
		return Received{}, err
	}
	st, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Received{}, err
	}
	defer release()
	h := sha256.Sum256([]byte(newToken()))
	kick := false
	var first Message
	t, err := st.openTicket(ctx, name, sender.Address, body, h[:], func(tx *sql.Tx, t Ticket, m Message) error {
		var err error
		if m.Files, err = up.link(ctx, tx, m.ID); err != nil {
			return err
		}
		first = m
		now := m.CreatedAt
		if subject != "" || followUp != 0 {
			var follows any
			if followUp != 0 {
				follows = followUp
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO email_tickets (ticket_id, subject, follows) VALUES (?, ?, ?)",
				t.ID, subject, follows); err != nil {
				return err
			}
		}
		if followUp != 0 {
			if _, err := insertMessage(ctx, tx, Message{TicketID: t.ID, ConversationID: t.ConversationID, Sender: SenderActivity,
				Activity: &Activity{Kind: "follow_up", From: strconv.FormatInt(followUp, 10)}, CreatedAt: now}); err != nil {
				return err
			}
		}
		if err := s.recordInbound(ctx, tx, in, sender.Address, t.ID, m.ID, now); err != nil {
			return err
		}
		if err := due(ctx, tx, t.ID); err != nil {
			return err
		}
		kick, err = s.produce(ctx, tx, org, ts, change{Event: Event{Kind: TicketChanged, TicketID: t.ID, ConversationID: t.ConversationID,
			MessageID: m.ID, Sender: SenderCustomer, Changed: ChangedCreated, By: AsSystem()}, Now: now, Message: &m, Quiet: quiet})
		return err
	})
	if apperr.CodeOf(err) == codeDuplicate {
		return Received{Duplicate: true}, nil
	}
	if err != nil {
		return Received{}, err
	}
	up.sent()
	s.changed(ts, Event{Kind: TicketChanged, TicketID: t.ID, ConversationID: t.ConversationID, Changed: ChangedCreated, By: AsSystem()})
	if kick {
		s.kickOutbox(org)
	}
	return Received{TicketID: t.ID, MessageID: first.ID, Created: true, FollowUp: followUp}, nil
}

// dueRefresh returns what refreshes a ticket's due times inside a write of org's: nothing
// when the organization has no service-level targets.
func (s *Service) dueRefresh(ctx context.Context, org *catalog.Organization) (func(ctx context.Context, tx querier, id int64) error, error) {
	settings, err := s.Settings(ctx, org)
	if err != nil {
		return nil, err
	}
	l := settings.levels()
	return func(ctx context.Context, tx querier, id int64) error {
		if !l.any() {
			return nil
		}
		at, err := refreshDue(ctx, tx, l, id)
		if at != 0 {
			s.wakeAt(ctx, org, breachWake(at))
		}
		return err
	}, nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// ---------------------------------------------------------------------------------------------
// What agents read of received email

// ReceivedEmail is a stored email as the team reads it: its whole text, quoted history
// included.
type ReceivedEmail struct {
	ID        int64
	TicketID  int64
	MessageID int64
	Source    string
	Sender    string
	Subject   string
	Auto      string
	Text      string
	Size      int
	CreatedAt time.Time
}

// ReceivedEmail returns stored email id for the team.
func (s *Service) ReceivedEmail(ctx context.Context, org *catalog.Organization, a Actor, id int64) (ReceivedEmail, error) {
	if err := mayWork(a); err != nil {
		return ReceivedEmail{}, notFound(CodeEmailNotFound)
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return ReceivedEmail{}, err
	}
	defer release()
	var r ReceivedEmail
	var created int64
	err = db.db.QueryRowContext(ctx, `SELECT id, COALESCE(ticket_id, 0), COALESCE(message_id, 0), CAST(source AS BLOB),
		CAST(sender AS BLOB), CAST(subject AS BLOB), CAST(auto AS BLOB), CAST(text AS BLOB), length(raw), created_at
		FROM inbound_emails WHERE id = ?`, id).Scan(&r.ID, &r.TicketID, &r.MessageID, &r.Source, &r.Sender, &r.Subject, &r.Auto,
		&r.Text, &r.Size, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound(CodeEmailNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("desk.ReceivedEmail: %w", err)
	}
	r.CreatedAt = unix(created)
	return r, nil
}

// ReceivedEmails maps the messages of ticket ticketID that came by email to their stored
// email, for the team's ticket page.
func (s *Service) ReceivedEmails(ctx context.Context, org *catalog.Organization, a Actor, ticketID int64) (map[int64]int64, error) {
	if err := mayWork(a); err != nil {
		return nil, err
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := db.db.QueryContext(ctx, `SELECT message_id, id FROM inbound_emails WHERE ticket_id = ? AND message_id IS NOT NULL
		ORDER BY id LIMIT 1000`, ticketID)
	if err != nil {
		return nil, fmt.Errorf("desk.ReceivedEmails: %w", err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var m, id int64
		if err := rows.Scan(&m, &id); err != nil {
			return nil, err
		}
		out[m] = id
	}
	return out, rows.Err()
}
