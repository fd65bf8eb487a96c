package sqlite

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOpenCreatesPrivateFiles: a database Open creates, and the -wal and -shm SQLite makes
// beside it, are 0600 even under umask 0; an existing file keeps its mode.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	db, err := Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t (v TEXT)"); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		seen++
		if got := info.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(f), got)
		}
	}
	if seen != 3 {
		t.Fatalf("checked %d files, want 3", seen)
	}
	// An existing database opens unchanged, whatever its mode (tenants check reports it).
	other := filepath.Join(dir, "y.db")
	if err := os.WriteFile(other, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(other, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if info, err := os.Stat(other); err != nil || info.Mode().Perm() != 0o640 {
		t.Fatalf("an existing file's mode changed: %v, %v", info.Mode(), err)
	}
}
