package fileperm

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// Touch and MkdirAll give File and Dir under any umask; Check finds exactly the paths whose
// modes let others in, and nothing this package made.
func TestModesWhateverTheUmask(t *testing.T) {
	for _, mask := range []int{0, 0o022, 0o002} {
		old := syscall.Umask(mask)
		root := filepath.Join(t.TempDir(), "data")
		nested := filepath.Join(root, "replicas", "tenantdesk-acme")
		if err := MkdirAll(nested); err != nil {
			t.Fatal(err)
		}
		if err := MkdirAll(nested); err != nil {
			t.Fatalf("umask %03o: MkdirAll on an existing directory: %v", mask, err)
		}
		file := filepath.Join(nested, "x.db")
		if err := Touch(file); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte("kept"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Touch(file); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(file); err != nil || string(b) != "kept" {
			t.Fatalf("umask %03o: Touch changed an existing file: %q %v", mask, b, err)
		}
		other := filepath.Join(nested, "made-elsewhere")
		if err := os.WriteFile(other, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(other, 0o644); err != nil {
			t.Fatal(err)
		}
		syscall.Umask(old)

		checked := 0
		for _, p := range []string{root, filepath.Join(root, "replicas"), nested} {
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			if info.Mode().Perm() != Dir {
				t.Errorf("umask %03o: %s: mode %04o, want %04o", mask, p, info.Mode().Perm(), Dir)
			}
		}
		if info, err := os.Stat(file); err != nil || info.Mode().Perm() != File {
			t.Errorf("umask %03o: %s: %v, %v; want %04o", mask, file, info.Mode(), err, File)
		}
		if checked != 3 {
			t.Fatalf("checked %d directories, want 3", checked)
		}

		loose, err := Check(root)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, l := range loose {
			paths = append(paths, l.Path)
		}
		if !slices.Equal(paths, []string{other}) {
			t.Fatalf("umask %03o: Check = %v, want only %s", mask, loose, other)
		}
		if err := ChmodFiles(nested); err != nil {
			t.Fatal(err)
		}
		if loose, err := Check(root); err != nil || len(loose) != 0 {
			t.Fatalf("umask %03o: after ChmodFiles: %v, %v", mask, loose, err)
		}
	}
}

func TestCheckReportsEachKind(t *testing.T) {
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]fs.FileMode{"a.db": 0o644, "b.db": 0o600, "c": 0o640, "d": 0o604} {
		if err := os.WriteFile(filepath.Join(root, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(root, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	loose, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]fs.FileMode{}
	for _, l := range loose {
		got[filepath.Base(l.Path)] = l.Mode
		if want := map[bool]fs.FileMode{true: Dir, false: File}[l.Path == root]; l.Want != want {
			t.Errorf("%s: Want %04o, want %04o", l.Path, l.Want, want)
		}
	}
	want := map[string]fs.FileMode{filepath.Base(root): 0o755, "a.db": 0o644, "c": 0o640, "d": 0o604}
	if len(got) != len(want) {
		t.Fatalf("Check found %v, want %v", got, want)
	}
	for name, mode := range want {
		if got[name] != mode {
			t.Errorf("%s: reported %04o, want %04o", name, got[name], mode)
		}
	}
	if _, err := Check(filepath.Join(root, "missing")); err == nil {
		t.Error("Check of a missing root: no error")
	}
}
