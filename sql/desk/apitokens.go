package desk

// API tokens: the owner and admins make them; each acts as the organization or as one agent
// (with that agent's role as it is at each request). Only a token's SHA-256 is stored. The
// HTTP layer makes and parses tokens (their shape names the organization); the desk stores
// them, resolves one to its actor and records when it was last used.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// Codes of API token errors.
const (
	CodeTokenNotFound apperr.Code = "api_token_not_found"
	// CodeTokenInvalid: no such token, or revoked, or its agent removed.
	CodeTokenInvalid apperr.Code = "api_token_invalid"
)

// MaxTokenName bounds a token's name, in characters.
const MaxTokenName = 100

// lastUsedEvery is how often a token's last use is written: at most once a minute, so that a
// busy integration does not turn every read into a write.
const lastUsedEvery = time.Minute

// APIToken is an API token as its list shows it (never the token itself).
type APIToken struct {
	ID   int64
	Name string
	// AgentID is the agent it acts as, 0 for the organization; AgentName that agent's name.
	AgentID    int64
	AgentName  string
	CreatedAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Revoked reports whether the token was revoked.
func (t APIToken) Revoked() bool { return !t.RevokedAt.IsZero() }

// tokenKey names a token of a tenant by its hash.
type tokenKey struct {
	t    Tenant
	hash [32]byte
}

// apiTokens caches resolved tokens (stamped with their tenant's generation: creating or
// revoking a token, or changing an agent, starts a new one) and when each was last written as
// used.
type apiTokens struct {
	mu       sync.Mutex
	resolved map[tokenKey]stamped[APIToken]
	used     map[tokenKey]time.Time
}

// cacheTokens bounds the resolved tokens kept; past it the map starts again.
const cacheTokens = 4096

// CreateAPIToken stores a token whose SHA-256 is hash, named name, acting as agent agentID (0:
// the organization). The owner and admins make tokens; only the owner makes one that acts as
// the organization. The agent must be one of the organization's, not removed.
func (s *Service) CreateAPIToken(ctx context.Context, org *catalog.Organization, a Actor, name string, agentID int64, hash [32]byte) (APIToken, error) {
	if err := mayManage(a); err != nil {
		return APIToken{}, err
	}
	name = strings.TrimSpace(name)
	if err := checkText("name", name); err != nil {
		return APIToken{}, err
	}
	if utf8.RuneCountInString(name) > MaxTokenName {
		return APIToken{}, apperr.Field(apperr.Invalid, "name", apperr.CodeTooLong)
	}
	if agentID == 0 && a.Kind != Owner && a.Kind != System {
		return APIToken{}, apperr.Field(apperr.Invalid, "agent_id", CodeForbidden)
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return APIToken{}, err
	}
	defer release()
	now := stamp(s.now)
	t := APIToken{Name: name, AgentID: agentID, CreatedAt: now}
	err = db.inTx(ctx, "CreateAPIToken", func(tx *sql.Tx) error {
		var agent any
		if agentID != 0 {
			ag, err := db.agent(ctx, tx, "CreateAPIToken", "id = ?", agentID)
			if apperr.Is(err, apperr.NotFound) {
				return apperr.Field(apperr.Invalid, "agent_id", apperr.CodeInvalid)
			}
			if err != nil {
				return err
			}
			if ag.Removed() {
				return apperr.Field(apperr.Invalid, "agent_id", CodeAgentRemoved)
			}
			t.AgentName, agent = ag.FullName, agentID
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO api_tokens (name, token_hash, agent_id, created_at)
			VALUES (?, ?, ?, ?) RETURNING id`, name, hash[:], agent, now.Unix()).Scan(&t.ID); err != nil {
			return err
		}
		acting := "the organization"
		if agentID != 0 {
			acting = t.AgentName
		}
		return writeAudit(ctx, tx, now, a, audit{event: AuditTokenCreated, targetKind: TargetToken, targetID: t.ID,
			detail: map[string]string{"name": name, "acts_as": acting}})
	})
	if err != nil {
		return APIToken{}, err
	}
	s.changed(ts, Event{Kind: SettingsChanged, By: a})
	return t, nil
}

// APITokens lists the organization's tokens, newest first, revoked ones too: the owner and
// admins.
func (s *Service) APITokens(ctx context.Context, org *catalog.Organization, a Actor) ([]APIToken, error) {
	if err := mayManage(a); err != nil {
		return nil, err
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := db.db.QueryContext(ctx, `SELECT k.id, CAST(k.name AS BLOB), COALESCE(k.agent_id, 0),
		CAST(COALESCE(a.full_name, '') AS BLOB), k.created_at, COALESCE(k.last_used_at, 0), COALESCE(k.revoked_at, 0)
		FROM api_tokens k LEFT JOIN agents a ON a.id = k.agent_id ORDER BY k.id DESC LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("desk.APITokens: %w", err)
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		var t APIToken
		var created, used, revoked int64
		if err := rows.Scan(&t.ID, &t.Name, &t.AgentID, &t.AgentName, &created, &used, &revoked); err != nil {
			return nil, fmt.Errorf("desk.APITokens: %w", err)
		}
		t.CreatedAt, t.LastUsedAt, t.RevokedAt = unix(created), unix(used), unix(revoked)
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeAPIToken revokes token id at once: the owner and admins. Revoking a revoked token is
// no change; an unknown id is NotFound.
func (s *Service) RevokeAPIToken(ctx context.Context, org *catalog.Organization, a Actor, id int64) error {
	if err := mayManage(a); err != nil {
		return err
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return err
	}
	defer release()
	now := stamp(s.now)
	err = db.inTx(ctx, "RevokeAPIToken", func(tx *sql.Tx) error {
		var name string
		var revoked int64
		err := tx.QueryRowContext(ctx, "SELECT CAST(name AS BLOB), COALESCE(revoked_at, 0) FROM api_tokens WHERE id = ?", id).
			Scan(&name, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(CodeTokenNotFound)
		}
		if err != nil || revoked != 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE id = ?", now.Unix(), id); err != nil {
			return err
		}
		return writeAudit(ctx, tx, now, a, audit{event: AuditTokenRevoked, targetKind: TargetToken, targetID: id,
			detail: map[string]string{"name": name}})
	})
	if err != nil {
		return err
	}
	// A new generation: every cached resolution of this tenant's tokens is dropped.
	s.changed(ts, Event{Kind: SettingsChanged, By: a})
	return nil
}

// APIActor returns who the token whose SHA-256 is hash acts as at org: the organization, or
// its agent with the agent's role now, with TokenID set. An unknown or revoked token, or one
// whose agent was removed, is Unauthorized (CodeTokenInvalid). It answers from memory while
// the tenant's generation stands, and writes the token's last use at most once a minute.
func (s *Service) APIActor(ctx context.Context, org *catalog.Organization, hash [32]byte) (Actor, error) {
	invalid := apperr.New(apperr.Unauthorized, CodeTokenInvalid)
	ts := s.tenant(org)
	s.use(ts)
	k := tokenKey{t: ts.t, hash: hash}
	s.tokens.mu.Lock()
	e, ok := s.tokens.resolved[k]
	s.tokens.mu.Unlock()
	t := e.v
	if !ok || !s.fresh(ts, e.gen, e.at) {
		gen, at := ts.gen.Load(), s.now()
		db, release, err := s.store(ctx, org, ts)
		if err != nil {
			return Actor{}, err
		}
		var revoked int64
		err = db.db.QueryRowContext(ctx, `SELECT id, CAST(name AS BLOB), COALESCE(agent_id, 0), COALESCE(revoked_at, 0)
			FROM api_tokens WHERE token_hash = ?`, hash[:]).Scan(&t.ID, &t.Name, &t.AgentID, &revoked)
		release()
		if errors.Is(err, sql.ErrNoRows) {
			return Actor{}, invalid
		}
		if err != nil {
			return Actor{}, fmt.Errorf("desk.APIActor: %w", err)
		}
		t.RevokedAt = unix(revoked)
		s.tokens.mu.Lock()
		if s.tokens.resolved == nil || len(s.tokens.resolved) >= cacheTokens {
			s.tokens.resolved = map[tokenKey]stamped[APIToken]{}
		}
		s.tokens.resolved[k] = stamped[APIToken]{v: t, gen: gen, at: at}
		s.tokens.mu.Unlock()
	}
	if t.Revoked() {
		return Actor{}, invalid
	}
	a := AsOwner(org.Name)
	if t.AgentID != 0 {
		ag, err := s.Agent(ctx, org, AsSystem(), t.AgentID)
		if err != nil {
			if apperr.Is(err, apperr.NotFound) {
				return Actor{}, invalid
			}
			return Actor{}, err
		}
		if ag.Removed() {
			return Actor{}, invalid
		}
		a = AsAgent(ag)
	}
	a.TokenID = t.ID
	s.markUsed(ctx, org, ts, k, t.ID)
	return a, nil
}

// markUsed writes token id's last use, unless this process wrote it less than lastUsedEvery
// ago. A failure is logged: the request it serves goes on.
func (s *Service) markUsed(ctx context.Context, org *catalog.Organization, ts *tenantState, k tokenKey, id int64) {
	now := s.now()
	s.tokens.mu.Lock()
	if s.tokens.used == nil || len(s.tokens.used) >= cacheTokens {
		s.tokens.used = map[tokenKey]time.Time{}
	}
	last, ok := s.tokens.used[k]
	if ok && now.Sub(last) < lastUsedEvery {
		s.tokens.mu.Unlock()
		return
	}
	s.tokens.used[k] = now
	s.tokens.mu.Unlock()
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		s.log.Warn("api token: last use", "tenant", org.Username, "err", err)
		return
	}
	defer release()
	if _, err := db.db.ExecContext(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", now.Unix(), id); err != nil {
		s.log.Warn("api token: last use", "tenant", org.Username, "err", err)
	}
}
