package tenantdb_test

// A stand-in for Turso: the Platform API (api.turso.tech) as strict as its OpenAPI document and
// the live behaviour reported against it, and the databases' own host names, which check
// database tokens the way Turso's servers do before a request reaches the database (a real
// sqld namespace). Nothing here trusts the client: names, groups, locations, token parameters
// and tokens are all checked, and faults are injected on request.

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb/sqldtest"
)

const (
	platformToken = "platform-api-token"
	platformOrg   = "acme-corp"
)

// standinLocations are the locations the stand-in accepts: Turso's AWS locations.
var standinLocations = map[string]bool{
	"aws-us-east-1": true, "aws-us-east-2": true, "aws-us-west-2": true, "aws-eu-west-1": true,
	"aws-ap-northeast-1": true, "aws-ap-south-1": true,
}

// standinNameRE: lower-case letters, digits and dashes, starting and ending with a letter or
// digit (the name begins a DNS label).
var standinNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// standinExpirationRE is the documented token expiration format (e.g. 2w1d30m), or never.
var standinExpirationRE = regexp.MustCompile(`^(\d+[wdhms])+$`)

// reply is an injected answer.
type reply struct {
	status int
	body   string
	header map[string]string
}

// call is one request the Platform API received.
type call struct {
	what string // "METHOD path"
	at   time.Time
}

// standinDB is a database: its group, the key its sqld namespace checks (fixed), and the key
// its tokens are signed with (replaced by auth/rotate, which invalidates every token).
type standinDB struct {
	group    string
	nsSeed   string
	tokenKey string
}

// platform is the stand-in. Databases are namespaces on a real sqld; their host names
// (<db>-<org>.localhost:<edge port>) reach the edge, which refuses missing, foreign, expired
// and invalidated tokens with 401 and forwards the rest to the namespace.
type platform struct {
	t    *testing.T
	s    *sqldtest.Server
	api  *httptest.Server
	edge *httptest.Server

	mu     sync.Mutex
	dbs    map[string]*standinDB
	groups map[string]string // group → primary location
	// maxGroups is the plan's group limit (the starter plan allows one); 0: no limit.
	maxGroups int
	// takenStatus answers a creation of an existing name: 400 as the live API does (the
	// default), or 409 as documented.
	takenStatus int
	calls       []call
	// fault, when it returns a reply, answers a Platform API request instead (after the
	// token check).
	fault func(r *http.Request) *reply
	// afterCreate, when set, runs after a database was created and may delay the answer
	// (past the client's time-out) or replace it with status (a 5xx).
	afterCreate func(name string) (delay time.Duration, status int)
	// expirations are the expiration parameters of every token minted, in order.
	expirations []string
	refused     int // requests the edge refused for their token
}

func newPlatform(t *testing.T, s *sqldtest.Server) *platform {
	p := &platform{t: t, s: s, dbs: map[string]*standinDB{}, groups: map[string]string{"default": "aws-us-east-1"},
		takenStatus: http.StatusBadRequest}
	p.api = httptest.NewServer(http.HandlerFunc(p.serveAPI))
	t.Cleanup(p.api.Close)
	p.edge = httptest.NewServer(http.HandlerFunc(p.serveEdge))
	t.Cleanup(p.edge.Close)
	return p
}

func (p *platform) setFault(f func(r *http.Request) *reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

func (p *platform) setAfterCreate(f func(name string) (time.Duration, int)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.afterCreate = f
}

// count returns how many requests "METHOD path" the API received.
func (p *platform) count(what string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.calls {
		if c.what == what {
			n++
		}
	}
	return n
}

// times returns when the API received each request "METHOD path".
func (p *platform) times(what string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []time.Time
	for _, c := range p.calls {
		if c.what == what {
			out = append(out, c.at)
		}
	}
	return out
}

func (p *platform) minted() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.expirations...)
}

func (p *platform) exists(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.dbs[name]
	return ok
}

func (p *platform) refusals() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// token mints a token for direct access to name's namespace on sqld (bypassing the edge).
func (p *platform) token(t *testing.T, name string) string {
	t.Helper()
	p.mu.Lock()
	db := p.dbs[name]
	p.mu.Unlock()
	if db == nil {
		t.Fatalf("no database %s", name)
	}
	tok, err := tenantdb.MintToken(db.nsSeed, name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rotate invalidates every token of name, as POST …/auth/rotate does.
func (p *platform) rotate(t *testing.T, name string) {
	t.Helper()
	secret, _, err := tenantdb.KeyPair()
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dbs[name].tokenKey = secret
}

// createDirect creates a database the way another user of the organization would.
func (p *platform) createDirect(t *testing.T, name string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.createLocked(name, "default"); err != nil {
		t.Fatal(err)
	}
}

// deleteDirect deletes a database behind the app's back.
func (p *platform) deleteDirect(t *testing.T, name string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.dbs, name)
	if err := p.s.DeleteNamespace(name); err != nil {
		t.Fatal(err)
	}
}

func (p *platform) createLocked(name, group string) error {
	nsSeed, nsPublic, err := tenantdb.KeyPair()
	if err != nil {
		return err
	}
	pub, err := decodeKey(nsPublic)
	if err != nil {
		return err
	}
	tokenKey, _, err := tenantdb.KeyPair()
	if err != nil {
		return err
	}
	if err := p.s.CreateNamespace(name, pub); err != nil {
		return err
	}
	p.dbs[name] = &standinDB{group: group, nsSeed: nsSeed, tokenKey: tokenKey}
	return nil
}

// host is name's host name: one label <db>-<org>, under localhost so that it resolves here.
func (p *platform) host(name string) string {
	_, port, _ := net.SplitHostPort(p.edge.Listener.Addr().String())
	return name + "-" + platformOrg + ".localhost:" + port
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (p *platform) serveAPI(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.calls = append(p.calls, call{what: r.Method + " " + r.URL.Path, at: time.Now()})
	fault := p.fault
	p.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+platformToken {
		apiError(w, http.StatusUnauthorized, "invalid or expired auth token")
		return
	}
	if fault != nil {
		if f := fault(r); f != nil {
			for k, v := range f.header {
				w.Header().Set(k, v)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.status)
			w.Write([]byte(f.body))
			return
		}
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/organizations/"+platformOrg+"/")
	if !ok {
		apiError(w, http.StatusNotFound, "organization not found")
		return
	}
	parts := strings.Split(rest, "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "groups":
		p.mu.Lock()
		primary, ok := p.groups[parts[1]]
		p.mu.Unlock()
		if !ok {
			apiError(w, http.StatusNotFound, "group not found")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"group": map[string]any{"name": parts[1], "primary": primary,
			"locations": []string{primary}, "uuid": rand.Text(), "archived": false}})

	case r.Method == http.MethodPost && rest == "groups":
		var in struct {
			Name     string `json:"name"`
			Location string `json:"location"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			apiError(w, http.StatusBadRequest, "invalid body")
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		switch {
		case !standinNameRE.MatchString(in.Name) || len(in.Name) > 63:
			apiError(w, http.StatusBadRequest, "invalid group name")
		case !standinLocations[in.Location]:
			apiError(w, http.StatusBadRequest, "invalid location: "+in.Location)
		case p.groups[in.Name] != "":
			apiError(w, http.StatusConflict, "group already exists")
		case p.maxGroups > 0 && len(p.groups) >= p.maxGroups:
			// Not documented; any refusal that is not retryable must stop the start.
			apiError(w, http.StatusForbidden, fmt.Sprintf("your plan allows %d group(s); upgrade to create more", p.maxGroups))
		default:
			p.groups[in.Name] = in.Location
			writeJSON(w, http.StatusOK, map[string]any{"group": map[string]any{"name": in.Name, "primary": in.Location,
				"locations": []string{in.Location}}})
		}

	case r.Method == http.MethodPost && rest == "databases":
		p.createDatabase(w, r)

	case r.Method == http.MethodPost && len(parts) == 4 && parts[0] == "databases" && parts[2] == "auth" && parts[3] == "tokens":
		q := r.URL.Query()
		authz, exp := q.Get("authorization"), q.Get("expiration")
		if authz == "" {
			authz = "full-access"
		}
		if exp == "" {
			exp = "never"
		}
		if authz != "full-access" && authz != "read-only" {
			apiError(w, http.StatusBadRequest, "invalid authorization: "+authz)
			return
		}
		ttl, ok := standinExpiration(exp)
		if !ok {
			apiError(w, http.StatusBadRequest, "Invalid expiration format")
			return
		}
		p.mu.Lock()
		db := p.dbs[parts[1]]
		var key string
		if db != nil {
			key = db.tokenKey
			p.expirations = append(p.expirations, exp)
		}
		p.mu.Unlock()
		if db == nil {
			apiError(w, http.StatusNotFound, "database not found")
			return
		}
		jwt, err := tenantdb.MintToken(key, parts[1], ttl)
		if err != nil {
			apiError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"jwt": jwt})

	case r.Method == http.MethodPost && len(parts) == 4 && parts[0] == "databases" && parts[2] == "auth" && parts[3] == "rotate":
		secret, _, _ := tenantdb.KeyPair()
		p.mu.Lock()
		db := p.dbs[parts[1]]
		if db != nil {
			db.tokenKey = secret
		}
		p.mu.Unlock()
		if db == nil {
			apiError(w, http.StatusNotFound, "database not found")
			return
		}
		w.WriteHeader(http.StatusOK)

	case r.Method == http.MethodDelete && len(parts) == 2 && parts[0] == "databases":
		p.mu.Lock()
		_, ok := p.dbs[parts[1]]
		delete(p.dbs, parts[1])
		p.mu.Unlock()
		if !ok {
			apiError(w, http.StatusNotFound, "database not found")
			return
		}
		if err := p.s.DeleteNamespace(parts[1]); err != nil {
			apiError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"database": parts[1]})

	default:
		apiError(w, http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path)
	}
}

func (p *platform) createDatabase(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name  string `json:"name"`
		Group string `json:"group"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, http.StatusBadRequest, "invalid body")
		return
	}
	limit := 63 - 1 - len(platformOrg)
	p.mu.Lock()
	switch {
	case in.Name == "" || !standinNameRE.MatchString(in.Name):
		p.mu.Unlock()
		apiError(w, http.StatusBadRequest, "invalid database name: use lower-case letters, digits and dashes")
		return
	case len(in.Name) > limit:
		p.mu.Unlock()
		apiError(w, http.StatusBadRequest, fmt.Sprintf("invalid database name: name must contain between 1 and %d characters", limit))
		return
	case in.Group == "":
		p.mu.Unlock()
		apiError(w, http.StatusBadRequest, "group is required")
		return
	case p.groups[in.Group] == "":
		p.mu.Unlock()
		apiError(w, http.StatusBadRequest, "group not found")
		return
	case p.dbs[in.Name] != nil:
		status := p.takenStatus
		p.mu.Unlock()
		if status == http.StatusConflict {
			apiError(w, status, "database with name "+in.Name+" already exists")
		} else {
			apiError(w, status, "database with same name already exists")
		}
		return
	}
	err := p.createLocked(in.Name, in.Group)
	hook := p.afterCreate
	p.mu.Unlock()
	if err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	status := http.StatusOK
	if hook != nil {
		var delay time.Duration
		delay, status = hook(in.Name)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return // the client gave up; the database exists
		}
		if status == 0 {
			status = http.StatusOK
		}
	}
	if status != http.StatusOK {
		apiError(w, status, "upstream error")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"database": map[string]string{
		"DbId": rand.Text(), "Hostname": p.host(in.Name), "Name": in.Name}})
}

// standinExpiration parses an expiration parameter; never is 0.
func standinExpiration(s string) (time.Duration, bool) {
	if s == "never" {
		return 0, true
	}
	if !standinExpirationRE.MatchString(s) {
		return 0, false
	}
	units := map[byte]time.Duration{'w': 7 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute, 's': time.Second}
	var total time.Duration
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			n = n*10 + int(c-'0')
			if n > 1e6 {
				return 0, false
			}
			continue
		}
		total += time.Duration(n) * units[s[i]]
		n = 0
	}
	return total, total > 0
}

// serveEdge is a database's host: it checks the token (Authorization, or x-authorization as
// go-libsql sends it for replication) against the database's current key and expiry, and
// forwards the request to its sqld namespace with a token of the namespace's own.
func (p *platform) serveEdge(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.Host)
	label, ok := strings.CutSuffix(host, ".localhost")
	name, ok2 := strings.CutSuffix(label, "-"+platformOrg)
	p.mu.Lock()
	db := p.dbs[name]
	var key, nsSeed string
	if db != nil {
		key, nsSeed = db.tokenKey, db.nsSeed
	}
	p.mu.Unlock()
	if !ok || !ok2 || db == nil {
		apiError(w, http.StatusNotFound, "database not found")
		return
	}
	header := "Authorization"
	bearer := r.Header.Get(header)
	if bearer == "" {
		header = "X-Authorization"
		bearer = r.Header.Get(header)
	}
	jwt, _ := strings.CutPrefix(bearer, "Bearer ")
	if !validToken(jwt, key, time.Now()) {
		p.mu.Lock()
		p.refused++
		p.mu.Unlock()
		apiError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	nsToken, err := tenantdb.MintToken(nsSeed, name, time.Hour)
	if err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	target := &url.URL{Scheme: "http", Host: p.s.HTTPAddr}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = name + ".localhost:" + p.s.Port()
		pr.Out.Header.Set(header, "Bearer "+nsToken)
		// go-libsql names the namespace after the host's first label (<db>-<org>); the
		// namespace is <db>.
		if pr.In.Header.Get("X-Namespace-Bin") != "" {
			pr.Out.Header.Set("X-Namespace-Bin", base64.RawURLEncoding.EncodeToString([]byte(name)))
		}
	}}
	proxy.ServeHTTP(w, r)
}

// validToken checks an EdDSA JWT against the key whose seed is seed: signature, and exp when
// the token has one.
func validToken(jwt, seed string, now time.Time) bool {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(seed)
	if err != nil || len(raw) != ed25519.SeedSize {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	pub := ed25519.NewKeyFromSeed(raw).Public().(ed25519.PublicKey)
	if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims struct {
		Exp *int64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return false
	}
	return claims.Exp == nil || now.Unix() < *claims.Exp
}

// tokenExpiry returns the exp claim of jwt (zero when it has none).
func tokenExpiry(t *testing.T, jwt string) time.Time {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.20q", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		return time.Time{}
	}
	return time.Unix(int64(exp), 0)
}

// seconds formats a Retry-After in seconds.
func seconds(n int) string { return strconv.Itoa(n) }
