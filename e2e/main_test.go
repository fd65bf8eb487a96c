package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// pollInterval is the server's message poll interval (handlers.Config's default; the binary
// has no setting for it). A live update must arrive within one interval plus pollSlack for the
// request, the swap and a busy CI machine.
const (
	pollInterval = 2 * time.Second
	pollSlack    = 2 * time.Second
	// dashPollInterval is how often a queue asks for changes (views/partials/queue.html).
	dashPollInterval = 5 * time.Second
)

// The one server and the one browser every test uses.
var (
	baseURL    string      // http://127.0.0.1:port of the running binary
	serverLog  *syncBuffer // its stderr, printed when a test fails
	browserCtx context.Context
	// setupErr is why the server or the browser could not start; every test that needs them
	// fails with it (none skips).
	setupErr error
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "tenantdesk-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	stopServer, err := startServer(tmp)
	if err != nil {
		setupErr = fmt.Errorf("starting tenantdesk: %w", err)
	} else {
		defer stopServer()
	}
	if setupErr == nil {
		stopBrowser, err := startBrowser(tmp)
		if err != nil {
			setupErr = err
		} else {
			defer stopBrowser()
		}
	}
	if setupErr != nil {
		fmt.Fprintln(os.Stderr, "e2e setup failed:", setupErr)
	}
	return m.Run()
}

// goTool finds the go command that runs these tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// startServer builds the real binary from the module root and runs it on a free loopback port
// with a fresh DATA_DIR, until the returned func stops it (SIGTERM, as in production).
func startServer(tmp string) (func(), error) {
	bin := filepath.Join(tmp, "tenantdesk")
	build := exec.Command(goTool(), "build", "-tags", "libsqlite3", "-o", bin, "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()

	serverLog = &syncBuffer{}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"DATA_DIR="+filepath.Join(tmp, "data"),
		"ADDR="+addr,
		"SESSION_SECRET=e2e session secret, not for production",
		// Every test runs from 127.0.0.1: the per-client POST limit would soon answer 429.
		"RATE_LIMIT=0",
		"LOG_LEVEL=warn",
	)
	cmd.Stdout, cmd.Stderr = serverLog, serverLog
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	baseURL = "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("the server exited: %v\n%s", err, serverLog.String())
		default:
		}
		res, err := http.Get(baseURL + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("no /healthz after 30 s\n%s", serverLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// chromePath finds Chromium: CHROME_PATH, else Debian's chromium on PATH.
func chromePath() (string, error) {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium found: the end-to-end tests need a real browser. " +
		"Install Debian's chromium (as root: apt-get install chromium; .ci/run does this) " +
		"or set CHROME_PATH to a Chrome/Chromium binary")
}

// startBrowser starts one headless Chromium that every test shares; each person in a test gets
// a browser context of their own.
func startBrowser(tmp string) (func(), error) {
	path, err := chromePath()
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(filepath.Join(tmp, "chromium")),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	start, cancelStart := context.WithTimeout(ctx, 60*time.Second)
	defer cancelStart()
	// The first Do starts the browser; its life is bound to ctx, not to the timeout.
	errc := make(chan error, 1)
	go func() { errc <- chromedp.Do(ctx) }()
	select {
	case err = <-errc:
	case <-start.Done():
		err = start.Err()
	}
	if err != nil {
		cancelCtx()
		cancelAlloc()
		return nil, fmt.Errorf("starting Chromium (%s): %w", path, err)
	}
	browserCtx = ctx
	return func() { cancelCtx(); cancelAlloc() }, nil
}

// requireSetup fails the test when the server or the browser did not start.
func requireSetup(t *testing.T) {
	t.Helper()
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's two output streams and the tests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tail is the end of the server's log, for failure messages.
func serverLogTail() string {
	if serverLog == nil {
		return ""
	}
	s := serverLog.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return strings.TrimSpace(s)
}
