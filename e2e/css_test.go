package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/handlers/chart"
)

// The stylesheet is hand-written, so nothing prunes it or checks it against the markup the
// way a CSS build tool would. These checks do: every class the views use is styled (or is a
// hook app.js uses), and every class the stylesheet styles is used somewhere.

var (
	classAttrRE  = regexp.MustCompile(`class="([^"]*)"`)
	tmplActionRE = regexp.MustCompile(`\{\{[^}]*\}\}`)
	cssCommentRE = regexp.MustCompile(`(?s)/\*.*?\*/`)
	cssBlockRE   = regexp.MustCompile(`(?s)\{[^{}]*\}`)
	cssClassRE   = regexp.MustCompile(`\.([a-zA-Z][a-zA-Z0-9_-]*)`)
	jsClassRE    = regexp.MustCompile(`(?:classList\.(?:add|remove|contains|toggle)\(|querySelector(?:All)?\(|closest\(|matches\()'([^']*)'`)
)

// builtClasses fill in class names built from a value, like badge-{{.Status}}: by prefix, the
// values it takes (a ticket's statuses, its priorities).
var builtClasses = map[string][]string{
	"badge-":    {"open", "pending", "snoozed", "closed"},
	"priority-": {"low", "normal", "high", "urgent"},
}

// htmxClasses are set by htmx itself.
var htmxClasses = map[string]bool{"htmx-request": true, "htmx-added": true, "htmx-settling": true, "htmx-swapping": true, "htmx-indicator": true}

func viewClasses(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	err := filepath.WalkDir("../views", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".html") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range classAttrRE.FindAllStringSubmatch(string(b), -1) {
			for _, tok := range strings.Fields(expandActions(m[1])) {
				if prefix, ok := strings.CutSuffix(tok, "\x00"); ok { // badge-{{.Status}}
					values, known := builtClasses[prefix]
					if !known {
						t.Errorf("%s: class %q is built from a value this test does not know", path, prefix+"…")
					}
					for _, v := range values {
						used[prefix+v] = append(used[prefix+v], path)
					}
					continue
				}
				used[tok] = append(used[tok], path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Markup written in Go (handlers/message_html.go writes the chat messages; handlers/chart
	// draws charts from templates of its own, whose series classes are chart-s0, chart-s1, …).
	goFiles, _ := filepath.Glob("../handlers/*.go")
	chartFiles, _ := filepath.Glob("../handlers/chart/*.go")
	series := make([]string, chart.MaxSeries)
	for i := range series {
		series[i] = "chart-s" + strconv.Itoa(i)
	}
	for _, path := range append(goFiles, chartFiles...) {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		src := strings.ReplaceAll(string(b), `\"`, `"`)
		for _, m := range classAttrRE.FindAllStringSubmatch(src, -1) {
			attr := m[1]
			if strings.Contains(path, "/chart/") {
				attr = strings.ReplaceAll(attr, "{{.Class}}", strings.Join(series, " "))
			}
			for _, tok := range strings.Fields(attr) {
				if strings.Contains(tok, "{{") {
					t.Errorf("%s: class %q is built from a value this test does not know", path, tok)
					continue
				}
				used[tok] = append(used[tok], path)
			}
		}
	}
	if len(used["chart-bar"]) == 0 || len(used["chart-s7"]) == 0 {
		t.Error("the charts' classes were not found in handlers/chart")
	}
	return used
}

// expandActions turns template actions inside a class attribute into separators, except an
// action glued to a prefix ("badge-{{.Status}}"), which becomes a marker expanded later.
func expandActions(attr string) string {
	return tmplActionRE.ReplaceAllStringFunc(attr, func(a string) string {
		if strings.HasPrefix(a, "{{.") {
			return "\x00"
		}
		return " "
	})
}

func cssClasses(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../assets/app.css")
	if err != nil {
		t.Fatal(err)
	}
	css := cssCommentRE.ReplaceAllString(string(b), "")
	// Drop declaration blocks (innermost first) so that only selectors remain.
	for {
		next := cssBlockRE.ReplaceAllString(css, ";")
		if next == css {
			break
		}
		css = next
	}
	out := map[string]bool{}
	for _, m := range cssClassRE.FindAllStringSubmatch(css, -1) {
		out[m[1]] = true
	}
	return out
}

func jsClasses(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range jsClassRE.FindAllStringSubmatch(string(b), -1) {
		for _, c := range cssClassRE.FindAllStringSubmatch(m[1], -1) {
			out[c[1]] = true
		}
		if !strings.ContainsAny(m[1], ".#[ ") { // classList.add('is-busy')
			out[m[1]] = true
		}
	}
	return out
}

func TestEveryClassInTheViewsIsStyled(t *testing.T) {
	css, js := cssClasses(t), jsClasses(t)
	var missing []string
	for class, files := range viewClasses(t) {
		if !css[class] && !js[class] {
			missing = append(missing, class+" (in "+files[0]+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("classes used in views/ but neither styled in assets/app.css nor used by app.js:\n  %s", strings.Join(missing, "\n  "))
	}
}

func TestEveryStyledClassIsUsed(t *testing.T) {
	views, js := viewClasses(t), jsClasses(t)
	var unused []string
	for class := range cssClasses(t) {
		if _, ok := views[class]; !ok && !js[class] && !htmxClasses[class] {
			unused = append(unused, class)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("classes styled in assets/app.css that no view or script uses (dead CSS):\n  %s", strings.Join(unused, "\n  "))
	}
}
