package tenantdb

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	// Location, when set (APP_PRIMARY_LOCATION), is the primary location of Group: Check
	// creates the group there if it does not exist, and warns when it exists elsewhere.
	Location string
	// DBScheme is the scheme put before a database's host name: "libsql" (TLS, the default);
	// tests against a local stand-in use "http".
	DBScheme string
	// Deadline bounds one whole operation with its retries. Default 30 s.
	Deadline time.Duration
	// Backoff is the first retry's delay; it doubles up to 5 s, with full jitter. Default 250 ms.
	Backoff time.Duration
	// MaxRetryAfter caps the wait a Retry-After header asks for. Default 10 s.
	MaxRetryAfter time.Duration
	// TokenTTL is the lifetime of the database tokens minted for tenants; a replica is opened
	// again with a new token after half of it. Default 30 days.
	TokenTTL time.Duration
	// Replicas configures the embedded replicas.
	Replicas ReplicaConfig
	// HTTPClient is used for the Platform API; default: a client with a 15 s timeout.
	HTTPClient *http.Client
	// Log receives the API's error messages (never shown to people).
	Log *slog.Logger
}

// Turso keeps each tenant database as a Turso database in one group, opened as an embedded
// replica with a database token minted through the Platform API. Tokens expire (TokenTTL):
// each is renewed at half its life, and minted again when a replica's server refuses it.
type Turso struct {
	cfg       TursoConfig
	client    *http.Client
	groupMu   sync.Mutex
	groupOK   bool
	cleanOnce sync.Once

	tokMu  sync.Mutex
	tokens map[string]dbToken // the newest token minted per database, for the next opens
}

// dbToken is a database token and when it is due for renewal (half its life).
type dbToken struct {
	jwt     string
	renewAt time.Time
}

// TursoNameLimit is the longest database name Turso can give in organization org: a
// database's host name is <name>-<org>.<region>.turso.io, and <name>-<org> is one DNS label
// of at most 63 characters.
func TursoNameLimit(org string) int { return 63 - 1 - len(org) }

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
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 10 * time.Second
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 30 * 24 * time.Hour
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
	return &Turso{cfg: cfg, client: client, tokens: map[string]dbToken{}}, nil
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

// Provision creates database name in the group and mints a token for it. If the token cannot
// be minted, the database is deleted again. A conflict (409, 422 as the turso CLI reads it, or
// a 400 saying the name exists, as the live API answers) means the name is taken — unless an
// earlier attempt of this call timed out or got a 5xx, which may have created the database:
// then the error wraps ErrMaybeCreated instead, as does a failure that leaves a database
// behind, so that the Registry records it for clean-up.
func (t *Turso) Provision(ctx context.Context, name string) (Location, error) {
	if err := t.checkName(name); err != nil {
		return Location{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Deadline)
	defer cancel()
	if err := t.Check(ctx); err != nil {
		return Location{}, err
	}
	var created struct {
		Database struct {
			DbID     string `json:"DbId"`
			Hostname string `json:"Hostname"`
			Name     string `json:"Name"`
		} `json:"database"`
	}
	ambiguous, err := t.do(ctx, "create database "+name, http.MethodPost, t.orgPath("databases"),
		map[string]string{"name": name, "group": t.cfg.Group}, &created)
	var ae *APIError
	switch {
	case errors.As(err, &ae) && nameTaken(ae) && ambiguous:
		return Location{}, fmt.Errorf("%w (after an attempt that may have created it): %w", err, ErrMaybeCreated)
	case errors.As(err, &ae) && nameTaken(ae):
		return Location{}, fmt.Errorf("%w: %w", err, ErrNameTaken)
	case err != nil && ambiguous:
		return Location{}, fmt.Errorf("%w: %w", err, ErrMaybeCreated)
	case err != nil:
		return Location{}, err
	}
	undo := func(cause error) (Location, error) {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), t.cfg.Deadline)
		defer dcancel()
		if derr := t.deleteDatabase(dctx, name); derr != nil {
			t.cfg.Log.Error("turso: deleting a half-provisioned database", "db", name, "err", derr, "cause", cause)
			return Location{}, fmt.Errorf("%w (deleting the database again failed: %v): %w", cause, derr, ErrMaybeCreated)
		}
		return Location{}, cause
	}
	host := created.Database.Hostname
	if !validHost(host) {
		return undo(fmt.Errorf("turso create database %s: unusable Hostname %q", name, host))
	}
	tok, err := t.mint(ctx, name)
	if err != nil {
		return undo(err)
	}
	if err := discardDir(replicaDir(t.cfg.Replicas.Dir, name)); err != nil {
		return undo(fmt.Errorf("tenantdb: discarding local replica of %s: %w", name, err))
	}
	return Location{URL: t.cfg.DBScheme + "://" + host, Secret: tok.jwt}, nil
}

// hostLabelRE is one DNS label of a host name.
var hostLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// validHost reports whether the Platform API's Hostname is a DNS name (lower case), with an
// optional port, that can go into a URL as it is.
func validHost(host string) bool {
	name := host
	if h, port, err := net.SplitHostPort(host); err == nil {
		n, perr := strconv.Atoi(port)
		if perr != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return false
		}
		name = h
	}
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if !hostLabelRE.MatchString(label) {
			return false
		}
	}
	return true
}

// nameTaken reports a creation refused because the name exists: 409 as documented, 422 as
// the turso CLI reads it, and 400 {"error":"database with same name already exists"} as the
// live API answers.
func nameTaken(e *APIError) bool {
	return e.Status == http.StatusConflict || e.Status == http.StatusUnprocessableEntity ||
		(e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Message), "already exists"))
}

// checkName refuses a name Turso would refuse, before any call.
func (t *Turso) checkName(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if limit := TursoNameLimit(t.cfg.Organization); len(name) > limit {
		return fmt.Errorf("tenantdb: database name %q has %d characters; in Turso organization %q at most %d fit the host name",
			name, len(name), t.cfg.Organization, limit)
	}
	return nil
}

// Check makes sure the group exists, once per process (a failure is tried again next time):
// it asks for the group and, when it is missing and a location is configured, creates it
// there. A missing group without a location, or a group that cannot be created (an invalid
// location, the starter plan's one-group limit, a refused token), is an error carrying
// Turso's own message. A group whose primary location is not Location is used, with a
// warning. The server calls it at start (Registry.Start) and refuses to start on an error.
func (t *Turso) Check(ctx context.Context) error {
	t.groupMu.Lock()
	defer t.groupMu.Unlock()
	if t.groupOK {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Deadline)
	defer cancel()
	var got struct {
		Group struct {
			Name      string   `json:"name"`
			Primary   string   `json:"primary"`
			Locations []string `json:"locations"`
		} `json:"group"`
	}
	err := t.call(ctx, "get group "+t.cfg.Group, http.MethodGet, t.orgPath("groups", t.cfg.Group), nil, &got)
	var ae *APIError
	switch {
	case err == nil:
		if t.cfg.Location != "" && got.Group.Primary != t.cfg.Location {
			t.cfg.Log.Warn("turso: the group's primary location is not APP_PRIMARY_LOCATION; using the group as it is",
				"group", t.cfg.Group, "primary", got.Group.Primary, "APP_PRIMARY_LOCATION", t.cfg.Location)
		}
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound && t.cfg.Location == "":
		return fmt.Errorf("turso: group %q does not exist in organization %q, and APP_PRIMARY_LOCATION is not set to create it (%w)",
			t.cfg.Group, t.cfg.Organization, err)
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		err := t.call(ctx, "create group "+t.cfg.Group, http.MethodPost, t.orgPath("groups"),
			map[string]string{"name": t.cfg.Group, "location": t.cfg.Location}, nil)
		if err != nil && !(errors.As(err, &ae) && ae.Status == http.StatusConflict) {
			return fmt.Errorf("turso: creating group %q at %q: %w", t.cfg.Group, t.cfg.Location, err)
		}
		t.cfg.Log.Info("turso: created the group", "group", t.cfg.Group, "location", t.cfg.Location)
	default:
		return fmt.Errorf("turso: checking group %q: %w", t.cfg.Group, err)
	}
	t.groupOK = true
	return nil
}

// Connect opens the tenant's embedded replica. The token is the newest this process minted for
// the database, else the one the catalog holds (loc.Secret), unless it is due for renewal: then
// a new one is minted. A token the server refuses (401) is minted again, once, before the
// tenant is reported unavailable.
func (t *Turso) Connect(ctx context.Context, name string, loc Location) (Database, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	t.cleanOnce.Do(func() { removeStale(t.cfg.Replicas.Dir) })
	tok, fresh, err := t.token(ctx, name, loc.Secret)
	if err != nil {
		return nil, err
	}
	open := func(tok dbToken) (*replica, error) {
		return openReplica(ctx, t.cfg.Replicas, name, replicaPath(t.cfg.Replicas.Dir, name), loc.URL, tok.jwt,
			func(r *replica) {
				r.renewAt = tok.renewAt
				if tok.jwt != loc.Secret {
					r.renewed = tok.jwt
				}
				r.authRefused = func(ctx context.Context) bool { return t.tokenRefused(ctx, loc.URL, tok.jwt) }
			})
	}
	r, err := open(tok)
	if err != nil && refused(err) && !fresh {
		t.cfg.Log.Warn("turso: the database refused its token; minting a new one", "db", name, "err", err)
		if tok, err = t.renew(ctx, name); err != nil {
			return nil, err
		}
		r, err = open(tok)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// token returns the token to open name with, and whether it was minted just now.
func (t *Turso) token(ctx context.Context, name, stored string) (dbToken, bool, error) {
	now := time.Now()
	t.tokMu.Lock()
	cached, ok := t.tokens[name]
	t.tokMu.Unlock()
	if ok && now.Before(cached.renewAt) {
		return cached, false, nil
	}
	if stored != "" {
		if at := t.renewAt(stored, now); now.Before(at) {
			return dbToken{jwt: stored, renewAt: at}, false, nil
		}
	}
	tok, err := t.renew(ctx, name)
	return tok, true, err
}

// renew mints a new token for name within the API deadline.
func (t *Turso) renew(ctx context.Context, name string) (dbToken, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Deadline)
	defer cancel()
	return t.mint(ctx, name)
}

// mint asks the Platform API for a full-access token for name that expires after TokenTTL, and
// keeps it for the next opens.
func (t *Turso) mint(ctx context.Context, name string) (dbToken, error) {
	var got struct {
		JWT string `json:"jwt"`
	}
	q := url.Values{"expiration": {expiration(t.cfg.TokenTTL)}, "authorization": {"full-access"}}
	if err := t.call(ctx, "create token "+name, http.MethodPost,
		t.orgPath("databases", name, "auth", "tokens")+"?"+q.Encode(), nil, &got); err != nil {
		return dbToken{}, err
	}
	if got.JWT == "" || strings.Count(got.JWT, ".") != 2 {
		return dbToken{}, fmt.Errorf("turso create token %s: the answer holds no JWT", name)
	}
	tok := dbToken{jwt: got.JWT, renewAt: t.renewAt(got.JWT, time.Now())}
	if !tok.renewAt.After(time.Now()) {
		// A token without a usable expiry is used for half the lifetime asked for.
		tok.renewAt = time.Now().Add(t.cfg.TokenTTL / 2)
	}
	t.tokMu.Lock()
	t.tokens[name] = tok
	t.tokMu.Unlock()
	return tok, nil
}

// renewAt is when jwt is due for renewal: half-way between its issue and its expiry (or
// TokenTTL/2 before its expiry when it names no issue time). A token that never expires is
// due now: it is replaced by one that does.
func (t *Turso) renewAt(jwt string, now time.Time) time.Time {
	iat, exp, ok := tokenTimes(jwt)
	switch {
	case !ok || exp.IsZero():
		return now
	case iat.IsZero() || !iat.Before(exp):
		return exp.Add(-t.cfg.TokenTTL / 2)
	}
	return iat.Add(exp.Sub(iat) / 2)
}

// tokenTimes reads the iat and exp claims of a JWT, without checking its signature: they only
// schedule the token's renewal. Missing claims are zero times; ok is false when jwt is not a
// JWT with a JSON claims object.
func tokenTimes(jwt string) (iat, exp time.Time, ok bool) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || len(parts[1]) > 8<<10 {
		return time.Time{}, time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	var claims struct {
		IAT *json.Number `json:"iat"`
		EXP *json.Number `json:"exp"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return time.Time{}, time.Time{}, false
	}
	unixTime := func(n *json.Number) (time.Time, bool) {
		if n == nil {
			return time.Time{}, true
		}
		v, err := n.Int64()
		if err != nil || v <= 0 || v > 1<<40 {
			return time.Time{}, false
		}
		return time.Unix(v, 0), true
	}
	if iat, ok = unixTime(claims.IAT); !ok {
		return time.Time{}, time.Time{}, false
	}
	if exp, ok = unixTime(claims.EXP); !ok {
		return time.Time{}, time.Time{}, false
	}
	return iat, exp, true
}

// expiration writes d as the Platform API's expiration parameter (e.g. 30d, 1d2h3m4s), in
// whole seconds, at least one.
func expiration(d time.Duration) string {
	s := max(int64(d/time.Second), 1)
	var b strings.Builder
	for _, u := range []struct {
		unit string
		secs int64
	}{{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}} {
		if n := s / u.secs; n > 0 {
			b.WriteString(strconv.FormatInt(n, 10) + u.unit)
			s -= n * u.secs
		}
	}
	return b.String()
}

// refused reports a replica open that failed because the server refused the token (go-libsql
// reports the server's 401 as "Unauthorized").
func refused(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "unauthorized") || strings.Contains(msg, "401")
}

// tokenRefused asks the database's server whether it still accepts jwt: an open replica whose
// syncs fail cannot tell a refused token from an unreachable server (go-libsql times the
// handshake out either way), but the server's /info answers 401 to a refused token.
func (t *Turso) tokenRefused(ctx context.Context, dbURL, jwt string) bool {
	u, err := url.Parse(dbURL)
	if err != nil {
		return false
	}
	if u.Scheme == "libsql" {
		u.Scheme = "https"
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Replicas.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.JoinPath("info").String(), nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+jwt)
	res, err := t.client.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusUnauthorized
}

// Drop deletes the Turso database (a missing one is fine: 404 means it is gone) and the local
// replica files.
func (t *Turso) Drop(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Deadline)
	defer cancel()
	if err := t.deleteDatabase(ctx, name); err != nil {
		return err
	}
	t.tokMu.Lock()
	delete(t.tokens, name)
	t.tokMu.Unlock()
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

// call is do without the ambiguity report.
func (t *Turso) call(ctx context.Context, op, method, path string, in, out any) error {
	_, err := t.do(ctx, op, method, path, in, out)
	return err
}

// do performs one Platform API operation: JSON in, JSON out, retrying 408, 429, 5xx and
// network errors with exponential backoff and full jitter until ctx's deadline; a Retry-After
// header (seconds or an HTTP date) sets the wait instead, capped at MaxRetryAfter. Failures
// are *APIError carrying Turso's message. ambiguous reports an attempt whose outcome is
// unknown — it timed out or got a 5xx after the request may have reached the API — so that
// a later "already exists" may be this very call's doing.
func (t *Turso) do(ctx context.Context, op, method, path string, in, out any) (ambiguous bool, err error) {
	var body []byte
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return false, err
		}
	}
	delay := t.cfg.Backoff
	for attempt := 1; ; attempt++ {
		status, b, wait, err := t.once(ctx, method, path, body)
		if err == nil && status/100 == 2 {
			if out != nil && len(b) > 0 {
				if err := json.Unmarshal(b, out); err != nil {
					return ambiguous, fmt.Errorf("turso %s: decoding the answer: %w", op, err)
				}
			}
			return ambiguous, nil
		}
		var last error
		if err != nil {
			last = fmt.Errorf("turso %s: %w", op, err)
			ambiguous = ambiguous || mayHaveArrived(err)
		} else {
			last = &APIError{Op: op, Status: status, Message: errorMessage(b)}
			if !retryable(status) {
				return ambiguous, last
			}
			ambiguous = ambiguous || status >= 500
		}
		if ctx.Err() != nil {
			return ambiguous, last
		}
		if wait <= 0 {
			wait = time.Duration(mrand.Int64N(int64(delay))) + time.Millisecond
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return ambiguous, last
		}
		t.cfg.Log.Warn("turso API call failed; retrying", "op", op, "attempt", attempt, "in", wait, "err", last)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ambiguous, last
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// mayHaveArrived reports a failed request that may have reached the API: anything but a
// refused connection or an unknown host.
func mayHaveArrived(err error) bool {
	var dnsErr *net.DNSError
	return !errors.Is(err, syscall.ECONNREFUSED) && !errors.As(err, &dnsErr)
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
	var wait time.Duration
	if retryable(res.StatusCode) {
		wait = retryAfter(res.Header.Get("Retry-After"), time.Now(), t.cfg.MaxRetryAfter)
	}
	return res.StatusCode, b, wait, nil
}

// retryAfter reads a Retry-After header — delay-seconds or an HTTP date — as the wait it asks
// for from now, capped at limit; 0 when the header is absent, malformed or in the past.
func retryAfter(h string, now time.Time, limit time.Duration) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" || len(h) > 64 || limit <= 0 {
		return 0
	}
	if h[0] >= '0' && h[0] <= '9' {
		secs, err := strconv.ParseUint(h, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return limit
		}
		if err != nil {
			return 0
		}
		if secs > uint64(limit/time.Second) {
			return limit
		}
		return time.Duration(secs) * time.Second
	}
	at, err := http.ParseTime(h)
	if err != nil {
		return 0
	}
	d := at.Sub(now)
	if d <= 0 {
		return 0
	}
	return min(d, limit)
}
