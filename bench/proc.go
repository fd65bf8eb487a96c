package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a server process the bench started.
type child struct {
	name   string
	cmd    *exec.Cmd
	addr   string
	log    string
	exited chan struct{} // closed when the process has ended
}

// start runs bin with args and env (added to ours), its output in dir/<name>.log, and waits
// until url answers 200.
func start(name, dir, bin string, args, env []string, addr, readyPath string) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	// The servers die with the suite, however it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	f.Close()
	c := &child{name: name, cmd: cmd, addr: addr, log: logPath, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(c.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("%s did not become ready on %s (log: %s)", name, addr, logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the process with SIGTERM (SIGKILL after 20 s) and waits for it.
func (c *child) stop() {
	if c == nil || c.cmd.Process == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// dead reports an error when the process has ended on its own.
func (c *child) dead() error {
	select {
	case <-c.exited:
		return fmt.Errorf("%s exited during the run (%v); see %s", c.name, c.cmd.ProcessState, c.log)
	default:
		return nil
	}
}

// procStats is a process's resident memory, open descriptors and threads, from /proc.
type procStats struct {
	rssKB   int64
	fds     int
	threads int
}

func (p procStats) String() string {
	return fmt.Sprintf("RSS %.1f MB, %d fds, %d threads", float64(p.rssKB)/1024, p.fds, p.threads)
}

func statsOf(pid int) procStats {
	var s procStats
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 {
				continue
			}
			switch fields[0] {
			case "VmRSS:":
				s.rssKB, _ = strconv.ParseInt(fields[1], 10, 64)
			case "Threads:":
				s.threads, _ = strconv.Atoi(fields[1])
			}
		}
		f.Close()
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.fds = len(ents)
	}
	return s
}

// sampler records the highest RSS, descriptor and thread counts of a process while it runs.
type sampler struct {
	mu   sync.Mutex
	max  procStats
	stop chan struct{}
	done chan struct{}
}

func sample(pid int, every time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			st := statsOf(pid)
			s.mu.Lock()
			s.max.rssKB = max(s.max.rssKB, st.rssKB)
			s.max.fds = max(s.max.fds, st.fds)
			s.max.threads = max(s.max.threads, st.threads)
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) end() procStats {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

// freeAddr returns a loopback address with a free port.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// machine describes this machine for the report.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
				mem = fmt.Sprintf("%.0f GB RAM", float64(kb)/1024/1024)
			}
		}
	}
	kernel := ""
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		kernel = strings.TrimSpace(string(out))
	}
	goVersion := runtime.Version()
	if out, err := exec.CommandContext(context.Background(), "go", "env", "GOVERSION").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), %s, %s, %s", model, runtime.NumCPU(), runtime.GOMAXPROCS(0), mem, kernel, goVersion)
}

// loadAvg is the 1-, 5- and 15-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
