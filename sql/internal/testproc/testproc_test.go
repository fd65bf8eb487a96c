package testproc

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Callers racing for a missing binary install it once; the others wait and use it.
func TestInstallOnceInstallsOnce(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "server")
	var installs atomic.Int32
	install := func() error {
		installs.Add(1)
		if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
			return err
		}
		return os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			got, err := InstallOnce(dir, bin, install)
			if err == nil && got != bin {
				err = errors.New("returned " + got)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		n++
		if err != nil {
			t.Error(err)
		}
	}
	if n != 8 || installs.Load() != 1 {
		t.Errorf("%d callers answered, %d installs; want 8 and 1", n, installs.Load())
	}
}

// An install that fails, or leaves no executable, is an error, not a path.
func TestInstallOnceFailures(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	if _, err := InstallOnce(dir, bin, func() error { return errors.New("offline") }); err == nil {
		t.Error("a failed install answered a path")
	}
	if _, err := InstallOnce(dir, bin, func() error { return os.WriteFile(bin, nil, 0o644) }); err == nil {
		t.Error("a file nobody may execute answered as the binary")
	}
}

func TestOutputTail(t *testing.T) {
	var o Output
	o.Write([]byte("hello, "))
	o.Write([]byte("world"))
	if got := o.Tail(5); got != "world" {
		t.Errorf("Tail(5) = %q", got)
	}
	if got := o.Tail(100); got != "hello, world" {
		t.Errorf("Tail(100) = %q", got)
	}
}

// Stop ends a process that obeys SIGTERM at once, even while it is stopped (SIGSTOP), and
// kills one that ignores it after the grace period (obeying takes far less than it).
func TestStop(t *testing.T) {
	// handles ends on SIGTERM through a handler of its own, as the servers do, which a stopped
	// process runs only once it is continued.
	const handles = `trap "exit 0" TERM; while :; do sleep 0.05; done`
	for _, c := range []struct {
		name   string
		script string
		freeze bool
		atMost time.Duration
		least  time.Duration
	}{
		{"obeys", handles, false, 1500 * time.Millisecond, 0},
		{"frozen", handles, true, 1500 * time.Millisecond, 0},
		{"ignores", `trap "" TERM; exec sleep 30`, false, 5 * time.Second, 2 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", "exec 2>/dev/null; "+c.script)
			done, err := Start(cmd)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // the trap is set
			if c.freeze {
				_ = cmd.Process.Signal(syscall.SIGSTOP)
			}
			start := time.Now()
			Stop(cmd, done, 2*time.Second)
			took := time.Since(start)
			select {
			case <-done:
			default:
				t.Fatal("Stop returned before the process ended")
			}
			if took > c.atMost || took < c.least {
				t.Errorf("Stop took %v, want between %v and %v", took, c.least, c.atMost)
			}
		})
	}
}
