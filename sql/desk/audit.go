package desk

// The audit log: who did what, when and from where, kept in the tenant's own database (so an
// export carries it). A change the desk makes writes its entry in the same transaction as the
// change, so there is never a change without its entry nor an entry for a change that rolled
// back. What changes nothing in the tenant's database — a login, a refused one, the owner's
// password (kept in the catalog) — is recorded by a method of its own. No entry ever holds a
// password, a token or a secret.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// The events of the audit log. The part before the dot is the event's category, by which the
// log is filtered (AuditCategories).
const (
	AuditLogin            = "login.succeeded"
	AuditLoginRefused     = "login.refused"
	AuditPasswordChanged  = "password.changed"
	AuditPasswordReset    = "password.reset"
	AuditAgentCreated     = "agent.created"
	AuditAgentRemoved     = "agent.removed"
	AuditAgentRole        = "agent.role_changed"
	AuditTokenCreated     = "api_token.created"
	AuditTokenRevoked     = "api_token.revoked"
	AuditWebhookCreated   = "webhook.created"
	AuditWebhookRemoved   = "webhook.removed"
	AuditWebhookResent    = "webhook.resent"
	AuditSettingsChanged  = "settings.changed"
	AuditExportDownloaded = "export.downloaded"
	AuditTicketReassigned = "ticket.reassigned"
)

// AuditCategories lists the categories of audit events, in the order a filter offers them.
var AuditCategories = []string{"login", "password", "agent", "api_token", "webhook", "settings", "export", "ticket"}

// Targets of audit entries.
const (
	TargetAgent    = "agent"
	TargetOwner    = "owner"
	TargetToken    = "api_token"
	TargetWebhook  = "webhook"
	TargetTicket   = "ticket"
	TargetSettings = "settings"
)

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID    int64
	At    time.Time
	Event string
	// ActorKind is owner, agent, system or customer; ActorID the agent's id; ActorName how
	// the actor was named then; APITokenID the token the actor came through (0: a session).
	ActorKind  string
	ActorID    int64
	ActorName  string
	APITokenID int64
	// TargetKind and TargetID name what was acted on (an agent, a ticket, a token …).
	TargetKind string
	TargetID   int64
	// Detail says more: names, old and new values. Never a secret.
	Detail map[string]string
	// IP is the client address the request came from ("" for tenantdesk's own work).
	IP string
}

// originKey carries the request's client address in a context.
type originKey struct{}

// WithOrigin returns ctx carrying the client address ip, which audit entries written during
// calls with it record as where the change came from.
func WithOrigin(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, originKey{}, ip)
}

func originOf(ctx context.Context) string {
	ip, _ := ctx.Value(originKey{}).(string)
	return ip
}

// audit is an entry about to be written: the event, its target and detail; the actor, the
// time and the origin are the call's.
type audit struct {
	event      string
	targetKind string
	targetID   int64
	detail     map[string]string
}

// writeAudit writes e, done by a at now, in q (the transaction of the change it records).
func writeAudit(ctx context.Context, q querier, now time.Time, a Actor, e audit) error {
	detail := ""
	if len(e.detail) > 0 {
		b, err := json.Marshal(e.detail)
		if err != nil {
			return err
		}
		detail = string(b)
	}
	var actorID, tokenID, targetID any
	if a.AgentID != 0 {
		actorID = a.AgentID
	}
	if a.TokenID != 0 {
		tokenID = a.TokenID
	}
	if e.targetID != 0 {
		targetID = e.targetID
	}
	name := a.Name
	if a.Kind == System && name == "" {
		name = "tenantdesk"
	}
	_, err := q.ExecContext(ctx, `INSERT INTO audit_log (at, event, actor_kind, actor_id, actor_name, api_token_id,
		target_kind, target_id, detail, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		now.Unix(), e.event, a.Kind.String(), actorID, name, tokenID, e.targetKind, targetID, detail, originOf(ctx))
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.event, err)
	}
	return nil
}

// record writes one entry in a transaction of its own: for what changes nothing else in the
// tenant's database.
func (s *Service) record(ctx context.Context, org *catalog.Organization, a Actor, e audit) error {
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return err
	}
	defer release()
	return db.inTx(ctx, "record", func(tx *sql.Tx) error { return writeAudit(ctx, tx, stamp(s.now), a, e) })
}

// LoginAttempt is a login to record: whose (the owner, or an agent: AgentID and Name, 0 and ""
// when the email named no agent), and whether it succeeded; Reason says why it was refused
// ("password", "unknown_account", "expired").
type LoginAttempt struct {
	Owner   bool
	AgentID int64
	Name    string
	OK      bool
	Reason  string
}

// RecordLogin records a login to org, successful or refused. Only the login check makes it,
// as the system (the person is not an actor until the login succeeded); the entry names the
// person as its actor.
func (s *Service) RecordLogin(ctx context.Context, org *catalog.Organization, a Actor, l LoginAttempt) error {
	if a.Kind != System {
		return apperr.New(apperr.Forbidden, CodeForbidden)
	}
	who := Actor{Kind: AgentActor, AgentID: l.AgentID, Name: l.Name}
	target := audit{event: AuditLogin, targetKind: TargetAgent, targetID: l.AgentID}
	if l.Owner {
		who = Actor{Kind: Owner, Name: org.Name}
		target.targetKind, target.targetID = TargetOwner, 0
	}
	if !l.OK {
		target.event = AuditLoginRefused
		target.detail = map[string]string{"reason": l.Reason}
		if !l.Owner && l.AgentID == 0 {
			// Nobody to name: the entry is the system's, with no trace of what was typed.
			who = AsSystem()
			target.targetKind = ""
		}
	}
	return s.record(ctx, org, who, target)
}

// RecordOwnerPassword records that the owner changed the organization's password (which the
// catalog keeps): the owner only.
func (s *Service) RecordOwnerPassword(ctx context.Context, org *catalog.Organization, a Actor) error {
	if a.Kind != Owner {
		return apperr.New(apperr.Forbidden, CodeForbidden)
	}
	return s.record(ctx, org, a, audit{event: AuditPasswordChanged, targetKind: TargetOwner})
}

// AuditQuery selects audit entries: of one category (AuditCategories; "" any), of one actor
// (ActorKind "owner", "agent" with ActorID, "system"; "" anyone), older than Before (0: the
// newest), at most Limit.
type AuditQuery struct {
	Category  string
	ActorKind string
	ActorID   int64
	Before    int64
	Limit     int
}

// AuditLog lists audit entries, newest first: the owner and admins.
func (s *Service) AuditLog(ctx context.Context, org *catalog.Organization, a Actor, q AuditQuery) ([]AuditEntry, error) {
	if err := mayManage(a); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if q.Category != "" {
		ok := false
		for _, c := range AuditCategories {
			ok = ok || c == q.Category
		}
		if !ok {
			return nil, apperr.Field(apperr.Invalid, "event", apperr.CodeInvalid)
		}
		// Every event of the category sorts between "cat." and "cat/" ('/' follows '.').
		where, args = append(where, "event > ? AND event < ?"), append(args, q.Category+".", q.Category+"/")
	}
	switch q.ActorKind {
	case "":
	case "owner", "system":
		where, args = append(where, "actor_kind = ?"), append(args, q.ActorKind)
	case "agent":
		where, args = append(where, "actor_kind = 'agent' AND actor_id = ?"), append(args, q.ActorID)
	default:
		return nil, apperr.Field(apperr.Invalid, "actor", apperr.CodeInvalid)
	}
	if q.Before > 0 {
		where, args = append(where, "id < ?"), append(args, q.Before)
	}
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 50
	}
	cond := ""
	if len(where) > 0 {
		cond = "WHERE " + strings.Join(where, " AND ")
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := db.db.QueryContext(ctx, `SELECT id, at, CAST(event AS BLOB), CAST(actor_kind AS BLOB), COALESCE(actor_id, 0),
		CAST(actor_name AS BLOB), COALESCE(api_token_id, 0), CAST(target_kind AS BLOB), COALESCE(target_id, 0),
		CAST(detail AS BLOB), CAST(ip AS BLOB) FROM audit_log `+cond+` ORDER BY id DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("desk.AuditLog: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &at, &e.Event, &e.ActorKind, &e.ActorID, &e.ActorName, &e.APITokenID,
			&e.TargetKind, &e.TargetID, &detail, &e.IP); err != nil {
			return nil, fmt.Errorf("desk.AuditLog: %w", err)
		}
		e.At = unix(at)
		if detail != "" {
			if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
				e.Detail = map[string]string{"detail": detail}
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// itoa formats an id for an entry's detail.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
