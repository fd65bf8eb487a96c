package mailtest

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"
	"github.com/tenantdesk/tenantdesk/sql/internal/testproc"
)

// DovecotInstallHint says how to get Dovecot where it is missing.
const DovecotInstallHint = "install Debian's dovecot-imapd as root (apt-get install dovecot-imapd; " +
	".ci/run does), or set DOVECOT_BIN to a dovecot binary"

// User is one IMAP account of a Dovecot instance.
type User struct {
	Name, Password string
}

// Dovecot is a running Dovecot with its own configuration, users and maildirs, listening on
// 127.0.0.1 with plain IMAP (STARTTLS offered) and IMAPS.
type Dovecot struct {
	// Host is 127.0.0.1; IMAPPort serves plain IMAP with STARTTLS, IMAPSPort implicit TLS.
	Host                string
	IMAPPort, IMAPSPort int
	// Cert is the server's self-signed certificate (Cert.ClientConfig trusts it).
	Cert *Cert
	// Users are the accounts, with their passwords.
	Users []User
	// Dir holds the configuration, the runtime directory, the log and the users' homes; it
	// survives Stop, so Restart keeps the mail.
	Dir string

	t        testing.TB
	bin      string
	conf     string
	uid, gid int
	log      string
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	out      *testproc.Output
}

// StartDovecot starts Dovecot for the rest of the test with the given users (one user
// "support" with a random password when none are given).
func StartDovecot(t testing.TB, users ...User) *Dovecot {
	t.Helper()
	bin := DovecotBinary(t)
	if len(users) == 0 {
		users = []User{{Name: "support", Password: rand.Text()}}
	}
	d := &Dovecot{
		Host:  "127.0.0.1",
		Users: users,
		Cert:  NewCert(t),
		Dir:   shortTempDir(t, "dovecot-"),
		t:     t,
		bin:   bin,
		out:   &testproc.Output{},
	}
	d.IMAPPort = port(t, FreeAddr(t))
	d.IMAPSPort = port(t, FreeAddr(t))
	d.configure()
	d.start()
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("dovecot log (last 4 KB):\n%s", d.logTail(4096))
		}
	})
	return d
}

// configure writes the configuration. As root, Dovecot refuses mail access as UID 0, so the
// mail processes run as "nobody" and the homes belong to it; the login and auth processes
// use Debian's dovenull and dovecot users. As another user everything runs as that user.
func (d *Dovecot) configure() {
	t := d.t
	t.Helper()
	// Other users' processes must reach the homes and the sockets below Dir.
	if err := os.Chmod(d.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var internal string
	if os.Getuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("mailtest: no user nobody for Dovecot's mail processes: %v", err)
		}
		d.uid, _ = strconv.Atoi(nobody.Uid)
		d.gid, _ = strconv.Atoi(nobody.Gid)
		for _, u := range []string{"dovecot", "dovenull"} {
			if _, err := user.Lookup(u); err != nil {
				t.Fatalf("mailtest: system user %s missing (%v); %s", u, err, DovecotInstallHint)
			}
		}
	} else {
		me, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		grp, err := user.LookupGroupId(me.Gid)
		if err != nil {
			t.Fatal(err)
		}
		d.uid, d.gid = os.Getuid(), os.Getgid()
		internal = fmt.Sprintf("default_internal_user = %s\ndefault_internal_group = %s\n"+
			"default_login_user = %s\n", me.Username, grp.Name, me.Username)
	}
	var passwd strings.Builder
	for _, u := range d.Users {
		if strings.ContainsAny(u.Name+u.Password, ":\n") {
			t.Fatalf("mailtest: user %q: no ':' or newline in names and passwords", u.Name)
		}
		home := filepath.Join(d.Dir, "home", u.Name)
		d.mkdirOwned(home)
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s:%d:%d::%s\n", u.Name, u.Password, d.uid, d.gid, home)
	}
	d.mkdirOwned(filepath.Join(d.Dir, "home"))
	users := filepath.Join(d.Dir, "users")
	if err := os.WriteFile(users, []byte(passwd.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	d.log = filepath.Join(d.Dir, "dovecot.log")
	conf := fmt.Sprintf(`# Written by mailtest for one test.
base_dir = %[1]s/run
state_dir = %[1]s/state
instance_name = mailtest-%[2]d
%[3]sprotocols = imap
listen = 127.0.0.1
log_path = %[4]s
first_valid_uid = 1
ssl = yes
ssl_cert = <%[5]s
ssl_key = <%[6]s
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {
  driver = passwd-file
  args = %[7]s
}
userdb {
  driver = passwd-file
  args = %[7]s
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = %[8]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[9]d
    ssl = yes
  }
}
service anvil {
  chroot =
}
`, d.Dir, d.IMAPPort, internal, d.log, d.Cert.CertFile, d.Cert.KeyFile, users, d.IMAPPort, d.IMAPSPort)
	d.conf = filepath.Join(d.Dir, "dovecot.conf")
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (d *Dovecot) mkdirOwned(dir string) {
	d.t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		d.t.Fatal(err)
	}
	if os.Getuid() == 0 {
		if err := os.Chown(dir, d.uid, d.gid); err != nil {
			d.t.Fatal(err)
		}
	}
}

func (d *Dovecot) start() {
	t := d.t
	t.Helper()
	cmd := exec.Command(d.bin, "-F", "-c", d.conf)
	cmd.Stdout, cmd.Stderr = d.out, d.out
	// Its own process group: Stop can end the master and every process it started (the
	// login, auth and per-session imap processes) at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("mailtest: starting %s: %v", d.bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	d.mu.Lock()
	d.cmd, d.done = cmd, done
	d.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if d.greets() {
			return
		}
		select {
		case <-done:
			t.Fatalf("mailtest: dovecot exited at start-up:\n%s\n%s", d.out.Tail(4096), d.logTail(4096))
		default:
		}
		if time.Now().After(deadline) {
			d.Stop()
			t.Fatalf("mailtest: dovecot did not greet within 20 s:\n%s", d.logTail(4096))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *Dovecot) greets() bool {
	c, err := net.DialTimeout("tcp", d.Addr(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "* OK")
}

// Stop stops Dovecot and waits for it: SIGTERM, and after a second SIGKILL to its whole
// process group (an imap process with a client attached waits for that client before it
// exits). Every open IMAP session ends; the mail stays in Dir. Stopping a stopped server does
// nothing.
func (d *Dovecot) Stop() {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.cmd = nil
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	// The group: the master's children outlive it otherwise and keep the ports.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-done
	for i := 0; i < 200 && syscall.Kill(-pgid, 0) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// Restart starts Dovecot again on the same ports and mail after Stop.
func (d *Dovecot) Restart() {
	d.t.Helper()
	d.Stop()
	d.start()
}

// Addr is the plain IMAP listener's host:port; TLSAddr the IMAPS one.
func (d *Dovecot) Addr() string { return net.JoinHostPort(d.Host, strconv.Itoa(d.IMAPPort)) }

// TLSAddr is the IMAPS listener's host:port.
func (d *Dovecot) TLSAddr() string { return net.JoinHostPort(d.Host, strconv.Itoa(d.IMAPSPort)) }

// Maildir is the maildir of a user's folder ("" or "INBOX" for the inbox), in Dovecot's
// default Maildir++ layout.
func (d *Dovecot) Maildir(name, folder string) string {
	base := filepath.Join(d.Dir, "home", name, "Maildir")
	if folder == "" || strings.EqualFold(folder, "INBOX") {
		return base
	}
	return filepath.Join(base, "."+folder)
}

// Deliver puts a message into a user's folder the way a local delivery agent does: written to
// tmp/, then renamed into new/. Dovecot gives it the next UID when a client next looks.
func (d *Dovecot) Deliver(t testing.TB, name, folder string, raw []byte) {
	t.Helper()
	md := d.Maildir(name, folder)
	d.mkdirOwned(filepath.Dir(md))
	for _, sub := range []string{"", "tmp", "new", "cur"} {
		d.mkdirOwned(filepath.Join(md, sub))
	}
	unique := fmt.Sprintf("%d.M%dP%d_%s.mailtest", time.Now().Unix(), time.Now().Nanosecond()/1000,
		os.Getpid(), strings.ToLower(rand.Text()[:10]))
	tmp := filepath.Join(md, "tmp", unique)
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		if err := os.Chown(tmp, d.uid, d.gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(tmp, filepath.Join(md, "new", unique)); err != nil {
		t.Fatal(err)
	}
}

// ResetUIDs makes Dovecot forget a user's folder's UIDs, as a server rebuild or migration
// does: it stops, removes the folder's UID list and indexes, and starts again. The messages
// stay and come back with new UIDs under a new UIDVALIDITY.
func (d *Dovecot) ResetUIDs(t testing.TB, name, folder string) {
	t.Helper()
	d.Stop()
	md := d.Maildir(name, folder)
	entries, err := os.ReadDir(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "dovecot-uidlist") || strings.HasPrefix(e.Name(), "dovecot.index") {
			if err := os.Remove(filepath.Join(md, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	// UIDVALIDITY is chosen from the clock: wait for the next second so that it differs.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	d.start()
}

// Client logs a user in over plain IMAP, for a test to append, delete or inspect.
func (d *Dovecot) Client(t testing.TB, name string) *client.Client {
	t.Helper()
	c, err := client.Dial(d.Addr())
	if err != nil {
		t.Fatalf("mailtest: dial dovecot: %v", err)
	}
	c.Timeout = 10 * time.Second
	t.Cleanup(func() { _ = c.Logout() })
	if err := c.Login(name, d.Password(t, name)); err != nil {
		t.Fatalf("mailtest: login %s: %v", name, err)
	}
	return c
}

// Append stores a message in a user's folder over IMAP (creating the folder if needed) and
// returns the folder's UIDVALIDITY and the message's UID.
func (d *Dovecot) Append(t testing.TB, name, folder string, raw []byte) (uidValidity, uid uint32) {
	t.Helper()
	c := d.Client(t, name)
	if folder == "" {
		folder = "INBOX"
	}
	if err := c.Append(folder, nil, time.Now(), imapLiteral(raw)); err != nil {
		if cerr := c.Create(folder); cerr != nil {
			t.Fatalf("mailtest: append to %s: %v (create: %v)", folder, err, cerr)
		}
		if err := c.Append(folder, nil, time.Now(), imapLiteral(raw)); err != nil {
			t.Fatalf("mailtest: append to %s: %v", folder, err)
		}
	}
	mb, err := c.Select(folder, true)
	if err != nil {
		t.Fatal(err)
	}
	return mb.UidValidity, mb.UidNext - 1
}

// Expunge deletes the messages with the given UIDs from a user's folder.
func (d *Dovecot) Expunge(t testing.TB, name, folder string, uids ...uint32) {
	t.Helper()
	c := d.Client(t, name)
	if _, err := c.Select(folder, false); err != nil {
		t.Fatal(err)
	}
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	if err := c.UidStore(set, imap.FormatFlagsOp(imap.AddFlags, true), []any{imap.DeletedFlag}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge(nil); err != nil {
		t.Fatal(err)
	}
}

// Password returns a user's password.
func (d *Dovecot) Password(t testing.TB, name string) string {
	t.Helper()
	for _, u := range d.Users {
		if u.Name == name {
			return u.Password
		}
	}
	t.Fatalf("mailtest: no dovecot user %q", name)
	return ""
}

// ClientTLS is a TLS client configuration that trusts this server's certificate.
func (d *Dovecot) ClientTLS() *tls.Config { return d.Cert.ClientConfig() }

func (d *Dovecot) logTail(n int) string {
	b, err := os.ReadFile(d.log)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// DovecotBinary returns the path of the dovecot binary ($DOVECOT_BIN, dovecot on PATH, or
// /usr/sbin/dovecot) and fails the test with the install hint when there is none.
func DovecotBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("DOVECOT_BIN"); p != "" {
		if !testproc.IsExecutable(p) {
			t.Fatalf("mailtest: DOVECOT_BIN=%s is not an executable file", p)
		}
		return p
	}
	if p, err := exec.LookPath("dovecot"); err == nil {
		return p
	}
	if testproc.IsExecutable("/usr/sbin/dovecot") {
		return "/usr/sbin/dovecot"
	}
	if _, err := os.Stat("/usr/lib/dovecot/imap"); err != nil {
		t.Fatalf("mailtest: Dovecot's IMAP server is missing; %s", DovecotInstallHint)
	}
	t.Fatalf("mailtest: no dovecot binary; %s", DovecotInstallHint)
	return ""
}

func port(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type literal struct{ *strings.Reader }

func (l literal) Len() int { return int(l.Reader.Size()) }

func imapLiteral(raw []byte) imap.Literal { return literal{strings.NewReader(string(raw))} }
