package sqlite

// go-libsql's rows.Next keeps the pointer of an empty BLOB value as Rust hands it over — 0x1,
// dangling but not nil — in a pointer slot of its stack frame (its C.blob struct). When the
// garbage collector moves or shrinks that goroutine's stack at that moment, the runtime's
// invalid-pointer check aborts the whole process: "fatal error: invalid pointer found on
// stack". Text columns are read CAST(… AS BLOB) (go-libsql would otherwise try ten date
// layouts on every text cell), so any empty string can do it: an organization without a logo,
// a ticket no agent engaged. Under load it happens within minutes (make bench hit it on the
// dashboards); blob_test.go reproduces it in milliseconds.
//
// The pointer is never dereferenced (C.GoBytes of length 0), so the fix is the runtime
// setting GODEBUG=invalidptr=0, which can only be given at start-up: EnsureGODEBUG re-executes
// the program with it.

import (
	"os"
	"strings"
	"syscall"
)

// SafeGODEBUG is the runtime setting programs using go-libsql need (see above).
const SafeGODEBUG = "invalidptr=0"

// EnsureGODEBUG re-executes the running program with SafeGODEBUG added to GODEBUG, unless
// GODEBUG already says something about invalidptr. It returns only when nothing had to be
// done or the re-execution failed (the program then runs without it). Call it first in main.
func EnsureGODEBUG() {
	env, changed := withSafeGODEBUG(os.Environ())
	if !changed {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, env)
}

// withSafeGODEBUG returns env with SafeGODEBUG in GODEBUG, and whether it had to change it.
func withSafeGODEBUG(env []string) ([]string, bool) {
	out := make([]string, 0, len(env)+1)
	found := false
	for _, kv := range env {
		val, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			out = append(out, kv)
			continue
		}
		if found {
			continue // a duplicate: the first one counts
		}
		found = true
		for _, setting := range strings.Split(val, ",") {
			if strings.HasPrefix(strings.TrimSpace(setting), "invalidptr=") {
				return env, false // decided by whoever runs us
			}
		}
		if val == "" {
			out = append(out, "GODEBUG="+SafeGODEBUG)
		} else {
			out = append(out, "GODEBUG="+val+","+SafeGODEBUG)
		}
	}
	if !found {
		out = append(out, "GODEBUG="+SafeGODEBUG)
	}
	return out, true
}
