package sqlite

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// readEmptyBlobs reads empty BLOBs while the GC keeps shrinking stacks: without
// GODEBUG=invalidptr=0 this aborts the process within milliseconds (godebug.go).
func readEmptyBlobs(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "b.db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for range 3000 {
		deepStack(150) // a large stack, for the GC to shrink while rows.Next holds the blob
		rows, err := db.Query(`SELECT CAST('' AS BLOB), CAST('' AS BLOB) FROM (SELECT 1 UNION ALL SELECT 2)`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b string
			if err := rows.Scan(&a, &b); err != nil || a != "" || b != "" {
				t.Fatalf("Scan = %q, %q, %v", a, b, err)
			}
		}
		rows.Close()
	}
}

func deepStack(n int) int {
	var pad [256]byte
	pad[n%256] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return deepStack(n-1) + int(pad[n%256])
}

// TestEmptyBlobsWithSafeGODEBUG runs readEmptyBlobs in a child test process with the setting
// EnsureGODEBUG gives the binary: it must finish.
func TestEmptyBlobsWithSafeGODEBUG(t *testing.T) {
	if os.Getenv("TENANTDESK_BLOB_CHILD") == "1" {
		readEmptyBlobs(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEmptyBlobsWithSafeGODEBUG$", "-test.count=1")
	env, _ := withSafeGODEBUG(os.Environ())
	cmd.Env = append(env, "TENANTDESK_BLOB_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reading empty BLOBs with GODEBUG=%s: %v\n%.2000s", SafeGODEBUG, err, out)
	}
}

func TestWithSafeGODEBUG(t *testing.T) {
	for _, c := range []struct {
		in      []string
		want    []string
		changed bool
	}{
		{[]string{"A=1"}, []string{"A=1", "GODEBUG=invalidptr=0"}, true},
		{[]string{"GODEBUG="}, []string{"GODEBUG=invalidptr=0"}, true},
		{[]string{"GODEBUG=gctrace=1", "B=2"}, []string{"GODEBUG=gctrace=1,invalidptr=0", "B=2"}, true},
		{[]string{"GODEBUG=invalidptr=1"}, []string{"GODEBUG=invalidptr=1"}, false},
		{[]string{"GODEBUG=x=1,invalidptr=0"}, []string{"GODEBUG=x=1,invalidptr=0"}, false},
	} {
		got, changed := withSafeGODEBUG(c.in)
		if !slices.Equal(got, c.want) || changed != c.changed {
			t.Errorf("withSafeGODEBUG(%q) = %q, %v; want %q, %v", c.in, got, changed, c.want, c.changed)
		}
	}
}
