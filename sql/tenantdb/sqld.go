package tenantdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// SqldConfig configures the sqld backend: one namespace per tenant on a libsql-server the user
// runs with --enable-namespaces and an admin API.
type SqldConfig struct {
	// AdminURL is the admin API's base URL (SQLD_ADMIN_URL), e.g. http://127.0.0.1:9090.
	AdminURL string
	// AdminKey, when set, is sent as "Authorization: Basic <AdminKey>" (sqld's
	// --admin-auth-key) (SQLD_ADMIN_KEY).
	AdminKey string
	// DBURL is the URL template of a tenant's primary with {name} for the namespace
	// (SQLD_DB_URL), e.g. http://{name}.db.internal:8080: sqld takes the namespace from the
	// first label of the host name.
	DBURL string
	// TokenTTL is the lifetime of the tokens the app mints for its replicas; a replica is
	// reopened (with a new token) after half of it. Default 24 h.
	TokenTTL time.Duration
	// APITimeout bounds one admin API call. Default 10 s.
	APITimeout time.Duration
	// Replicas configures the embedded replicas.
	Replicas ReplicaConfig
	// HTTPClient is used for the admin API; default: a client with APITimeout.
	HTTPClient *http.Client
}

// Sqld keeps each tenant database in its own namespace of a libsql-server, created with its
// own jwt_key: the app holds one Ed25519 key pair per tenant and mints that replica's tokens
// itself, so a token for one namespace opens no other (sqld's replication ignores a token's
// namespace claim; a per-namespace key is what isolates them).
type Sqld struct {
	cfg       SqldConfig
	client    *http.Client
	cleanOnce sync.Once
}

// NewSqld checks cfg and returns the backend.
func NewSqld(cfg SqldConfig) (*Sqld, error) {
	if err := checkURL("SQLD_ADMIN_URL", cfg.AdminURL); err != nil {
		return nil, err
	}
	if !strings.Contains(cfg.DBURL, "{name}") {
		return nil, fmt.Errorf("SQLD_DB_URL %q must contain {name}", cfg.DBURL)
	}
	if err := checkURL("SQLD_DB_URL", strings.ReplaceAll(cfg.DBURL, "{name}", "x")); err != nil {
		return nil, err
	}
	if cfg.Replicas.Dir == "" {
		return nil, errors.New("tenantdb: sqld backend needs a replica directory")
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.APITimeout <= 0 {
		cfg.APITimeout = 10 * time.Second
	}
	cfg.AdminURL = strings.TrimRight(cfg.AdminURL, "/")
	cfg.Replicas = cfg.Replicas.withDefaults()
	if cfg.Replicas.Stats == nil {
		cfg.Replicas.Stats = NewSyncStats("sqld")
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: cfg.APITimeout}
	}
	return &Sqld{cfg: cfg, client: client}, nil
}

func checkURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "libsql") || u.Host == "" {
		return fmt.Errorf("%s %q must be an http(s) URL", what, raw)
	}
	return nil
}

// Kind reports "sqld".
func (s *Sqld) Kind() string { return "sqld" }

// URL is the primary URL of namespace name.
func (s *Sqld) URL(name string) string { return strings.ReplaceAll(s.cfg.DBURL, "{name}", name) }

// Provision creates namespace name with a fresh key pair and returns its URL and the private
// key. Local files of an earlier database of that name are discarded.
func (s *Sqld) Provision(ctx context.Context, name string) (Location, error) {
	if err := ValidateName(name); err != nil {
		return Location{}, err
	}
	secret, public, err := KeyPair()
	if err != nil {
		return Location{}, err
	}
	body, _ := json.Marshal(map[string]string{"jwt_key": public})
	status, msg, err := s.admin(ctx, http.MethodPost, "/v1/namespaces/"+name+"/create", body)
	switch {
	case err != nil:
		return Location{}, fmt.Errorf("tenantdb: sqld create namespace %s: %w", name, err)
	case status == http.StatusConflict || (status == http.StatusBadRequest && strings.Contains(msg, "already exists")):
		return Location{}, fmt.Errorf("tenantdb: sqld namespace %s: %s: %w", name, msg, ErrNameTaken)
	case status/100 != 2:
		return Location{}, fmt.Errorf("tenantdb: sqld create namespace %s: %d %s", name, status, msg)
	}
	if err := s.discardLocal(name); err != nil {
		_ = s.Drop(context.WithoutCancel(ctx), name)
		return Location{}, err
	}
	return Location{URL: s.URL(name), Secret: secret}, nil
}

// Connect opens the tenant's embedded replica with a token minted from its key.
func (s *Sqld) Connect(ctx context.Context, name string, loc Location) (Database, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	s.cleanOnce.Do(func() { removeStale(s.cfg.Replicas.Dir) })
	token, err := MintToken(loc.Secret, name, s.cfg.TokenTTL)
	if err != nil {
		return nil, fmt.Errorf("tenantdb: %s: %w", name, err)
	}
	renewAt := time.Now().Add(s.cfg.TokenTTL / 2)
	r, err := openReplica(ctx, s.cfg.Replicas, name, replicaPath(s.cfg.Replicas.Dir, name), loc.URL, token,
		func(r *replica) { r.renewAt = renewAt })
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Drop deletes the namespace (a missing one is fine) and the tenant's local replica files.
func (s *Sqld) Drop(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	status, msg, err := s.admin(ctx, http.MethodDelete, "/v1/namespaces/"+name, nil)
	switch {
	case err != nil:
		return fmt.Errorf("tenantdb: sqld delete namespace %s: %w", name, err)
	case status/100 == 2, status == http.StatusNotFound,
		status == http.StatusBadRequest && strings.Contains(msg, "doesn't exist"):
	default:
		return fmt.Errorf("tenantdb: sqld delete namespace %s: %d %s", name, status, msg)
	}
	return s.discardLocal(name)
}

func (s *Sqld) discardLocal(name string) error {
	if err := discardDir(replicaDir(s.cfg.Replicas.Dir, name)); err != nil {
		return fmt.Errorf("tenantdb: discarding local replica of %s: %w", name, err)
	}
	return nil
}

// admin calls the admin API once, bounded by APITimeout, and returns the status and the
// answer's error message. Creating a namespace is not retried: a create that timed out may
// have happened, and a retry would then report the name as taken.
func (s *Sqld) admin(ctx context.Context, method, path string, body []byte) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.APITimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.cfg.AdminURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.cfg.AdminKey != "" {
		req.Header.Set("Authorization", "Basic "+s.cfg.AdminKey)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, errorMessage(b), nil
}

// errorMessage returns the "error" field of a JSON error body, or the body itself, shortened.
func errorMessage(b []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
