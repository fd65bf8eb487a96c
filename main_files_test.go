package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/fleet"
)

// privateModes walks root and fails the test for every file other than 0600 and every
// directory other than 0700; it returns how many files it saw.
func privateModes(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil || path != root {
				return nil // a file SQLite removed while the walk ran
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			n++
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", path, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDataFilesWorldReadable: every file the server writes — the catalog, the sessions and
// their -wal/-shm, tenant databases, the session secret — is 0600 and every directory 0700,
// even for a process started under umask 0; backups alike; and `tenants check` reports files
// whose modes let others in.
func TestDataFilesWorldReadable(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	ch := startChild(t, data, "TENANTDESK_TEST_UMASK=0")
	o := newBrowser(t, ch.base())
	o.must("GET", "/register", 200)
	o.must("POST", "/register", 303, "name", "Mode Co", "username", "modeco", "email", "owner@modeco.example",
		"password", "mode test password", "password_repeat", "mode test password")
	o.must("GET", "/dash", 200)
	if s, _, body, err := o.do("GET", "/dash/export", nil, nil); err != nil || s != http.StatusOK || !strings.HasPrefix(body, "SQLite format 3") {
		t.Fatalf("export: %d, %v", s, err)
	}
	c := newBrowser(t, ch.base())
	c.must("GET", "/modeco/open-ticket", 200)
	c.must("POST", "/modeco/open-ticket", 303, "customer_name", "Mo", "customer_email", "mo@example.net", "query", "modes?")
	for _, f := range []string{"catalog.db", "catalog.db-wal", "catalog.db-shm", "sessions.db", "sessions.db-wal",
		"sessions.db-shm", "session.secret", "tenantdesk-modeco.db", "tenantdesk-modeco.db-wal", "tenantdesk-modeco.db-shm"} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("while serving: %v", err)
		}
	}
	if n := privateModes(t, data); n < 10 {
		t.Errorf("saw %d files while serving, want at least 10", n)
	}
	if err := ch.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err, ok := ch.wait(30 * time.Second); !ok || err != nil {
		t.Fatalf("the server did not stop cleanly: %v (exited %v)\n%s", err, ok, ch.logs)
	}
	if n := privateModes(t, data); n < 4 {
		t.Errorf("saw %d files after shutdown, want at least 4", n)
	}

	// The operator commands, in this process, under umask 0.
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	cfg, err := configFromEnv(func(k string) string { return map[string]string{"DATA_DIR": data}[k] })
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	command := func(args ...string) error {
		out.Reset()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		return fleet.Main(context.Background(), args, fleet.Env{
			Open:    func() (*fleet.Fleet, func(), error) { return openFleet(cfg, log) },
			DataDir: cfg.DataDir, Backend: cfg.TenantBackend, AppName: cfg.AppName,
			SecretFile: filepath.Join(cfg.DataDir, "session.secret"), Stdout: &out, Stderr: &out, Log: log,
		})
	}
	backup := filepath.Join(t.TempDir(), "nested", "backup")
	if err := command("backup", "--out", backup); err != nil {
		t.Fatalf("backup: %v\n%s", err, out.String())
	}
	if n := privateModes(t, filepath.Dir(backup)); n < 4 {
		t.Errorf("saw %d files in the backup, want at least 4", n)
	}
	if err := command("tenants", "check"); err != nil {
		t.Fatalf("tenants check on private files: %v\n%s", err, out.String())
	}
	if n := privateModes(t, data); n < 4 {
		t.Errorf("saw %d files after the operator commands, want at least 4", n)
	}

	// Wider modes are reported, and the check fails.
	tenant := filepath.Join(data, "tenantdesk-modeco.db")
	for path, mode := range map[string]fs.FileMode{tenant: 0o644, filepath.Join(data, "session.secret"): 0o640, data: 0o755} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	err = command("tenants", "check")
	if err == nil {
		t.Fatalf("tenants check passed with world-readable files:\n%s", out.String())
	}
	for _, want := range []string{tenant + ": mode 0644", "session.secret: mode 0640", data + ": mode 0755"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("tenants check does not report %q:\n%s", want, out.String())
		}
	}
}
