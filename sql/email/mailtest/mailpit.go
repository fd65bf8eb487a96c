package mailtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/internal/testproc"
)

// MailpitModule is the module and version the tests build mailpit from.
const MailpitModule = "github.com/axllent/mailpit@v1.33.1"

// MailpitOptions configures a mailpit instance. The zero value is a plain SMTP server without
// TLS or authentication.
type MailpitOptions struct {
	// Cert, when set, makes the SMTP server offer STARTTLS with it (or, with ImplicitTLS,
	// speak TLS from the first byte).
	Cert *Cert
	// RequireSTARTTLS refuses mail from a client that did not STARTTLS first (needs Cert).
	RequireSTARTTLS bool
	// ImplicitTLS makes the SMTP port a TLS port, as smtps on 465 (needs Cert).
	ImplicitTLS bool
	// Users, when set, requires SMTP AUTH with one of these user → password pairs.
	Users map[string]string
	// AllowInsecureAuth accepts PLAIN and LOGIN without TLS.
	AllowInsecureAuth bool
	// Chaos enables the chaos API (SetChaos) that makes the server fail on purpose.
	Chaos bool
	// MaxMessageMB is the largest message accepted; 0 keeps mailpit's default.
	MaxMessageMB int
}

// Mailpit is a running mailpit.
type Mailpit struct {
	// SMTPAddr is the SMTP listener (127.0.0.1:port); APIURL the HTTP API's base URL.
	SMTPAddr, APIURL string

	t    testing.TB
	bin  string
	args []string
	log  *testproc.Output
	mu   sync.Mutex
	cmd  *exec.Cmd
	done <-chan struct{}
}

// StartMailpit starts mailpit for the rest of the test.
func StartMailpit(t testing.TB, opts MailpitOptions) *Mailpit {
	t.Helper()
	bin := MailpitBinary(t)
	dir := t.TempDir()
	m := &Mailpit{
		t:        t,
		bin:      bin,
		SMTPAddr: FreeAddr(t),
		log:      &testproc.Output{},
	}
	httpAddr := FreeAddr(t)
	m.APIURL = "http://" + httpAddr
	m.args = []string{
		"--database", filepath.Join(dir, "mailpit.db"),
		"--smtp", m.SMTPAddr,
		"--listen", httpAddr,
		"--disable-version-check",
		"--smtp-disable-rdns",
		"--max", "1000",
	}
	if opts.Cert != nil {
		m.args = append(m.args, "--smtp-tls-cert", opts.Cert.CertFile, "--smtp-tls-key", opts.Cert.KeyFile)
	}
	if opts.RequireSTARTTLS {
		m.args = append(m.args, "--smtp-require-starttls")
	}
	if opts.ImplicitTLS {
		m.args = append(m.args, "--smtp-require-tls")
	}
	if len(opts.Users) > 0 {
		var b strings.Builder
		for u, p := range opts.Users {
			fmt.Fprintf(&b, "%s:%s\n", u, p)
		}
		file := filepath.Join(dir, "smtp-users")
		if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		m.args = append(m.args, "--smtp-auth-file", file)
	}
	if opts.AllowInsecureAuth {
		m.args = append(m.args, "--smtp-auth-allow-insecure")
	}
	if opts.Chaos {
		m.args = append(m.args, "--enable-chaos")
	}
	if opts.MaxMessageMB > 0 {
		m.args = append(m.args, "--max-message-size", fmt.Sprint(opts.MaxMessageMB))
	}
	m.start()
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() {
			t.Logf("mailpit log (last 4 KB):\n%s", m.log.Tail(4096))
		}
	})
	return m
}

func (m *Mailpit) start() {
	m.t.Helper()
	cmd := exec.Command(m.bin, m.args...)
	cmd.Stdout, cmd.Stderr = m.log, m.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	done, err := testproc.Start(cmd)
	if err != nil {
		m.t.Fatalf("mailtest: starting %s: %v", m.bin, err)
	}
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m.ready() {
			return
		}
		select {
		case <-done:
			m.t.Fatalf("mailtest: mailpit exited at start-up:\n%s", m.log.Tail(4096))
		default:
		}
		if time.Now().After(deadline) {
			m.Stop()
			m.t.Fatalf("mailtest: mailpit did not answer within 20 s:\n%s", m.log.Tail(4096))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *Mailpit) ready() bool {
	c := http.Client{Timeout: time.Second}
	res, err := c.Get(m.APIURL + "/api/v1/messages?limit=1")
	if err != nil {
		return false
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false
	}
	conn, err := net.DialTimeout("tcp", m.SMTPAddr, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// Stop stops mailpit and waits for it. Stopping a stopped server does nothing.
func (m *Mailpit) Stop() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	testproc.Stop(cmd, done, 5*time.Second)
}

// Restart starts mailpit again on the same ports and database after Stop.
func (m *Mailpit) Restart() {
	m.t.Helper()
	m.Stop()
	m.start()
}

// Summary is one entry of mailpit's message list.
type Summary struct {
	ID        string
	MessageID string
	From      *mail.Address
	To        []*mail.Address
	Subject   string
}

// Attachment is an attachment or inline part as mailpit reports it.
type Attachment struct {
	PartID      string
	FileName    string
	ContentType string
	ContentID   string
	Size        uint64
}

// Message is one message as mailpit's API returns it.
type Message struct {
	ID          string
	MessageID   string
	From        *mail.Address
	To          []*mail.Address
	Cc          []*mail.Address
	ReplyTo     []*mail.Address
	ReturnPath  string
	Subject     string
	Text        string
	HTML        string
	Size        uint64
	Inline      []Attachment
	Attachments []Attachment
}

// Messages lists every stored message, newest first.
func (m *Mailpit) Messages(t testing.TB) []Summary {
	t.Helper()
	var out struct {
		Total    int
		Messages []Summary
	}
	m.getJSON(t, "/api/v1/messages?limit=1000", &out)
	return out.Messages
}

// WaitMessages waits up to 10 s until at least n messages are stored and returns them all,
// newest first.
func (m *Mailpit) WaitMessages(t testing.TB, n int) []Summary {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := m.Messages(t)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailtest: mailpit holds %d messages after 10 s, want %d", len(got), n)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Message returns one message by mailpit's ID.
func (m *Mailpit) Message(t testing.TB, id string) Message {
	t.Helper()
	var out Message
	m.getJSON(t, "/api/v1/message/"+id, &out)
	return out
}

// Headers returns one message's headers as mailpit decoded them.
func (m *Mailpit) Headers(t testing.TB, id string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	m.getJSON(t, "/api/v1/message/"+id+"/headers", &out)
	return out
}

// Raw returns one message exactly as mailpit received it.
func (m *Mailpit) Raw(t testing.TB, id string) []byte {
	t.Helper()
	return m.get(t, "/api/v1/message/"+id+"/raw")
}

// DeleteAll deletes every stored message.
func (m *Mailpit) DeleteAll(t testing.TB) {
	t.Helper()
	m.send(t, http.MethodDelete, "/api/v1/messages", nil)
}

// ChaosTrigger makes mailpit answer ErrorCode to a share of commands (Probability in percent).
type ChaosTrigger struct {
	ErrorCode   int
	Probability int
}

// Chaos is the set of chaos triggers: Sender fails MAIL FROM, Recipient fails RCPT TO,
// Authentication fails AUTH.
type Chaos struct {
	Sender, Recipient, Authentication ChaosTrigger
}

// SetChaos sets the chaos triggers (the server must run with MailpitOptions.Chaos).
func (m *Mailpit) SetChaos(t testing.TB, c Chaos) {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	m.send(t, http.MethodPut, "/api/v1/chaos", b)
}

func (m *Mailpit) getJSON(t testing.TB, path string, out any) {
	t.Helper()
	if err := json.Unmarshal(m.get(t, path), out); err != nil {
		t.Fatalf("mailtest: GET %s: %v", path, err)
	}
}

func (m *Mailpit) get(t testing.TB, path string) []byte {
	t.Helper()
	return m.send(t, http.MethodGet, path, nil)
}

func (m *Mailpit) send(t testing.TB, method, path string, body []byte) []byte {
	t.Helper()
	req, err := http.NewRequest(method, m.APIURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("mailtest: %s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("mailtest: %s %s: %v", method, path, err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("mailtest: %s %s: %d %s", method, path, res.StatusCode, b)
	}
	return b
}

// MailpitBinary returns the path of a mailpit binary: $MAILPIT_BIN, the copy under the
// module's .cache/mailpit/bin/, or one built there now with `go install` (once per machine;
// concurrent test processes wait for each other).
func MailpitBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MAILPIT_BIN"); p != "" {
		if !testproc.IsExecutable(p) {
			t.Fatalf("mailtest: MAILPIT_BIN=%s is not an executable file", p)
		}
		return p
	}
	root, err := testproc.ModuleRoot()
	if err != nil {
		t.Fatalf("mailtest: %v", err)
	}
	p, err := InstallMailpit(filepath.Join(root, ".cache", "mailpit"))
	if err != nil {
		t.Fatalf("mailtest: no mailpit binary and building one failed: %v\n"+
			"(build it by hand with: GOBIN=$PWD/.cache/mailpit/bin go install %s, or set MAILPIT_BIN)",
			err, MailpitModule)
	}
	return p
}

// InstallMailpit makes sure dir/bin/mailpit exists, building it with `go install` if needed,
// and returns its path.
func InstallMailpit(dir string) (string, error) {
	bin := filepath.Join(dir, "bin", "mailpit")
	return testproc.InstallOnce(dir, bin, func() error {
		gobin, err := exec.LookPath("go")
		if err != nil {
			return fmt.Errorf("no go command to build %s: %w", MailpitModule, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, gobin, "install", MailpitModule)
		// mailpit is pure Go: build it static, without the project's build tags.
		cmd.Env = append(os.Environ(), "GOBIN="+filepath.Join(dir, "bin"), "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go install %s: %v\n%s", MailpitModule, err, out)
		}
		return nil
	})
}
