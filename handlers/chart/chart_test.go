package chart

import (
	"encoding/xml"
	"html/template"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// node is a parsed element: its name, attributes, text and children.
type node struct {
	Name     string
	Attr     map[string]string
	Text     string
	Children []*node
}

// parse reads s as XML, strictly (a fragment of one root element), or fails the test.
func parse(t testing.TB, s string) *node {
	t.Helper()
	n, err := parseXML(s)
	if err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, s)
	}
	return n
}

func parseXML(s string) (*node, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	var stack []*node
	var root *node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{Name: tok.Name.Local, Attr: map[string]string{}}
			for _, a := range tok.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			} else if root != nil {
				return nil, io.ErrUnexpectedEOF // two roots
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(tok)
			}
		}
	}
	if root == nil {
		return nil, io.ErrUnexpectedEOF
	}
	return root, nil
}

// all returns every element of the tree (n first) for which keep holds.
func (n *node) all(keep func(*node) bool) []*node {
	var out []*node
	if keep(n) {
		out = append(out, n)
	}
	for _, c := range n.Children {
		out = append(out, c.all(keep)...)
	}
	return out
}

func named(name string) func(*node) bool { return func(n *node) bool { return n.Name == name } }

func classed(class string) func(*node) bool {
	return func(n *node) bool { return slices.Contains(strings.Fields(n.Attr["class"]), class) }
}

func perDay() Chart {
	return Chart{ID: "per-day", Title: "Tickets per day", Desc: "Opened and closed", Category: "Day",
		Labels: []string{"Mar 1", "Mar 2", "Mar 3"},
		Series: []Series{{Name: "Opened", Values: []float64{4, 0, 7}}, {Name: "Closed", Values: []float64{2, 5, 1}}}}
}

// TestBars: one bar per label and series, each as high as its value on a round scale, with a
// tooltip; the accessible name is the title; a legend names the series.
func TestBars(t *testing.T) {
	out, err := Bars(perDay())
	if err != nil {
		t.Fatal(err)
	}
	svg := parse(t, string(out))
	if svg.Name != "svg" || svg.Attr["role"] != "img" || svg.Attr["aria-labelledby"] != "per-day-title" ||
		svg.Attr["aria-describedby"] != "per-day-desc" || svg.Attr["id"] != "per-day" {
		t.Fatalf("root %s %v", svg.Name, svg.Attr)
	}
	if title := svg.Children[0]; title.Name != "title" || title.Attr["id"] != "per-day-title" || title.Text != "Tickets per day" {
		t.Errorf("first child %s %v %q, want the title", title.Name, title.Attr, title.Text)
	}
	if desc := svg.all(named("desc")); len(desc) != 1 || desc[0].Text != "Opened and closed" {
		t.Errorf("desc %v", desc)
	}
	groups := svg.all(classed("chart-series"))
	if len(groups) != 2 || !slices.Contains(strings.Fields(groups[1].Attr["class"]), "chart-s1") {
		t.Fatalf("series groups %v", groups)
	}
	// The scale tops out at 8 (ticks 0, 2, 4, 6, 8), so 4 is half the plot's height.
	var ticks []string
	for _, tx := range svg.all(classed("chart-axis"))[0].all(named("text")) {
		if tx.Attr["text-anchor"] == "end" {
			ticks = append(ticks, tx.Text)
		}
	}
	if want := []string{"0", "2", "4", "6", "8"}; !slices.Equal(ticks, want) {
		t.Errorf("y ticks %v, want %v", ticks, want)
	}
	bars := groups[0].all(classed("chart-bar"))
	if len(bars) != 3 {
		t.Fatalf("%d bars in the first series, want 3", len(bars))
	}
	if h := bars[0].Attr["height"]; h != num(plotH/2.0) {
		t.Errorf("the bar of 4 is %s high, want %s", h, num(plotH/2.0))
	}
	if h := bars[1].Attr["height"]; h != "0" {
		t.Errorf("the bar of 0 is %s high", h)
	}
	if tip := bars[2].all(named("title")); len(tip) != 1 || tip[0].Text != "Mar 3 — Opened: 7" {
		t.Errorf("tooltip %v", tip)
	}
	var legend []string
	for _, tx := range svg.all(classed("chart-legend"))[0].all(named("text")) {
		legend = append(legend, tx.Text)
	}
	if !slices.Equal(legend, []string{"Opened", "Closed"}) {
		t.Errorf("legend %v", legend)
	}
}

// TestLines: one polyline per series through one point per label.
func TestLines(t *testing.T) {
	out, err := Lines(perDay())
	if err != nil {
		t.Fatal(err)
	}
	svg := parse(t, string(out))
	lines := svg.all(named("polyline"))
	if len(lines) != 2 || len(strings.Fields(lines[0].Attr["points"])) != 3 {
		t.Fatalf("polylines %v", lines)
	}
	if pts := svg.all(named("circle")); len(pts) != 6 {
		t.Errorf("%d points, want 6", len(pts))
	}
	if bars := svg.all(classed("chart-bar")); len(bars) != 0 {
		t.Errorf("a line chart with %d bars", len(bars))
	}
}

// TestTable: the same figures as a table, a column per series and a row per label.
func TestTable(t *testing.T) {
	c := perDay()
	c.Format = func(v float64) string { return FormatNumber(v) + " tickets" }
	out, err := Table(c)
	if err != nil {
		t.Fatal(err)
	}
	tbl := parse(t, string(out))
	if tbl.Name != "table" || tbl.Attr["id"] != "per-day-table" || tbl.Children[0].Name != "caption" || tbl.Children[0].Text != "Tickets per day" {
		t.Fatalf("table %v, first child %v", tbl.Attr, tbl.Children[0])
	}
	var cells [][]string
	for _, tr := range tbl.all(named("tr")) {
		var row []string
		for _, c := range tr.Children {
			row = append(row, c.Name+":"+c.Text)
		}
		cells = append(cells, row)
	}
	want := [][]string{
		{"th:Day", "th:Opened", "th:Closed"},
		{"th:Mar 1", "td:4 tickets", "td:2 tickets"},
		{"th:Mar 2", "td:0 tickets", "td:5 tickets"},
		{"th:Mar 3", "td:7 tickets", "td:1 tickets"},
	}
	if !slices.EqualFunc(cells, want, slices.Equal) {
		t.Errorf("table\n got %v\nwant %v", cells, want)
	}
	for _, th := range tbl.all(named("th")) {
		if th.Attr["scope"] != "col" && th.Attr["scope"] != "row" {
			t.Errorf("th %q without scope", th.Text)
		}
	}
}

var hostile = []string{
	`<script>alert(1)</script>`, `x" onload="alert(1)`, `]]><![CDATA[`, `&amp;`, "a\x00b\x01c\x1b", "\xff\xfe",
	`{{.}}`, `<img src=x onerror=alert(1)>`, "\uFFFE", `' style='fill:red`, strings.Repeat("é", 300),
}

// TestEscaping: whatever the labels hold, they come out as text: no element, attribute or
// script of theirs, and the parsed text is what was given (less what XML cannot carry).
func TestEscaping(t *testing.T) {
	for _, h := range hostile {
		c := Chart{ID: "c", Title: h, Desc: h, Category: h, Labels: []string{h, h}, Series: []Series{{Name: h, Values: []float64{1, 2}}}}
		for name, draw := range map[string]func(Chart) (template.HTML, error){"bars": Bars, "lines": Lines, "table": Table} {
			out, err := draw(c)
			if err != nil {
				t.Fatal(err)
			}
			root := parse(t, string(out))
			for _, n := range root.all(func(*node) bool { return true }) {
				if !slices.Contains([]string{"svg", "title", "desc", "g", "line", "text", "rect", "polyline", "circle",
					"table", "caption", "thead", "tbody", "tr", "th", "td"}, n.Name) {
					t.Errorf("%s of %q: element <%s>", name, h, n.Name)
				}
				for a := range n.Attr {
					if strings.HasPrefix(a, "on") || a == "style" || a == "src" || a == "href" {
						t.Errorf("%s of %q: attribute %s", name, h, a)
					}
				}
			}
			var texts []string
			if name == "table" {
				texts = []string{root.Children[0].Text}
			} else {
				texts = []string{root.all(named("title"))[0].Text, root.all(named("desc"))[0].Text}
			}
			for _, got := range texts {
				if got != clean(h) {
					t.Errorf("%s of %q: text %q, want %q", name, h, got, clean(h))
				}
			}
		}
	}
}

var colorRE = regexp.MustCompile(`#[0-9a-fA-F]{3,8}\b|rgba?\(|hsla?\(`)

// TestThemeAndCSP: the drawing has no color of its own (currentColor or none, and classes the
// stylesheet colors), no style attribute or element and no script; every class it uses is
// styled by the app's stylesheet, whose chart rules use the theme's custom properties only and
// style no chart class the renderer does not use.
func TestThemeAndCSP(t *testing.T) {
	used := map[string]bool{}
	for _, draw := range []func(Chart) (template.HTML, error){Bars, Lines, Table} {
		c := perDay()
		for i := len(c.Series); i < MaxSeries; i++ {
			c.Series = append(c.Series, Series{Name: "s", Values: []float64{1, 2, 3}})
		}
		out, err := draw(c)
		if err != nil {
			t.Fatal(err)
		}
		s := string(out)
		if colorRE.MatchString(s) || strings.Contains(s, "style") || strings.Contains(s, "<script") {
			t.Errorf("hard-coded color, style or script in\n%s", s)
		}
		for _, n := range parse(t, s).all(func(*node) bool { return true }) {
			for _, a := range []string{"fill", "stroke", "color"} {
				if v, ok := n.Attr[a]; ok && v != "currentColor" && v != "none" {
					t.Errorf("<%s %s=%q>", n.Name, a, v)
				}
			}
			for _, class := range strings.Fields(n.Attr["class"]) {
				used[class] = true
			}
		}
	}
	sheet, err := os.ReadFile("../../assets/app.css")
	if err != nil {
		t.Fatal(err)
	}
	var rules []string // the stylesheet's rules of chart classes, one per line
	for _, line := range strings.Split(string(sheet), "\n") {
		if strings.HasPrefix(line, ".chart") {
			rules = append(rules, line)
		}
	}
	css := strings.Join(rules, "\n")
	if len(rules) < MaxSeries {
		t.Fatalf("the stylesheet has %d chart rules", len(rules))
	}
	if colorRE.MatchString(css) {
		t.Error("a chart rule has a color of its own; use the theme's custom properties")
	}
	styled := map[string]bool{}
	for _, m := range regexp.MustCompile(`\.(chart[a-z0-9-]*)`).FindAllStringSubmatch(css, -1) {
		styled[m[1]] = true
	}
	for class := range used {
		if !styled[class] && class != "chart-series" && class != "chart-bar" && class != "chart-point" && class != "chart-legend" {
			t.Errorf("class %s is not styled", class)
		}
	}
	for class := range styled {
		if !used[class] && class != "chart-wrap" { // chart-wrap is the page's box around a chart
			t.Errorf("the stylesheet styles %s, which no chart uses", class)
		}
	}
}

// TestInTemplate: the output goes into a page through html/template unchanged (it is
// template.HTML), and the page stays well-formed.
func TestInTemplate(t *testing.T) {
	svg, err := Bars(perDay())
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := Table(perDay())
	if err != nil {
		t.Fatal(err)
	}
	page := template.Must(template.New("p").Parse(`<section>{{.SVG}}{{.Table}}</section>`))
	var b strings.Builder
	if err := page.Execute(&b, struct{ SVG, Table template.HTML }{svg, tbl}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "<section>"+string(svg)+string(tbl)+"</section>" {
		t.Error("html/template changed the chart")
	}
	parse(t, b.String())
}

// TestErrors: wrong shapes of input are refused, not drawn.
func TestErrors(t *testing.T) {
	ok := perDay()
	for _, tc := range []struct {
		name string
		edit func(*Chart)
		want error
	}{
		{"empty id", func(c *Chart) { c.ID = "" }, ErrID},
		{"id with a quote", func(c *Chart) { c.ID = `a"b` }, ErrID},
		{"id starting with a digit", func(c *Chart) { c.ID = "1a" }, ErrID},
		{"no series", func(c *Chart) { c.Series = nil }, ErrSeries},
		{"too many series", func(c *Chart) { c.Series = make([]Series, MaxSeries+1) }, ErrSeries},
		{"too many labels", func(c *Chart) { c.Labels = make([]string, MaxCategories+1) }, ErrSize},
		{"a value short", func(c *Chart) { c.Series[1].Values = c.Series[1].Values[:2] }, ErrMismatch},
	} {
		c := ok
		c.Series = slices.Clone(ok.Series)
		tc.edit(&c)
		for _, draw := range []func(Chart) (template.HTML, error){Bars, Lines, Table} {
			if out, err := draw(c); err != tc.want || out != "" {
				t.Errorf("%s: %q, %v; want %v", tc.name, out, err, tc.want)
			}
		}
	}
}

// TestScale: round tops and steps.
func TestScale(t *testing.T) {
	for _, tc := range []struct{ max, top, step float64 }{
		{0, 1, 1}, {1, 1, 1}, {3, 3, 1}, {7, 8, 2}, {10, 10, 2}, {11, 15, 5}, {26, 30, 10}, {99, 100, 20},
		{0.5, 0.5, 0.1}, {1234, 1500, 500}, {math.NaN(), 1, 1}, {math.Inf(1), 1, 1},
	} {
		top, step := scale(tc.max)
		if math.Abs(top-tc.top) > 1e-9 || math.Abs(step-tc.step) > 1e-9 {
			t.Errorf("scale(%v) = %v, %v; want %v, %v", tc.max, top, step, tc.top, tc.step)
		}
	}
}
