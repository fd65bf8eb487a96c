package chart

// `go test` runs each fuzz target on its seeds (f.Add and testdata/fuzz/<Target>/);
// `go test -fuzz=FuzzRender -fuzztime=30s ./handlers/chart` explores further.

import (
	"html/template"
	"math"
	"strconv"
	"strings"
	"testing"
)

// FuzzRender: for any texts and values, Bars, Lines and Table either refuse the input with an
// error or return well-formed XML whose texts read back as given (less what XML cannot
// carry), with one bar or point per value and no element or attribute from the input.
func FuzzRender(f *testing.F) {
	for _, h := range hostile {
		f.Add(h, h, "Opened", 4.0, 1.5, uint8(3), uint8(2), "c")
	}
	f.Add("", "", "", math.NaN(), math.Inf(1), uint8(0), uint8(1), "c")
	f.Add("t", "Mar 1", "s", -3.0, 1e300, uint8(90), uint8(2), "per-day")
	f.Add("t", "l", "s", 0.1, 0.2, uint8(255), uint8(9), "bad id")
	f.Fuzz(func(t *testing.T, title, label, name string, a, b float64, n, series uint8, id string) {
		c := Chart{ID: id, Title: title, Desc: title, Category: name}
		for i := range int(n) {
			c.Labels = append(c.Labels, label+strconv.Itoa(i))
		}
		for s := range int(series) {
			sv := Series{Name: name + strconv.Itoa(s)}
			for i := range int(n) {
				sv.Values = append(sv.Values, a*float64(i)+b*float64(s))
			}
			c.Series = append(c.Series, sv)
		}
		for kind, draw := range map[string]func(Chart) (template.HTML, error){"bars": Bars, "lines": Lines, "table": Table} {
			out, err := draw(c)
			valid := validID(id) && series >= 1 && series <= MaxSeries
			if err != nil {
				if valid {
					t.Fatalf("%s refused a valid chart: %v", kind, err)
				}
				continue
			}
			if !valid {
				t.Fatalf("%s drew an invalid chart (id %q, %d series)", kind, id, series)
			}
			root, perr := parseXML(string(out))
			if perr != nil {
				t.Fatalf("%s: not well-formed: %v\n%s", kind, perr, out)
			}
			for _, e := range root.all(func(*node) bool { return true }) {
				for attr := range e.Attr {
					if strings.HasPrefix(attr, "on") || attr == "style" || attr == "href" {
						t.Fatalf("%s: attribute %s", kind, attr)
					}
				}
			}
			switch kind {
			case "table":
				if got := root.Children[0].Text; got != clean(title) {
					t.Fatalf("caption %q, want %q", got, clean(title))
				}
				if rows := root.all(named("tr")); len(rows) != int(n)+1 {
					t.Fatalf("%d rows for %d labels", len(rows), n)
				}
			case "bars":
				if got := root.all(named("title"))[0].Text; got != clean(title) {
					t.Fatalf("title %q, want %q", got, clean(title))
				}
				if bars := root.all(classed("chart-bar")); len(bars) != int(n)*int(series) {
					t.Fatalf("%d bars for %d×%d values", len(bars), n, series)
				}
				for _, r := range root.all(named("rect")) {
					for _, k := range []string{"x", "y", "width", "height"} {
						if v, err := strconv.ParseFloat(r.Attr[k], 64); err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
							t.Fatalf("rect %s=%q", k, r.Attr[k])
						}
					}
				}
			case "lines":
				if pts := root.all(named("circle")); len(pts) != int(n)*int(series) {
					t.Fatalf("%d points for %d×%d values", len(pts), n, series)
				}
			}
		}
	})
}
