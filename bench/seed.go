package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// tenantName is the username of the i-th seeded tenant.
func tenantName(i int) string { return fmt.Sprintf("t%05d", i) }

// seeded is what seedTenants made and measured.
type seeded struct {
	n        int
	elapsed  time.Duration
	register []time.Duration // each Registry.Register, sorted
	lastIDs  []int64         // newest message id of the i-th tenant's ticket, at [i-1]
	tokens   []string        // the private link token of the i-th tenant's ticket, at [i-1]
	// retries counts steps that failed and were tried again, and firstRetry says why:
	// go-libsql intermittently answers SQLITE_MISUSE while databases open and close
	// (sql/tenantdb/stress_test.go).
	retries    int
	firstRetry string
}

// seedTenants registers n organizations through the registry (what POST /register runs after
// hashing the password: database created, migrated, catalog row) and gives each an agent and
// an assigned ticket with two messages, in DATA_DIR, before the server starts.
func seedTenants(dataDir, repo string, n, workers int, progress func(done int)) (seeded, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	catDB, err := sqlite.Open(filepath.Join(dataDir, "catalog.db"), 4)
	if err != nil {
		return seeded{}, err
	}
	defer catDB.Close()
	if _, err := schema.Up(catDB, os.DirFS(filepath.Join(repo, "sql/migrations/catalog"))); err != nil {
		return seeded{}, err
	}
	cat := catalog.New(catDB)
	reg, err := tenantdb.New(tenantdb.Config{Backend: tenantdb.Local{Dir: dataDir}, Catalog: cat,
		Migrations: os.DirFS(filepath.Join(repo, "sql/migrations/tenant")), MaxOpen: 32, Log: log})
	if err != nil {
		return seeded{}, err
	}
	defer reg.Close()
	dk := desk.New(desk.Config{Registry: reg, Log: log})
	defer dk.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte("seeded tenants never log in"), bcrypt.MinCost)
	if err != nil {
		return seeded{}, err
	}
	var (
		next    atomic.Int64
		done    atomic.Int64
		mu      sync.Mutex
		lat     []time.Duration
		lastIDs = make([]int64, n)
		tokens  = make([]string, n)
		firstEr error
		retries int
		why     string
		wg      sync.WaitGroup
	)
	retried := func(err error) {
		mu.Lock()
		retries++
		if why == "" {
			why = err.Error()
		}
		mu.Unlock()
	}
	ctx := context.Background()
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				u := tenantName(i)
				org := catalog.Organization{Name: "Tenant " + u, Website: "https://" + u + ".example", Username: u,
					Email: u + "@example.com", PasswordHash: string(hash), DBName: "tenantdesk-" + u}
				var d time.Duration
				var err error
				for attempt := 0; attempt < 3; attempt++ {
					if attempt > 0 {
						retried(err)
					}
					t0 := time.Now()
					err = dk.Register(ctx, &org)
					d = time.Since(t0)
					if err == nil {
						break
					}
				}
				for attempt := 0; err == nil && attempt < 3; attempt++ {
					var id int64
					var token string
					if id, token, err = seedTicket(ctx, dk, &org); err == nil {
						lastIDs[i-1], tokens[i-1] = id, token // each worker writes its own indexes
						break
					}
					if attempt < 2 {
						retried(err)
						err = nil
					}
				}
				mu.Lock()
				lat = append(lat, d)
				if err != nil && firstEr == nil {
					firstEr = fmt.Errorf("tenant %s: %w", u, err)
				}
				mu.Unlock()
				if c := done.Add(1); progress != nil && c%500 == 0 {
					progress(int(c))
				}
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	return seeded{n: n, elapsed: time.Since(start), register: lat, lastIDs: lastIDs, tokens: tokens,
		retries: retries, firstRetry: why}, firstEr
}

// seedTicket gives a new tenant an agent and an assigned ticket (its question and one agent
// reply) through the desk, returning the newest message id and the ticket's private token.
// It can be run again after a failure (the agent is found again; the ticket is a new one).
func seedTicket(ctx context.Context, dk *desk.Service, org *catalog.Organization) (int64, string, error) {
	email := "agent@" + org.Username + ".example"
	a, err := dk.AgentByEmail(ctx, org, desk.AsSystem(), email)
	if err != nil {
		if a, err = dk.CreateAgent(ctx, org, desk.AsOwner(org.Name), "Agent "+org.Username, email, "x"); err != nil {
			return 0, "", err
		}
	}
	t, token, err := dk.OpenTicket(ctx, org, desk.AsPublic(), desk.NewTicket{CustomerName: "Customer",
		CustomerEmail: "customer@example.net", Query: "Where is my order?"})
	if err != nil {
		return 0, "", err
	}
	conv, err := dk.Take(ctx, org, desk.AsAgent(a), t.ID)
	if err != nil {
		return 0, "", err
	}
	m, err := dk.AddMessage(ctx, org, desk.AsAgent(a), conv, "It ships tomorrow.")
	return m.ID, token, err
}

// browser is one HTTP client with its own cookies, as a person's browser; it does not follow
// redirects, and remembers the last CSRF token a page showed.
type browser struct {
	base string
	jar  *cookiejar.Jar
	c    *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]*)"`)

func newBrowser(base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{base: base, jar: jar, c: &http.Client{
		Jar:           jar,
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type page struct {
	status int
	loc    string
	body   string
}

func (b *browser) do(method, path string, form url.Values, hdr map[string]string) (page, error) {
	var body io.Reader
	if form != nil {
		if form.Get("_csrf") == "" {
			form.Set("_csrf", b.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		return page{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return page{}, err
	}
	p := page{status: resp.StatusCode, loc: resp.Header.Get("Location"), body: string(raw)}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		b.csrf = m[1]
	}
	return p, nil
}

func (b *browser) get(path string) (page, error) { return b.do(http.MethodGet, path, nil, nil) }

func (b *browser) post(path string, form url.Values, want int, hdr ...map[string]string) (page, error) {
	var h map[string]string
	if len(hdr) > 0 {
		h = hdr[0]
	}
	p, err := b.do(http.MethodPost, path, form, h)
	if err == nil && p.status != want {
		err = fmt.Errorf("POST %s: status %d, want %d: %.300s", path, p.status, want, p.body)
	}
	return p, err
}

// cookieHeader is the Cookie header this browser sends to the server.
func (b *browser) cookieHeader() string {
	u, _ := url.Parse(b.base + "/")
	var parts []string
	for _, c := range b.jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// benchOrg is the organization the single-tenant scenarios use, made through the web pages.
type benchOrg struct {
	name     string
	org      *browser
	agent    *browser
	customer *browser
	custPage string // the customer's ticket page (50 messages)
	talk     string // the agent's page of the same conversation
	lastID   int64
	// live is what the agent dashboard's queue region polls (its version included).
	live string
}

var (
	initialPasswordRE = regexp.MustCompile(`id="agent-initial-password"[^>]*>([^<]+)<`)
	engageRE          = regexp.MustCompile(`/agent/[a-z0-9]+/tickets/(\d+)/engage`)
	liveRE            = regexp.MustCompile(`id="queue-live"[^>]*hx-get="([^"]+)"`)
	msgIDRE           = regexp.MustCompile(`id="msg-(\d+)"`)
)

const benchPassword = "Bench-Pass-7319-quartz"

// registerOrg registers an organization through POST /register.
func registerOrg(base, name string) (*browser, error) {
	b := newBrowser(base)
	if _, err := b.get("/register"); err != nil {
		return nil, err
	}
	_, err := b.post("/register", form("name", "Bench "+name, "website", "https://"+name+".example",
		"username", name, "email", name+"@example.com", "password", benchPassword, "password_repeat", benchPassword),
		http.StatusSeeOther)
	return b, err
}

// seedBenchOrg makes the organization of the single-tenant scenarios through the web pages: an
// agent, a conversation of messages messages, and tickets more tickets (a third assigned).
func seedBenchOrg(base, name string, messages, tickets int) (*benchOrg, error) {
	bo := &benchOrg{name: name}
	var err error
	if bo.org, err = registerOrg(base, name); err != nil {
		return nil, err
	}
	if _, err := bo.org.get("/dash"); err != nil {
		return nil, err
	}
	p, err := bo.org.post("/agents", form("full_name", "Ann Agent", "email", "ann@"+name+".example"), http.StatusOK)
	if err != nil {
		return nil, err
	}
	m := initialPasswordRE.FindStringSubmatch(p.body)
	if m == nil {
		return nil, fmt.Errorf("no initial password on the dashboard")
	}
	bo.agent = newBrowser(base)
	if _, err := bo.agent.get("/agent/" + name + "/login"); err != nil {
		return nil, err
	}
	if _, err := bo.agent.post("/agent/"+name+"/login", form("email", "ann@"+name+".example", "password", m[1]), http.StatusSeeOther); err != nil {
		return nil, err
	}
	if _, err := bo.agent.get("/agent/" + name + "/password"); err != nil {
		return nil, err
	}
	if _, err := bo.agent.post("/agent/"+name+"/password", form("password", benchPassword, "password_repeat", benchPassword), http.StatusSeeOther); err != nil {
		return nil, err
	}

	// The conversation of the page and poll scenarios.
	bo.customer = newBrowser(base)
	if bo.custPage, err = openTicket(bo.customer, name, "My order has not arrived yet."); err != nil {
		return nil, err
	}
	if bo.talk, err = takeFirst(bo.agent, name); err != nil {
		return nil, err
	}
	if _, err := bo.customer.get(bo.custPage); err != nil {
		return nil, err
	}
	htmx := map[string]string{"HX-Request": "true"}
	for i := 1; i < messages; i++ {
		text := fmt.Sprintf("Message %d: a sentence of ordinary chat length, with a date (2024-01-02) in it.", i)
		var p page
		if i%2 == 1 {
			p, err = bo.agent.post(bo.talk+"/messages", form("message", text, "_csrf", bo.agentCSRF()), http.StatusOK, htmx)
		} else {
			p, err = bo.customer.post(bo.custPage+"/messages", form("message", text), http.StatusOK, htmx)
		}
		if err != nil {
			return nil, err
		}
		if ids := msgIDRE.FindStringSubmatch(p.body); ids != nil {
			bo.lastID, _ = strconv.ParseInt(ids[1], 10, 64)
		}
	}

	// More tickets for the dashboards; every third is assigned.
	other := newBrowser(base)
	for i := 0; i < tickets; i++ {
		if _, err := openTicket(other, name, fmt.Sprintf("Question %d about my account", i)); err != nil {
			return nil, err
		}
		if i%3 == 0 {
			if _, err := takeFirst(bo.agent, name); err != nil {
				return nil, err
			}
		}
	}
	p, err = bo.agent.get("/agent/" + name + "/dash")
	if err != nil {
		return nil, err
	}
	m = liveRE.FindStringSubmatch(p.body)
	if m == nil {
		return nil, fmt.Errorf("no live queue region on the agent dashboard")
	}
	bo.live = html.UnescapeString(m[1])
	return bo, nil
}

// agentCSRF is the agent's CSRF token (fetched once from the conversation page).
func (bo *benchOrg) agentCSRF() string {
	if bo.agent.csrf == "" {
		bo.agent.get(bo.talk)
	}
	return bo.agent.csrf
}

func openTicket(b *browser, org, question string) (string, error) {
	if b.csrf == "" {
		if _, err := b.get("/" + org + "/open-ticket"); err != nil {
			return "", err
		}
	}
	p, err := b.post("/"+org+"/open-ticket", form("customer_name", "Carla Customer",
		"customer_email", "carla@example.net", "query", question), http.StatusSeeOther)
	if err != nil {
		return "", err
	}
	return p.loc, nil
}

func takeFirst(agent *browser, org string) (string, error) {
	p, err := agent.get("/agent/" + org + "/dash")
	if err != nil {
		return "", err
	}
	m := engageRE.FindString(p.body)
	if m == "" {
		return "", fmt.Errorf("no waiting ticket on the agent dashboard")
	}
	p, err = agent.post(m, form(), http.StatusSeeOther)
	if err != nil {
		return "", err
	}
	return p.loc, nil
}
