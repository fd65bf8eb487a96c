package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tenantdesk/tenantdesk/handlers/email/smtpin"
	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email"
)

// Inbound is the built-in SMTP receiver's door into the desk (smtpin.Router), as the routes
// are the browser's: the organization is the one whose address the mail came to — the
// mailbox of {org}@MAIL_DOMAIN, or of a reply address whose tag the desk verified against
// that organization — and nothing in the mail chooses another.
type Inbound struct {
	cat  *catalog.Store
	desk *desk.Service
	log  *slog.Logger
}

// NewInbound returns the receiver's router on the catalog and the desk.
func NewInbound(cat *catalog.Store, d *desk.Service, log *slog.Logger) *Inbound {
	return &Inbound{cat: cat, desk: d, log: log}
}

var _ smtpin.Router = (*Inbound)(nil)

// org is the organization of a recipient: unknown ones are smtpin.ErrUnknownRecipient (550).
func (in *Inbound) org(ctx context.Context, rcpt email.Recipient) (*catalog.Organization, error) {
	if !isUsername(rcpt.Mailbox) {
		return nil, smtpin.ErrUnknownRecipient
	}
	org, err := in.cat.Lookup(ctx, rcpt.Mailbox)
	if apperr.Is(err, apperr.NotFound) {
		return nil, smtpin.ErrUnknownRecipient
	}
	return org, err
}

// Route accepts {org}@MAIL_DOMAIN of an organization that exists and a reply address whose
// tag is valid for it; anything else is unknown.
func (in *Inbound) Route(ctx context.Context, rcpt email.Recipient) error {
	org, err := in.org(ctx, rcpt)
	if err != nil {
		return err
	}
	if rcpt.Tag == "" {
		return nil
	}
	err = in.desk.CheckReplyTag(ctx, org, desk.AsSystem(), rcpt.Tag)
	if apperr.Is(err, apperr.NotFound) {
		return smtpin.ErrUnknownRecipient
	}
	return err
}

// Deliver stores a received email for its recipient's organization. A refusal of the desk
// (no sender, not the agent's address) is final (554); anything else is retried (451).
func (in *Inbound) Deliver(ctx context.Context, rcpt email.Recipient, d *smtpin.Delivery) error {
	org, err := in.org(ctx, rcpt)
	if errors.Is(err, smtpin.ErrUnknownRecipient) {
		// Deleted between RCPT and DATA.
		return smtpin.Permanent(err)
	}
	if err != nil {
		return err
	}
	r, err := in.desk.ReceiveEmail(ctx, org, desk.AsSystem(), desk.InboundEmail{Key: d.Key, Message: d.Message, Raw: d.Raw,
		Source: desk.SourceSMTP, Tag: rcpt.Tag, ReturnPath: d.Envelope.From})
	if e, ok := apperr.As(err); ok && (e.Kind == apperr.Invalid || e.Kind == apperr.Forbidden || e.Kind == apperr.NotFound) {
		in.log.Info("email refused", "tenant", org.Username, "reason", string(e.Code))
		return smtpin.Permanent(fmt.Errorf("refused: %s", e.Code))
	}
	if err != nil {
		return err
	}
	in.log.Info("email received", "tenant", org.Username, "ticket_id", r.TicketID, "message_id", r.MessageID,
		"created", r.Created, "duplicate", r.Duplicate, "follow_up", r.FollowUp, "auto", string(d.Message.Auto.Kind))
	return nil
}
