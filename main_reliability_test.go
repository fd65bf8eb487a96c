package main

// Crash and shutdown tests of the real server in a child process: this test binary re-executed
// with TENANTDESK_TEST_CHILD=1 runs TestChildServer, which serves exactly as `tenantdesk serve`
// does (configuration from the environment, SIGTERM handling, graceful shutdown).

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// TestChildServer is the child process of the tests below, not a test of its own.
func TestChildServer(t *testing.T) {
	if os.Getenv("TENANTDESK_TEST_CHILD") != "1" {
		t.Skip("the server process of TestCrashMidBurst and TestGracefulShutdown")
	}
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.bcryptCost = bcrypt.MinCost // hashing at the real cost under -race would take seconds
	if v := os.Getenv("TENANTDESK_TEST_UMASK"); v != "" {
		// The process as a shell with this umask would start it.
		mask, err := strconv.ParseUint(v, 8, 32)
		if err != nil {
			t.Fatal(err)
		}
		syscall.Umask(int(mask))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, newLogger(os.Stderr, cfg), nil); err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// child is a running server process.
type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	logs   *lockedBuffer
	exited chan struct{}
	err    error // the process's exit, once exited is closed
}

// startChild starts the server on dataDir and waits until it is ready.
func startChild(t *testing.T, dataDir string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildServer$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), "TENANTDESK_TEST_CHILD=1", "DATA_DIR="+dataDir, "ADDR=127.0.0.1:0",
		"LOG_FORMAT=json", "LOG_LEVEL=info", "RATE_LIMIT=0", "METRICS_ADDR=", "SHUTDOWN_DELAY=")
	cmd.Env = append(cmd.Env, env...)
	c := &child{t: t, cmd: cmd, logs: &lockedBuffer{}, exited: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = c.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			c.logs.Write([]byte(line + "\n"))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "tenantdesk serving" {
				addrc <- rec.Addr
			}
		}
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			cmd.Process.Kill()
			<-c.exited
		}
	})
	select {
	case c.addr = <-addrc:
	case <-c.exited:
		t.Fatalf("the server exited at start (%v):\n%s", c.err, c.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("the server did not start:\n%s", c.logs)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s, _ := plainGet(c.base() + "/readyz"); s == http.StatusOK {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready:\n%s", c.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *child) base() string { return "http://" + c.addr }

// wait waits at most d for the process to exit and returns its exit error.
func (c *child) wait(d time.Duration) (error, bool) {
	select {
	case <-c.exited:
		return c.err, true
	case <-time.After(d):
		return nil, false
	}
}

// plainGet asks path on a fresh connection.
func plainGet(u string) (int, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Get(u)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// browser is one person's cookie jar and the last CSRF token it saw.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
	csrf   string
}

var csrfFieldRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request; err is a transport error (the server died), not a status.
func (b *browser) do(method, path string, form url.Values, hdr map[string]string) (status int, loc, body string, err error) {
	var rd io.Reader
	if form != nil {
		if form.Get("_csrf") == "" {
			form.Set("_csrf", b.csrf)
		}
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		return 0, "", "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := b.client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", "", err
	}
	if m := csrfFieldRE.FindSubmatch(raw); m != nil {
		b.csrf = string(m[1])
	}
	return res.StatusCode, res.Header.Get("Location"), string(raw), nil
}

// must sends a request that must answer want (and, for 303, returns the Location).
func (b *browser) must(method, path string, want int, kv ...string) (loc, body string) {
	b.t.Helper()
	var form url.Values
	if method == http.MethodPost {
		form = url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			form.Set(kv[i], kv[i+1])
		}
	}
	s, loc, body, err := b.do(method, path, form, nil)
	if err != nil || s != want {
		b.t.Fatalf("%s %s: status %d (Location %q), err %v; want %d:\n%.800s", method, path, s, loc, err, want, body)
	}
	return loc, body
}

var onetimeRE = regexp.MustCompile(`id="agent-initial-password"[^>]*>([^<]+)<`)

// crashTenant registers org with one agent who engages nCustomers tickets; it returns the agent's
// browser with its talk pages, and the customers' browsers with their ticket pages.
func crashTenant(t *testing.T, base, org string, nCustomers int) (agentB *browser, talks []string, custs []*browser, pages []string) {
	t.Helper()
	o := newBrowser(t, base)
	o.must("GET", "/register", 200)
	o.must("POST", "/register", 303, "name", org+" Inc", "username", org, "email", "owner@"+org+".example",
		"password", "crash test password", "password_repeat", "crash test password")
	_, body := o.must("GET", "/dash", 200)
	_ = body
	_, body = o.must("POST", "/agents", 200, "full_name", "Agent "+org, "email", "agent@"+org+".example")
	m := onetimeRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no one-time password")
	}
	agentB = newBrowser(t, base)
	agentB.must("GET", "/agent/"+org+"/login", 200)
	agentB.must("POST", "/agent/"+org+"/login", 303, "email", "agent@"+org+".example", "password", m[1])
	agentB.must("GET", "/agent/"+org+"/password", 200)
	agentB.must("POST", "/agent/"+org+"/password", 303, "password", "agent crash password", "password_repeat", "agent crash password")
	for i := range nCustomers {
		c := newBrowser(t, base)
		c.must("GET", "/"+org+"/open-ticket", 200)
		page, _ := c.must("POST", "/"+org+"/open-ticket", 303, "customer_name", fmt.Sprintf("Setup %s %d", org, i),
			"customer_email", "c@example.net", "query", "setup question")
		_, dash := agentB.must("GET", "/agent/"+org+"/dash", 200)
		engage := regexp.MustCompile(`/agent/[a-z0-9]+/tickets/\d+/engage`).FindString(dash)
		talk, _ := agentB.must("POST", engage, 303)
		talks = append(talks, talk)
		c.must("GET", page, 200)
		custs, pages = append(custs, c), append(pages, page)
	}
	agentB.must("GET", "/agent/"+org+"/dash", 200)
	return agentB, talks, custs, pages
}

// integrityCheck opens every database under dir (as the server opens them) and runs
// PRAGMA integrity_check.
func integrityCheck(t *testing.T, dir string, want int) map[string]*sql.DB {
	t.Helper()
	dbs := map[string]*sql.DB{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	if len(files) != want {
		t.Fatalf("databases under %s: %v", dir, files)
	}
	for _, f := range files {
		db, err := sqlite.Open(f, 1)
		if err != nil {
			t.Fatalf("open %s: %v", filepath.Base(f), err)
		}
		t.Cleanup(func() { db.Close() })
		var res string
		if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
			t.Errorf("%s: integrity_check = %q, %v", filepath.Base(f), res, err)
		}
		dbs[filepath.Base(f)] = db
	}
	return dbs
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashMidBurst kills the server with SIGKILL in the middle of a burst of writes to two
// tenants (messages from customers and agents, new tickets), then checks the files as the
// crash left them and after a restart: every acknowledged message and ticket is there and
// PRAGMA integrity_check is ok on every database (synchronous=FULL, WAL).
func TestCrashMidBurst(t *testing.T) {
	dir := t.TempDir()
	ch := startChild(t, dir)
	type ack struct{ org, kind, key string }
	var (
		mu    sync.Mutex
		acked []ack
	)
	record := func(a ack) { mu.Lock(); acked = append(acked, a); mu.Unlock() }
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }

	start, stop := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	agents := map[string]*browser{}
	setupAt := time.Now()
	for _, org := range []string{"crasha", "crashb"} {
		agentB, talks, custs, pages := crashTenant(t, ch.base(), org, 3)
		agents[org] = agentB
		loop := func(send func(i int) (ack, bool)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					a, ok := send(i)
					if !ok {
						return // the server is gone
					}
					if a.key != "" {
						record(a)
					}
				}
			}()
		}
		for j, c := range custs {
			loop(func(i int) (ack, bool) {
				body := fmt.Sprintf("%s-cust%d-msg%d", org, j, i)
				s, _, _, err := c.do("POST", pages[j]+"/messages", url.Values{"message": {body}}, nil)
				if err != nil {
					return ack{}, false
				}
				if s != http.StatusSeeOther {
					t.Errorf("customer message: status %d", s)
					return ack{}, false
				}
				return ack{org, "message", body}, true
			})
		}
		loop(func(i int) (ack, bool) {
			body := fmt.Sprintf("%s-agent-msg%d", org, i)
			s, _, _, err := agentB.do("POST", talks[i%len(talks)]+"/messages", url.Values{"message": {body}}, map[string]string{"HX-Request": "true"})
			if err != nil {
				return ack{}, false
			}
			if s != http.StatusOK {
				t.Errorf("agent message: status %d", s)
				return ack{}, false
			}
			return ack{org, "message", body}, true
		})
		opener := newBrowser(t, ch.base())
		opener.must("GET", "/"+org+"/open-ticket", 200)
		loop(func(i int) (ack, bool) {
			name := fmt.Sprintf("Burst %s %d", org, i)
			s, _, _, err := opener.do("POST", "/"+org+"/open-ticket", url.Values{"customer_name": {name},
				"customer_email": {"b@example.net"}, "query": {"burst question"}}, nil)
			if err != nil {
				return ack{}, false
			}
			if s != http.StatusSeeOther {
				t.Errorf("open ticket: status %d", s)
				return ack{}, false
			}
			return ack{org, "ticket", name}, true
		})
	}
	// Kill in the middle of the burst: once enough writes were acknowledged.
	burstAt := time.Now()
	close(start)
	deadline := time.Now().Add(20 * time.Second)
	for count() < 150 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("setup %v, burst %v, %d writes acknowledged at the kill", burstAt.Sub(setupAt).Round(time.Millisecond),
		time.Since(burstAt).Round(time.Millisecond), count())
	if err := ch.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, ok := ch.wait(10 * time.Second); !ok {
		t.Fatal("the server survived SIGKILL")
	}
	close(stop)
	wg.Wait()
	n := count()
	if n < 50 {
		t.Fatalf("only %d writes were acknowledged before the kill", n)
	}
	t.Logf("killed after %d acknowledged writes", n)

	// The files exactly as the crash left them (with their -wal files), checked in a copy.
	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	check := func(dbs map[string]*sql.DB, when string) {
		for _, a := range acked {
			db := dbs["tenantdesk-"+a.org+".db"]
			q := "SELECT COUNT(*) FROM messages WHERE body = ?"
			if a.kind == "ticket" {
				q = "SELECT COUNT(*) FROM tickets WHERE customer_name = ?"
			}
			var got int
			if err := db.QueryRow(q, a.key).Scan(&got); err != nil || got != 1 {
				t.Errorf("%s: acknowledged %s %q found %d times (%v)", when, a.kind, a.key, got, err)
			}
		}
	}
	check(integrityCheck(t, crashed, 4), "crashed files")

	// Restarted on the same DATA_DIR: it recovers, keeps the sessions and takes writes again.
	ch2 := startChild(t, dir)
	for org, b := range agents {
		b.base = ch2.base()
		_, body := b.must("GET", "/agent/"+org+"/dash", 200)
		if !strings.Contains(body, "Agent "+org) {
			t.Errorf("%s's agent dashboard after the restart lacks its name", org)
		}
	}
	c := newBrowser(t, ch2.base())
	c.must("GET", "/crasha/open-ticket", 200)
	c.must("POST", "/crasha/open-ticket", 303, "customer_name", "After Restart", "customer_email", "a@example.net", "query", "still there?")
	if err := ch2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err, ok := ch2.wait(30 * time.Second); !ok || err != nil {
		t.Fatalf("restarted server: exit %v (exited %v)\n%s", err, ok, ch2.logs)
	}
	check(integrityCheck(t, dir, 4), "after the restart")
}

// TestGracefulShutdown: on SIGTERM the server fails readiness while still serving (for
// SHUTDOWN_DELAY), stops accepting, finishes a POST that is in flight (its body still
// arriving), closes every database and exits 0 within a bound.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	ch := startChild(t, dir, "SHUTDOWN_DELAY=1s")
	o := newBrowser(t, ch.base())
	o.must("GET", "/register", 200)
	o.must("POST", "/register", 303, "name", "Shut Co", "username", "shutco", "email", "owner@shut.example",
		"password", "shutdown test password", "password_repeat", "shutdown test password")
	cust := newBrowser(t, ch.base())
	cust.must("GET", "/shutco/open-ticket", 200)

	// A POST whose body arrives in two parts, the second after shutdown has begun.
	body := url.Values{"_csrf": {cust.csrf}, "customer_name": {"In Flight"}, "customer_email": {"f@example.net"},
		"query": {strings.Repeat("in flight question ", 50)}}.Encode()
	u, _ := url.Parse(ch.base())
	var cookies []string
	for _, ck := range cust.client.Jar.Cookies(u) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	conn, err := net.Dial("tcp", ch.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /shutco/open-ticket HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: %d\r\nCookie: %s\r\n\r\n%s", ch.addr, len(body), strings.Join(cookies, "; "), body[:len(body)/2])
	time.Sleep(200 * time.Millisecond)

	sigAt := time.Now()
	if err := ch.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Readiness fails at once; liveness and new requests are still served during the delay.
	sawNotReady := false
	for time.Since(sigAt) < 900*time.Millisecond {
		if s, _ := plainGet(ch.base() + "/readyz"); s == http.StatusServiceUnavailable {
			sawNotReady = true
			if s, _ := plainGet(ch.base() + "/healthz"); s != http.StatusOK {
				t.Errorf("/healthz during the shutdown delay: %d", s)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawNotReady {
		t.Error("/readyz never answered 503 after SIGTERM")
	}
	// Then the listener closes: new connections are refused while the POST is still open.
	for {
		c, err := net.DialTimeout("tcp", ch.addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Since(sigAt) > 10*time.Second {
			t.Fatal("still accepting connections 10 s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-ch.exited:
		t.Fatalf("the server exited with a request in flight (%v)", ch.err)
	default:
	}
	if _, err := io.WriteString(conn, body[len(body)/2:]); err != nil {
		t.Fatalf("finishing the in-flight POST: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight POST got no answer: %v\n%s", err, ch.logs)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/customer/shutco/t/") {
		t.Errorf("in-flight POST: %d → %q, want 303 to the ticket", res.StatusCode, res.Header.Get("Location"))
	}
	err, ok := ch.wait(15 * time.Second)
	if !ok {
		t.Fatalf("not exited 15 s after SIGTERM:\n%s", ch.logs)
	}
	if err != nil {
		t.Fatalf("exit: %v\n%s", err, ch.logs)
	}
	t.Logf("exited %v after SIGTERM", time.Since(sigAt).Round(time.Millisecond))
	if !strings.Contains(ch.logs.String(), `"msg":"shutting down"`) {
		t.Error("no shutdown log line")
	}
	dbs := integrityCheck(t, dir, 3)
	var n int
	if err := dbs["tenantdesk-shutco.db"].QueryRow("SELECT COUNT(*) FROM tickets WHERE customer_name = 'In Flight'").Scan(&n); err != nil || n != 1 {
		t.Errorf("the in-flight ticket is stored %d times (%v)", n, err)
	}
}
