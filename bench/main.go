// Command bench is tenantdesk's benchmark suite (make bench): Go benchmarks of the store and
// render paths, then HTTP load against the real binary on seeded data, each HTTP figure beside
// a plain Fiber static handler measured in the same run. It writes BENCHMARKS.md.
//
//	go run -tags libsqlite3 ./bench [flags]      # needs bin/tenantdesk (make build)
//	bench static -addr 127.0.0.1:PORT             # the reference server (started by the suite)
//
// Environment: BENCH_TENANTS (default 10000) tenants registered for the spread scenario,
// BENCH_TICKETS (default 10000) tickets of the organization whose queues are read,
// BENCH_DURATION (default 10s) per HTTP scenario, BENCH_CONNS (64) connections,
// BENCH_MAX_OPEN (256) MAX_OPEN_TENANTS of the server, BENCH_GO=0 skips the Go benchmarks.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

func main() {
	sqlite.EnsureGODEBUG() // seeding reads go-libsql rows; children inherit the setting
	if len(os.Args) > 2 && os.Args[1] == "static" {
		fs := flag.NewFlagSet("static", flag.ExitOnError)
		addr := fs.String("addr", "127.0.0.1:3999", "listen address")
		fs.Parse(os.Args[2:])
		if err := serveStatic(*addr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	cfg := config{}
	flag.StringVar(&cfg.bin, "bin", "bin/tenantdesk", "the tenantdesk binary")
	flag.StringVar(&cfg.repo, "repo", ".", "the repository (migrations are read from it for seeding)")
	flag.StringVar(&cfg.out, "out", "BENCHMARKS.md", "where to write the report")
	flag.IntVar(&cfg.tenants, "tenants", envInt("BENCH_TENANTS", 10000), "tenants to register for the spread scenario")
	flag.IntVar(&cfg.tickets, "tickets", envInt("BENCH_TICKETS", 10000), "tickets of the bench organization (its queues)")
	flag.DurationVar(&cfg.d, "duration", envDuration("BENCH_DURATION", 10*time.Second), "duration of each HTTP scenario")
	flag.IntVar(&cfg.conns, "conns", envInt("BENCH_CONNS", 64), "concurrent connections")
	flag.IntVar(&cfg.maxOpen, "max-open", envInt("BENCH_MAX_OPEN", 256), "MAX_OPEN_TENANTS of the server")
	flag.BoolVar(&cfg.goBench, "go", os.Getenv("BENCH_GO") != "0", "run the Go benchmarks")
	flag.StringVar(&cfg.only, "only", "", "run only the HTTP scenarios whose names contain one of these comma-separated words (poll, page, dashboard, send, spread, register)")
	flag.StringVar(&cfg.serverEnv, "server-env", "", "extra environment of the server, comma-separated NAME=value")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the seeded data and the servers' logs (the directory is printed)")
	flag.Parse()
	if err := suite(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	bin, repo, out string
	tenants        int
	tickets        int
	d              time.Duration
	conns, maxOpen int
	goBench        bool
	only           string
	serverEnv      string
	keep           bool
}

// wants reports whether the scenario called name is to run.
func (c config) wants(name string) bool {
	if c.only == "" {
		return true
	}
	for _, w := range strings.Split(c.only, ",") {
		if w != "" && strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// httpRow is one HTTP figure and its static reference.
type httpRow struct {
	what   string
	app    result
	static result
	note   string
}

func suite(cfg config) error {
	rep := &report{started: time.Now(), machine: machine(), loadStart: loadAvg(), cfg: cfg}
	bin, err := filepath.Abs(cfg.bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (make build first)", cfg.bin, err)
	}
	if cfg.goBench {
		logf("Go benchmarks (a minute or two)")
		out, err := runGoBenchmarks(cfg.repo)
		if err != nil {
			return err
		}
		rep.goBench = parseGoBench(out)
	}

	dir, err := os.MkdirTemp("", "tenantdesk-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		defer logf("kept %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	// Interrupted: remove the seeded data too (the servers die with this process).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		logf("%s: stopping", s)
		os.RemoveAll(dir)
		os.Exit(1)
	}()
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return err
	}

	logf("registering %d tenants through the registry (DATA_DIR %s)", cfg.tenants, dataDir)
	rep.seed, err = seedTenants(dataDir, cfg.repo, cfg.tenants, 2, func(n int) { logf("  %d tenants", n) })
	if err != nil {
		return fmt.Errorf("seeding: %w", err)
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	staticAddr := freeAddr()
	static, err := start("static", dir, self, []string{"static", "-addr", staticAddr}, nil, staticAddr, "/healthz")
	if err != nil {
		return err
	}
	defer static.stop()
	appAddr := freeAddr()
	env := []string{"DATA_DIR=" + dataDir, "ADDR=" + appAddr, "RATE_LIMIT=0", "SEND_LIMIT=0", "LOG_LEVEL=warn",
		"MAX_OPEN_TENANTS=" + strconv.Itoa(cfg.maxOpen)}
	if cfg.serverEnv != "" {
		env = append(env, strings.Split(cfg.serverEnv, ",")...)
	}
	app, err := start("tenantdesk", dir, bin, []string{"serve"}, env, appAddr, "/readyz")
	if err != nil {
		return err
	}
	defer app.stop()
	pid := app.cmd.Process.Pid
	time.Sleep(time.Second)
	rep.rest = statsOf(pid)
	logf("server at rest: %s", rep.rest)

	logf("seeding the bench organization through the web pages")
	bo, err := seedBenchOrg("http://"+appAddr, "benchorg", 50, cfg.tickets)
	if err != nil {
		return fmt.Errorf("seeding benchorg: %w", err)
	}
	small, err := seedBenchOrg("http://"+appAddr, "smallorg", 3, 20)
	if err != nil {
		return fmt.Errorf("seeding smallorg: %w", err)
	}
	rep.afterSeed = statsOf(pid)

	staticRef := func() result {
		return run(staticAddr, scenario{name: "static", conns: cfg.conns, d: cfg.d, want: 200,
			prepare: func(_ int, _ int64, req *fasthttp.Request) { req.SetRequestURI("/fragment") }})
	}
	get := func(path, cookies string, hx bool) func(int, int64, *fasthttp.Request) {
		return func(_ int, _ int64, req *fasthttp.Request) {
			req.SetRequestURI(path)
			if cookies != "" {
				req.Header.Set("Cookie", cookies)
			}
			if hx {
				req.Header.Set("HX-Request", "true")
			}
		}
	}
	var died error
	measure := func(what string, sc scenario, note string) {
		if !cfg.wants(what) || died != nil {
			return
		}
		logf("%s: static reference", what)
		ref := staticRef()
		logf("%s", what)
		if sc.conns == 0 {
			sc.conns = cfg.conns
		}
		sc.name = what
		if sc.d == 0 && sc.total == 0 {
			sc.d = cfg.d
		}
		r := run(appAddr, sc)
		if died = app.dead(); died != nil {
			return
		}
		logf("  %.0f req/s (static %.0f), p99 %s ms, %d errors %s", r.rps(), ref.rps(), ms(r.pct(99)), r.errs, r.firstErr)
		rep.http = append(rep.http, httpRow{what: what, app: r, static: ref, note: note})
	}

	custCookies := bo.customer.cookieHeader()
	after := strconv.FormatInt(bo.lastID, 10)
	measure("message poll, nothing new (204)", scenario{want: 204,
		prepare: get(bo.custPage+"/messages?state=open&after="+after, custCookies, true)},
		"customer's poll; no database query, no template")
	measure("message poll, 1 new message (200)", scenario{want: 200,
		prepare: get(bo.custPage+"/messages?state=open&after="+strconv.FormatInt(bo.lastID-1, 10), custCookies, true)},
		"customer's poll; one indexed query, one message rendered")
	measure("customer conversation page, 50 messages", scenario{want: 200,
		prepare: get(bo.custPage, custCookies, false)}, "full page with layout; nothing written (the CSRF token is derived, not stored)")
	tickets := fmt.Sprintf("%d tickets", cfg.tickets)
	// A queue is looked at by a team, not by 64 browsers at once: its latency is measured at
	// that load (the 64-connection figure of a CPU-bound page is its throughput, not a wait).
	const teamConns = 8
	measure("organization dashboard (All open), "+tickets, scenario{want: 200, conns: teamConns,
		prepare: get("/dash", bo.org.cookieHeader(), false)}, "counts of every view and the first 50 rows")
	measure("agent dashboard (Unassigned), "+tickets, scenario{want: 200, conns: teamConns,
		prepare: get("/agent/"+bo.name+"/dash", bo.agent.cookieHeader(), false)}, "")
	measure("agent queue Closed, "+tickets, scenario{want: 200, conns: teamConns,
		prepare: get("/agent/"+bo.name+"/dash?view=closed", bo.agent.cookieHeader(), false)}, "newest closed first")
	measure("dashboard fragment poll, nothing changed (204)", scenario{want: 204,
		prepare: get(bo.live, bo.agent.cookieHeader(), true)}, "the queue region's poll with the version it shows; no query, no rendering")
	measure("agent dashboard, 20 tickets", scenario{want: 200,
		prepare: get("/agent/"+small.name+"/dash", small.agent.cookieHeader(), false)}, "what the fragment poll is held against")

	if died != nil {
		return died
	}
	if _, err := bo.agent.get(bo.talk); err != nil {
		return err
	}
	agentCookies, csrf := bo.agent.cookieHeader(), bo.agent.csrf
	body := []byte("message=Thanks+for+your+patience%2C+I+am+looking+into+it+right+now.")
	measure("send a message (POST, one tenant)", scenario{want: 200,
		prepare: func(_ int, _ int64, req *fasthttp.Request) {
			req.Header.SetMethod("POST")
			req.SetRequestURI(bo.talk + "/messages")
			req.Header.Set("Cookie", agentCookies)
			req.Header.Set("HX-Request", "true")
			req.Header.Set("X-CSRF-Token", csrf)
			req.Header.SetContentType("application/x-www-form-urlencoded")
			req.SetBody(body)
		}}, "htmx send by one agent into one conversation; durable commit (synchronous=FULL)")

	// The tenant spread: polls over every seeded tenant, first each once (cold: every tenant's
	// database is opened, the LRU evicts), then at random for the duration (warm).
	urls := make([]string, cfg.tenants)
	for i := range urls {
		urls[i] = "/customer/" + tenantName(i+1) + "/t/" + rep.seed.tokens[i] + "/messages?state=open&after=" +
			strconv.FormatInt(rep.seed.lastIDs[i], 10)
	}
	perm := rand.Perm(len(urls))
	spread := func(name string, total int64, d time.Duration) {
		if !cfg.wants(name) || died != nil {
			return
		}
		logf("%s over %d tenants", name, len(urls))
		smp := sample(pid, 100*time.Millisecond)
		r := run(appAddr, scenario{name: name, conns: cfg.conns, total: total, d: d, want: 204,
			prepare: func(_ int, seq int64, req *fasthttp.Request) {
				var u string
				if total > 0 {
					u = urls[perm[seq%int64(len(perm))]]
				} else {
					u = urls[rand.IntN(len(urls))]
				}
				req.SetRequestURI(u)
				req.Header.Set("HX-Request", "true")
			}})
		peak := smp.end()
		if died = app.dead(); died != nil {
			return
		}
		logf("  %.0f req/s, p50 %s ms, p99 %s ms, %d errors %s; peak %s", r.rps(), ms(r.pct(50)), ms(r.pct(99)), r.errs, r.firstErr, peak)
		rep.spread = append(rep.spread, spreadRow{r: r, peak: peak, after: statsOf(pid)})
	}
	spread("spread, cold (each tenant once)", int64(len(urls)), 0)
	spread("spread, warm (random tenants)", 0, cfg.d)
	if died == nil {
		died = app.dead()
	}
	if died != nil {
		return died
	}
	if len(rep.spread) > 0 {
		logf("spread: static reference")
		rep.spreadStatic = staticRef()
	}
	if cfg.wants("register") {
		logf("registration through POST /register")
		rep.registerHTTP = registerLoad("http://"+appAddr, 4, 40)
		if err := app.dead(); err != nil {
			return err
		}
	}
	time.Sleep(2 * time.Second)
	rep.end = statsOf(pid)
	rep.loadEnd = loadAvg()
	rep.finished = time.Now()

	if err := os.WriteFile(cfg.out, []byte(rep.markdown()), 0o644); err != nil {
		return err
	}
	if rep.errors() > 0 {
		// Keep the server's log beside the report: it says why requests failed.
		if b, err := os.ReadFile(app.log); err == nil {
			keep := strings.TrimSuffix(cfg.out, ".md") + "-server.log"
			if os.WriteFile(keep, b, 0o644) == nil {
				logf("requests failed; the server's log is in %s", keep)
			}
		}
	}
	logf("wrote %s", cfg.out)
	return nil
}

// registerLoad registers total organizations through the web form from conns browsers at once
// and measures the POST /register answers (bcrypt of the password included).
func registerLoad(base string, conns, total int) result {
	lat := make(chan time.Duration, total)
	errs := make(chan string, total)
	next := make(chan int, total)
	for i := 0; i < total; i++ {
		next <- i
	}
	close(next)
	start := time.Now()
	done := make(chan struct{})
	for w := 0; w < conns; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range next {
				name := fmt.Sprintf("reg%05d", i)
				b := newBrowser(base)
				if _, err := b.get("/register"); err != nil {
					errs <- err.Error()
					continue
				}
				t0 := time.Now()
				_, err := b.post("/register", form("name", "Reg "+name, "website", "https://"+name+".example",
					"username", name, "email", name+"@example.com", "password", benchPassword, "password_repeat", benchPassword), 303)
				lat <- time.Since(t0)
				if err != nil {
					errs <- err.Error()
				}
			}
		}()
	}
	for w := 0; w < conns; w++ {
		<-done
	}
	elapsed := time.Since(start)
	close(lat)
	close(errs)
	r := result{name: "register", conns: conns, elapsed: elapsed}
	for d := range lat {
		r.lat = append(r.lat, d)
	}
	for e := range errs {
		if r.firstErr == "" {
			r.firstErr = e
		}
		r.errs++
	}
	r.n = len(r.lat)
	sortDurations(r.lat)
	return r
}

// runGoBenchmarks runs the Go benchmarks of the store and render paths.
func runGoBenchmarks(repo string) (string, error) {
	cmd := exec.Command("go", "test", "-tags", "libsqlite3", "-run", "^$", "-bench", ".", "-benchtime", "1s",
		"-count", "1", "./handlers/", "./sql/desk/", "./sql/tenantdb/", "./sql/fleet/", "./sql/search/", "./sql/report/")
	cmd.Dir = repo
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("go test -bench: %w\n%s", err, out)
	}
	return string(out), nil
}

// goBench is one line of `go test -bench` output.
type goBench struct {
	pkg, name string
	n         int64
	metrics   map[string]float64
}

func parseGoBench(out string) []goBench {
	var res []goBench
	pkg := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "pkg: ") {
			pkg = strings.TrimPrefix(strings.TrimPrefix(line, "pkg: "), "github.com/tenantdesk/tenantdesk/")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		b := goBench{pkg: pkg, name: strings.TrimPrefix(f[0], "Benchmark"), n: n, metrics: map[string]float64{}}
		if i := strings.LastIndex(b.name, "-"); i > 0 {
			b.name = b.name[:i]
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				b.metrics[f[i+1]] = v
			}
		}
		res = append(res, b)
	}
	return res
}
