package desk

// The customer portal: a customer who lost the link to a ticket asks, with an email address,
// for a sign-in link that lists that address's tickets of the organization. The link is sent
// to the address only (so only its owner learns what it lists), works once, for
// portalLinkTTL, and the answer to the request is the same whether or not the address has
// tickets: the request tells nobody who writes to the organization.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/email"
)

const (
	// portalLinkTTL is how long a sign-in link works.
	portalLinkTTL = 30 * time.Minute
	// portalResend is the least time between two sign-in emails to one address: asking
	// again sooner sends nothing (and answers the same), so the form cannot flood a mailbox.
	portalResend = time.Minute
	// portalMaxTickets bounds the tickets a sign-in lists, newest first.
	portalMaxTickets = 200
)

// CodePortalLinkNotFound: a sign-in link that is unknown, used or expired.
const CodePortalLinkNotFound apperr.Code = "portal_link_not_found"

// PortalTicket is a ticket as the portal lists it: Link opens its page (a signed link).
type PortalTicket struct {
	ID        int64
	Subject   string
	Status    string
	UpdatedAt time.Time
	Link      string
}

// portalTokenLen is the length of a sign-in token (newToken: 32 bytes, base64url).
const portalTokenLen = 43

// ValidPortalToken reports whether token has a sign-in token's shape.
func ValidPortalToken(token string) bool {
	if len(token) != portalTokenLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	return err == nil && len(b) == 32
}

// RequestPortalLink sends a sign-in link to address when it has tickets at org, and does
// nothing else otherwise: the caller answers the same either way. What depends on the
// address (finding its tickets, writing the email) runs after the call returns, so that not
// even the time of the answer tells whether the address has tickets; its failures are
// logged. Only the public asks. Email off (for the server or the organization) is errNoMail
// (CodeEmailOff), the same for every address; an invalid address is Invalid on field "email".
func (s *Service) RequestPortalLink(ctx context.Context, org *catalog.Organization, a Actor, address string) error {
	if a.Kind != Public {
		return apperr.New(apperr.Forbidden, CodeForbidden)
	}
	if s.mail == nil {
		return errNoMail
	}
	address = email.NormalizeAddress(address)
	if email.ValidAddress(address) != nil {
		return apperr.Field(apperr.Invalid, "email", apperr.CodeInvalid)
	}
	om, err := s.orgMail(ctx, org)
	if err != nil {
		return err
	}
	from, ok := s.mail.sender(org, om)
	if !ok {
		return errNoMail
	}
	o := *org // the caller's organization may be reused once it has answered
	s.pollers.Add(1)
	go func() {
		defer s.pollers.Done()
		ctx, cancel := context.WithTimeout(s.outbox.ctx, 30*time.Second)
		defer cancel()
		if err := s.sendPortalLink(ctx, &o, address, from); err != nil {
			s.log.Warn("portal sign-in link", "tenant", o.Username, "err", err)
		}
	}()
	return nil
}

// sendPortalLink writes the sign-in email of RequestPortalLink into the outbox, when address
// has tickets at org and no link went to it in the last portalResend.
func (s *Service) sendPortalLink(ctx context.Context, org *catalog.Organization, address string, from email.Address) error {
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return err
	}
	defer release()
	now := stamp(s.now)
	token := newToken()
	h := sha256.Sum256([]byte(token))
	var due time.Time
	err = db.inTx(ctx, "RequestPortalLink", func(tx *sql.Tx) error {
		due = time.Time{}
		var contact int64
		err := tx.QueryRowContext(ctx, `SELECT c.id FROM contacts c WHERE c.email = ?
			AND EXISTS (SELECT 1 FROM tickets t WHERE t.contact_id = c.id)`, address).Scan(&contact)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM portal_links WHERE contact_id = ? AND expires_at < ?",
			contact, now.Add(-portalLinkTTL).Unix()); err != nil {
			return err
		}
		var recent int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM portal_links WHERE contact_id = ? AND created_at > ?",
			contact, now.Add(-portalResend).Unix()).Scan(&recent); err != nil {
			return err
		}
		if recent > 0 {
			return nil
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO portal_links (token_hash, contact_id, expires_at, created_at)
			VALUES (?, ?, ?, ?) RETURNING id`, h[:], contact, now.Add(portalLinkTTL).Unix(), now.Unix()).Scan(&id); err != nil {
			return err
		}
		link := s.mail.cfg.PublicURL + "/" + org.Username + "/my-tickets?k=" + token
		out, err := email.Compose(email.Notification{From: from, To: []email.Address{{Address: address}}, Domain: s.mail.cfg.Domain,
			Subject: "Your tickets with " + org.Name,
			Text: "Hello,\n\nsomeone (we hope you) asked for the list of your tickets with " + org.Name + ". " +
				"Open it here (the link works once, for 30 minutes):\n" + link + "\n\n" +
				"If you did not ask, ignore this email: nothing happens without the link.\n\n— " + org.Name + "\n",
			Date: now})
		if err != nil {
			return fmt.Errorf("desk: compose: %w", err)
		}
		payload, err := json.Marshal(emailPayload{From: out.From, To: out.To, Raw: out.Raw})
		if err != nil {
			return err
		}
		due, err = enqueue(ctx, tx, now, []OutboxItem{{Kind: mailKind, Key: "portal:" + strconv.FormatInt(id, 10),
			Target: address, Payload: payload}})
		if err != nil {
			return err
		}
		if !due.IsZero() {
			s.outboxWake(ctx, org, ts, due)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !due.IsZero() {
		s.kickOutbox(org)
		s.log.Info("portal sign-in link sent", "tenant", org.Username)
	}
	return nil
}

// PortalTickets uses the sign-in link token (it works once: used, expired or unknown is
// NotFound, CodePortalLinkNotFound) and returns its address's tickets at org, newest first,
// each with a signed link to its page. Only the public signs in.
func (s *Service) PortalTickets(ctx context.Context, org *catalog.Organization, a Actor, token string) ([]PortalTicket, error) {
	if a.Kind != Public {
		return nil, apperr.New(apperr.Forbidden, CodeForbidden)
	}
	if !ValidPortalToken(token) {
		return nil, notFound(CodePortalLinkNotFound)
	}
	if s.mail == nil {
		return nil, errNoMail
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	now := stamp(s.now)
	h := sha256.Sum256([]byte(token))
	var out []PortalTicket
	err = db.inTx(ctx, "PortalTickets", func(tx *sql.Tx) error {
		out = nil
		var contact int64
		err := tx.QueryRowContext(ctx, `UPDATE portal_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL
			AND expires_at >= ? RETURNING contact_id`, now.Unix(), h[:], now.Unix()).Scan(&contact)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(CodePortalLinkNotFound)
		}
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT t.id, t.access_version, CAST(t.status AS BLOB), t.updated_at,
			CAST(t.query AS BLOB), CAST(COALESCE(e.subject, '') AS BLOB)
			FROM tickets t LEFT JOIN email_tickets e ON e.ticket_id = t.id
			WHERE t.contact_id = ? ORDER BY t.id DESC LIMIT ?`, contact, portalMaxTickets)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t mailTicket
			var updated int64
			if err := rows.Scan(&t.ID, &t.Access, &t.Status, &updated, &t.Query, &t.Subject); err != nil {
				return err
			}
			out = append(out, PortalTicket{ID: t.ID, Subject: t.subject(), Status: t.Status, UpdatedAt: unix(updated),
				Link: s.mail.signedLink(org, t.ID, t.Access, now)})
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
