// Package fileperm keeps what tenantdesk writes to disk readable by its own user only: the
// catalog holds password hashes, the sessions and every tenant database hold private
// conversations. Files are 0600 and directories 0700 whatever the process umask.
//
// SQLite creates a database file with mode 0644 (minus the umask) and gives its -wal, -shm and
// -journal files the mode of the database file, so creating the database file empty with
// File first (Touch) makes all of them private; an empty file is a valid empty database.
package fileperm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// The modes of everything tenantdesk creates.
const (
	File fs.FileMode = 0o600
	Dir  fs.FileMode = 0o700
)

// Restrict sets the process umask to 077, so that files and directories created afterwards by
// anything in the process (SQLite, go-libsql's replicas, the standard library) get no group or
// other permissions. It is the second line beside the explicit modes of this package.
func Restrict() {
	syscall.Umask(0o077)
}

// Touch creates path as an empty file with mode File if it does not exist; an existing file is
// left as it is.
func Touch(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, File)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	// The umask can only have narrowed the mode; Chmod sets it exactly.
	if err := f.Chmod(File); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// MkdirAll creates dir and any missing parents with mode Dir. Directories that exist keep
// their mode (tenants check reports them).
func MkdirAll(dir string) error {
	dir = filepath.Clean(dir)
	if info, err := os.Stat(dir); err == nil {
		if !info.IsDir() {
			return fmt.Errorf("fileperm: %s is not a directory", dir)
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := MkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, Dir); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made meanwhile by someone else
		}
		return err
	}
	return os.Chmod(dir, Dir)
}

// ChmodFiles sets every regular file directly in dir to File: for files made by code that
// takes no mode (go-libsql's embedded replicas).
func ChmodFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := os.Chmod(filepath.Join(dir, e.Name()), File); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Loose is a file or directory whose mode lets users other than the owner in.
type Loose struct {
	Path string
	Mode fs.FileMode // its permission bits
	Want fs.FileMode // File or Dir
}

// String says what is wrong and how to fix it.
func (l Loose) String() string {
	return fmt.Sprintf("%s: mode %04o, want %04o (chmod %o %s)", l.Path, l.Mode, l.Want, l.Want, l.Path)
}

// Check walks root (itself included) and returns every file and directory whose permission
// bits give the group or others any access. Symbolic links are not followed.
func Check(root string) ([]Loose, error) {
	var out []Loose
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != root {
				return nil // removed while the walk ran (a -journal, a -wal on close)
			}
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		want := File
		if d.IsDir() {
			want = Dir
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			out = append(out, Loose{Path: path, Mode: perm, Want: want})
		}
		return nil
	})
	return out, err
}
