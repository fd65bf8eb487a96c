package tenantdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TursoConfig configures the turso backend: one Turso database per tenant, created through the
// Turso Platform API.
type TursoConfig struct {
	// APIURL is the Platform API (TURSO_API_URL), default https://api.turso.tech.
	APIURL string
	// APIToken is a Platform API token (TURSO_API_TOKEN), sent as a bearer token.
	APIToken string
	// Organization is the Turso organization slug (APP_ORGANIZATION).
	Organization string
	// Group is the group every tenant database is created in (APP_GROUP), default "default".
	Group string
	// Location, when set (APP_PRIMARY_LOCATION), is the primary location of Group: the group
	// is created there on first use if it does not exist yet.
	Location string
	// DBScheme is the scheme put before a database's host name: "libsql" (TLS, the default);
	// tests against a local stand-in use "http".
	DBScheme string
	// Deadline bounds one whole operation with its retries. Default 30 s.
	Deadline time.Duration
	// Backoff is the first retry's delay; it doubles up to 5 s, with full jitter. Default 250 ms.
	Backoff time.Duration
	// Replicas configures the embedded replicas.
	Replicas ReplicaConfig
	// HTTPClient is used for the Platform API; default: a client with a 15 s timeout.
	HTTPClient *http.Client
	// Log receives the API's error messages (never shown to people).
	Log *slog.Logger
}

// Turso keeps each tenant database as a Turso database in one group, opened as an embedded
// replica with a database token minted through the Platform API when the tenant registers.
type Turso struct {
	cfg       TursoConfig
	client    *http.Client
	groupMu   sync.Mutex
	groupOK   bool
	cleanOnce sync.Once
}

// NewTurso checks cfg and returns the backend.
func NewTurso(cfg TursoConfig) (*Turso, error) {
	if cfg.APIURL == "" {
		cfg.APIURL = "https://api.turso.tech"
	}
	if err := checkURL("TURSO_API_URL", cfg.APIURL); err != nil {
		return nil, err
	}
	if cfg.APIToken == "" {
		return nil, errors.New("TURSO_API_TOKEN is required for TENANT_BACKEND=turso")
	}
	if cfg.Organization == "" {
		return nil, errors.New("APP_ORGANIZATION is required for TENANT_BACKEND=turso")
	}
	if cfg.Group == "" {
		cfg.Group = "default"
	}
	if cfg.DBScheme == "" {
		cfg.DBScheme = "libsql"
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = 30 * time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 250 * time.Millisecond
	}
	if cfg.Replicas.Dir == "" {
		return nil, errors.New("tenantdb: turso backend needs a replica directory")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	cfg.Replicas = cfg.Replicas.withDefaults()
	if cfg.Replicas.Stats == nil {
		cfg.Replicas.Stats = NewSyncStats("turso")
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	return &Turso{cfg: cfg, client: client}, nil
}

// Kind reports "turso".
func (t *Turso) Kind() string { return "turso" }

// APIError is a failed Platform API call: its status and Turso's {"error": …} message. The
// message is for the log only.
type APIError struct {
	Op      string
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("turso %s: %d %s", e.Op, e.Status, e.Message)
}

func (t *Turso) orgPath(parts ...string) string {
	p := "/v1/organizations/" + url.PathEscape(t.cfg.Organization)
	for _, part := range parts {
		p += "/" + url.PathEscape(part)
	}
	return p
}

// Provision creates database name in the group and mints a full-access token for it. If the
// token cannot be minted, the database is deleted again. 409 and 422 (as the turso CLI reads
// it) mean the name is taken.
func (t *Turso) Provision(ctx context.Context, name string) (Location, error) {
	if err := ValidateName(name); err != nil {
		return Location{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Deadline)
	defer cancel()
	if err := t.ensureGroup(ctx); err != nil {
		return Location{}, err
	}
	var created struct {
		Database struct {
			DbID     string `json:"DbId"`
			Hostname string `json:"Hostname"`
			Name     string `json:"Name"`
		} `json:"database"`
	}
	err := t.call(ctx, "create database "+name, http.MethodPost, t.orgPath("databases"),
		map[string]string{"name": name, "group": t.cfg.Group}, &created)
	var ae *APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusConflict || ae.Status == http.StatusUnprocessableEntity) {
		return Location{}, fmt.Errorf("%w: %w", err, ErrNameTaken)
	}
	if err != nil {
		return Location{}, err
	}
	undo := func(cause error) (Location, error) {
		if derr := t.deleteDatabase(context.WithoutCancel(ctx), name); derr != nil {
			t.cfg.Log.Error("turso: deleting a half-provisioned database", "db", name, "err", derr, "cause", cause)
		}
		return Location{}, cause
	}
	host := created.Database.Hostname
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return undo(fmt.Errorf("turso create database %s: unusable Hostname %q", name, host))
	}
	var token struct {
		JWT string `json:"jwt"`
	}
	err = t.call(ctx, "create token "+name, http.MethodPost,
		t.orgPath("databases", name, "auth", "tokens")+"?expiration=never&authorization=full-access", nil, &token)
	if err == nil && token.JWT == "" {
		err = fmt.Errorf("turso create token %s: empty jwt", name)
	}
	if err != nil {
		return undo(err)
	}
	if err := discardDir(replicaDir(t.cfg.Replicas.Dir, name)); err != nil {
		return undo(fmt.Errorf("tenantdb: discarding local replica of %s: %w", name, err))
	}
	return Location{URL: t.cfg.DBScheme + "://" + host, Secret: token.JWT}, nil
}

// ensureGroup creates the group at Location once, when a location is configured (409: it
// exists already).
func (t *Turso) ensureGroup(ctx context.Context) error {
	if t.cfg.Location == "" {
		return nil
	}
	t.groupMu.Lock()
	defer t.groupMu.Unlock()
	if t.groupOK {
		return nil
	}
	err := t.call(ctx, "create group "+t.cfg.Group, http.MethodPost, t.orgPath("groups"),
		map[string]string{"name": t.cfg.Group, "location": t.cfg.Location}, nil)
	var ae *APIError
	switch {
	case err == nil, errors.As(err, &ae) && ae.Status == http.StatusConflict:
	case errors.As(err, &ae) && !retryable(ae.Status):
		// A token scoped to the group may not create groups: go on, and let the database
		// creation tell whether the group exists.
		t.cfg.Log.Warn("turso: could not create the group; assuming it exists", "group", t.cfg.Group, "err", err)
	default:
		return err
	}
	t.groupOK = true
	return nil
}

// Connect opens the tenant's embedded replica with its database token.
func (t *Turso) Connect(ctx context.Context, name string, loc Location) (Database, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	t.cleanOnce.Do(func() { removeStale(t.cfg.Replicas.Dir) })
	r, err := openReplica(ctx, t.cfg.Replicas, name, replicaPath(t.cfg.Replicas.Dir, name), loc.URL, loc.Secret)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Drop deletes the Turso database (a missing one is fine) and the local replica files.
func (t *Turso) Drop(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Deadline)
	defer cancel()
	if err := t.deleteDatabase(ctx, name); err != nil {
		return err
	}
	if err := discardDir(replicaDir(t.cfg.Replicas.Dir, name)); err != nil {
		return fmt.Errorf("tenantdb: discarding local replica of %s: %w", name, err)
	}
	return nil
}

func (t *Turso) deleteDatabase(ctx context.Context, name string) error {
	err := t.call(ctx, "delete database "+name, http.MethodDelete, t.orgPath("databases", name), nil, nil)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil
	}
	return err
}

// retryable are the statuses worth another attempt.
func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// call performs one Platform API operation: JSON in, JSON out, retrying 408, 429, 5xx and
// network errors with exponential backoff and full jitter (a Retry-After header is honoured)
// until ctx's deadline. Failures are *APIError carrying Turso's message.
func (t *Turso) call(ctx context.Context, op, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	delay := t.cfg.Backoff
	for attempt := 1; ; attempt++ {
		status, b, retryAfter, err := t.once(ctx, method, path, body)
		if err == nil && status/100 == 2 {
			if out != nil && len(b) > 0 {
				if err := json.Unmarshal(b, out); err != nil {
					return fmt.Errorf("turso %s: decoding the answer: %w", op, err)
				}
			}
			return nil
		}
		var last error
		if err != nil {
			last = fmt.Errorf("turso %s: %w", op, err)
		} else {
			last = &APIError{Op: op, Status: status, Message: errorMessage(b)}
			if !retryable(status) {
				return last
			}
		}
		if ctx.Err() != nil {
			return last
		}
		wait := time.Duration(mrand.Int64N(int64(delay))) + time.Millisecond
		if retryAfter > 0 {
			wait = retryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return last
		}
		t.cfg.Log.Warn("turso API call failed; retrying", "op", op, "attempt", attempt, "in", wait, "err", last)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return last
		}
		delay = min(delay*2, 5*time.Second)
	}
}

func (t *Turso) once(ctx context.Context, method, path string, body []byte) (int, []byte, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.cfg.APIURL+path, rd)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+t.cfg.APIToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := t.client.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return 0, nil, 0, err
	}
	var retryAfter time.Duration
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = min(time.Duration(s)*time.Second, 30*time.Second)
	}
	return res.StatusCode, b, retryAfter, nil
}
