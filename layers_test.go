package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayers keeps the architecture's direction (README "Architecture"): handlers reach tenant
// data only through the desk, never SQLite; nothing under sql/ knows about HTTP; the registry
// knows databases, not the domain above it. Test files are free to reach across.
func TestLayers(t *testing.T) {
	const mod = "github.com/tenantdesk/tenantdesk/"
	rules := []struct {
		dir       string   // package directory (and those below it)
		forbidden []string // import path prefixes
	}{
		{"handlers", []string{mod + "sql/sqlite"}},
		{"sql", []string{mod + "handlers", "github.com/gofiber/"}},
		{"sql/tenantdb", []string{mod + "sql/desk"}},
		{"sql/catalog", []string{mod + "sql/desk", mod + "sql/tenantdb"}},
	}
	checked := 0
	for _, r := range rules {
		err := filepath.WalkDir(r.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			checked++
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range r.forbidden {
					if strings.HasPrefix(p, bad) {
						t.Errorf("%s imports %s", path, p)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d files checked", checked)
	}
}
