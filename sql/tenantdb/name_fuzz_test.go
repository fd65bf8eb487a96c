package tenantdb

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzValidateName: a database name that passes is one DNS label of lower-case letters,
// digits and dashes, so as a file name under Local.Dir it stays in that directory and as a
// URL part ({name}.host) it is one label; nothing SQLite or a URL would read specially
// (":memory:", "file:", "?mode=", "..", "/", "%2f") gets through (ASVS 5.3.2).
// The committed corpus is under testdata/fuzz/FuzzValidateName.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"tenantdesk-acme", "a", "-a", "a-", strings.Repeat("a", 63), strings.Repeat("a", 64),
		"../x", "..%2fx", "/etc/x", "a/b", `a\b`, ":memory:", "file::memory:", "x?mode=ro", "CON", "acme.db", "аcme", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		// Valid ⇒ accepted: one DNS label of lower-case letters, digits and dashes, not
		// starting with a dash.
		valid := len(name) >= 1 && len(name) <= 63 && name[0] != '-' &&
			strings.IndexFunc(name, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) < 0
		if accepted := ValidateName(name) == nil; accepted != valid {
			t.Fatalf("ValidateName(%q) accepted %v, but the rule says %v", name, accepted, valid)
		}
		if !valid {
			return
		}
		if len(name) == 0 || len(name) > 63 || name[0] == '-' {
			t.Fatalf("accepted %q", name)
		}
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				t.Fatalf("accepted %q with %q", name, r)
			}
		}
		dir := filepath.Join("/srv", "data")
		p, err := Local{Dir: dir}.path(name)
		if err != nil || filepath.Dir(p) != dir || filepath.Base(p) != name+".db" {
			t.Fatalf("accepted %q, whose file is %q (%v)", name, p, err)
		}
	})
}
