// Package testproc holds what the test harnesses that run real servers (sqldtest, mailtest)
// share: finding the module's root, installing a server binary once per machine while
// concurrent test processes wait for each other, and keeping a server's output for the
// failure message, starting and stopping it.
package testproc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ModuleRoot returns the directory of the go.mod above the working directory, under which
// installed binaries are cached (.cache/).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// IsExecutable reports whether p is a regular file someone may execute.
func IsExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// InstallOnce returns bin, running install to create it first when it is missing. The test
// binaries of several packages run at once: an exclusive lock on dir/.lock makes one of them
// install while the others wait, and a waiter that finds bin made meanwhile uses it.
func InstallOnce(dir, bin string, install func() error) (string, error) {
	if IsExecutable(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if IsExecutable(bin) {
		return bin, nil
	}
	if err := install(); err != nil {
		return "", err
	}
	if !IsExecutable(bin) {
		return "", fmt.Errorf("the install left no executable %s", bin)
	}
	return bin, nil
}

// Output keeps what a server process writes, safe for the process's copier goroutines and
// the test reading it at once.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// Tail returns the last n bytes written.
func (o *Output) Tail(n int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := o.b.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Start starts cmd and returns a channel closed once it has exited.
func Start(cmd *exec.Cmd) (<-chan struct{}, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return done, nil
}

// Stop asks the process Start started to end (SIGTERM, after SIGCONT so that a stopped one
// can act on it), kills it when it has not ended within grace, and returns once it has.
func Stop(cmd *exec.Cmd, done <-chan struct{}, grace time.Duration) {
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}
