// Package chart draws small charts as SVG on the server, for pages that work without
// JavaScript: grouped bars (per day, or a distribution) and lines, each with a table of the
// same figures for screen readers and for reading exact values.
//
// The markup fits a strict Content-Security-Policy (style-src 'self', no scripts): no style
// attributes and no scripts, only SVG presentation attributes and classes. Shapes and text are
// drawn in currentColor, so a chart follows the page's text color in light and dark themes even
// without a stylesheet (series then differ in opacity); the app's stylesheet colors the
// series (the chart-s0 … chart-s7 classes) with its theme's custom properties. Every text the caller gives — titles, labels,
// series names — is escaped by html/template, with invalid UTF-8 and characters XML forbids
// replaced first, so the output is well-formed XML as well as safe HTML.
package chart

import (
	"bytes"
	"errors"
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on a chart's input.
const (
	MaxSeries     = 8    // series per chart; each has its class chart-s0 … chart-s7
	MaxCategories = 1000 // bars or points per series
	maxText       = 200  // bytes of a title, label or name kept (longer ones are cut)
)

// Errors of Bars, Lines and Table; all are mistakes of the calling code, not of its users.
var (
	ErrID       = errors.New("chart: ID must match [a-z][a-z0-9-]{0,39}")
	ErrSeries   = errors.New("chart: between 1 and MaxSeries series")
	ErrSize     = errors.New("chart: at most MaxCategories labels")
	ErrMismatch = errors.New("chart: a series has not one value per label")
)

// Chart is what to draw.
type Chart struct {
	// ID prefixes the ids of the chart's elements; unique on the page.
	ID string
	// Title names the chart (its accessible name and the table's caption); Desc, optional,
	// describes it.
	Title, Desc string
	// Category heads the table's first column, e.g. "Day" or "Rating".
	Category string
	// Labels name the categories along the x axis, in order.
	Labels []string
	// Series are the figures, each with one value per label.
	Series []Series
	// Format writes a value for the table, tooltips and the y axis; nil writes it as a number
	// with at most two decimals.
	Format func(float64) string
}

// Series is one set of figures.
type Series struct {
	Name   string
	Values []float64
}

// Geometry, in the SVG's user units; CSS scales the whole drawing to the page's width.
const (
	width        = 640
	height       = 260
	marginLeft   = 48
	marginRight  = 8
	marginTop    = 28 // the legend
	marginBottom = 28 // the x labels
	plotW        = width - marginLeft - marginRight
	plotH        = height - marginTop - marginBottom
	maxXLabels   = 12
)

// Bars draws the series as grouped bars, one group per label.
func Bars(c Chart) (template.HTML, error) { return draw(c, false) }

// Lines draws each series as a line through one point per label.
func Lines(c Chart) (template.HTML, error) { return draw(c, true) }

func draw(c Chart, lines bool) (template.HTML, error) {
	if err := check(c); err != nil {
		return "", err
	}
	format := formatter(c)
	n := len(c.Labels)
	top := 0.0
	for _, s := range c.Series {
		for _, v := range s.Values {
			top = math.Max(top, drawn(v))
		}
	}
	top, step := scale(top)
	y := func(v float64) float64 { return marginTop + plotH - math.Min(drawn(v), top)/top*plotH }
	d := svgData{ID: c.ID, Title: clean(c.Title), Desc: clean(c.Desc), Width: width, Height: height,
		Left: marginLeft, Right: width - marginRight, Bottom: num(marginTop + plotH)}
	for i := 0; i <= 5 && float64(i)*step <= top+step/2; i++ {
		v := float64(i) * step
		d.Ticks = append(d.Ticks, tick{Y: num(y(v)), TextY: num(y(v) + 4), Text: clean(format(v))})
	}
	slot := float64(plotW) / float64(max(n, 1))
	every := (n + maxXLabels - 1) / maxXLabels
	for i, l := range c.Labels {
		if i%max(every, 1) == 0 {
			d.XLabels = append(d.XLabels, xlabel{X: num(marginLeft + slot*(float64(i)+0.5)), Y: num(height - 8), Text: cut(clean(l))})
		}
	}
	legendX := float64(marginLeft)
	for si, s := range c.Series {
		name := clean(s.Name)
		d.Legend = append(d.Legend, legend{Class: seriesClass(si), Opacity: opacity(si), X: num(legendX), TextX: num(legendX + 14), Text: name})
		legendX += 24 + 7*float64(utf8.RuneCountInString(cut(name)))
		sd := series{Class: seriesClass(si), Opacity: opacity(si)}
		bar := slot * 0.8 / float64(len(c.Series))
		for i, v := range s.Values {
			tip := clean(c.Labels[i]) + " — " + name + ": " + clean(format(v))
			if lines {
				x := marginLeft + slot*(float64(i)+0.5)
				sd.Points = append(sd.Points, point{X: num(x), Y: num(y(v)), Tip: tip})
				continue
			}
			x := marginLeft + slot*(float64(i)+0.1) + bar*float64(si)
			sd.Bars = append(sd.Bars, rect{X: num(x), Y: num(y(v)), W: num(bar), H: num(marginTop + plotH - y(v)), Tip: tip})
		}
		if lines {
			pts := make([]string, len(sd.Points))
			for i, p := range sd.Points {
				pts[i] = p.X + "," + p.Y
			}
			sd.Polyline = strings.Join(pts, " ")
		}
		d.Series = append(d.Series, sd)
	}
	var b bytes.Buffer
	if err := svgTmpl.Execute(&b, d); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil
}

// Table writes the chart's figures as an HTML table: a caption (the title), a column per
// series, a row per label.
func Table(c Chart) (template.HTML, error) {
	if err := check(c); err != nil {
		return "", err
	}
	format := formatter(c)
	d := tableData{ID: c.ID, Caption: clean(c.Title), Category: clean(c.Category)}
	for _, s := range c.Series {
		d.Heads = append(d.Heads, clean(s.Name))
	}
	for i, l := range c.Labels {
		row := tableRow{Label: clean(l)}
		for _, s := range c.Series {
			row.Cells = append(row.Cells, clean(format(s.Values[i])))
		}
		d.Rows = append(d.Rows, row)
	}
	var b bytes.Buffer
	if err := tableTmpl.Execute(&b, d); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil
}

func check(c Chart) error {
	if !validID(c.ID) {
		return ErrID
	}
	if len(c.Series) == 0 || len(c.Series) > MaxSeries {
		return ErrSeries
	}
	if len(c.Labels) > MaxCategories {
		return ErrSize
	}
	for _, s := range c.Series {
		if len(s.Values) != len(c.Labels) {
			return ErrMismatch
		}
	}
	return nil
}

func validID(id string) bool {
	if id == "" || len(id) > 40 || id[0] < 'a' || id[0] > 'z' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-') {
			return false
		}
	}
	return true
}

func formatter(c Chart) func(float64) string {
	if c.Format != nil {
		return c.Format
	}
	return FormatNumber
}

// FormatNumber writes v with at most two decimals ("12", "4.5", "0.33"); a value that is
// not a number, or infinite, is written as empty.
func FormatNumber(v float64) string {
	if !finite(v) {
		return ""
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// maxDrawn is the largest value drawn to scale; larger ones reach the top of the chart (the
// table still shows them).
const maxDrawn = 1e15

// drawn is the height v is drawn at: negative values, and values that are not numbers, at
// zero.
func drawn(v float64) float64 {
	if !finite(v) || v < 0 {
		return 0
	}
	return math.Min(v, maxDrawn)
}

// scale returns a round top for the y axis at or above max (at least 1) and the step
// between its ticks (1, 2 or 5 times a power of ten, at most five steps).
func scale(top float64) (float64, float64) {
	if top <= 0 || !finite(top) {
		return 1, 1
	}
	step := math.Pow(10, math.Floor(math.Log10(top/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if top/(step*m) <= 5 {
			step *= m
			break
		}
	}
	if step < 1 && top >= 1 {
		step = 1
	}
	return math.Ceil(top/step-1e-9) * step, step
}

// num writes a coordinate with one decimal.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// clean makes s fit for XML text: valid UTF-8, without the control characters XML 1.0 does
// not allow even as references, and at most maxText bytes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return '\uFFFD'
		}
		return r
	}, s)
	if len(s) > maxText {
		i := maxText
		for !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i] + "…"
	}
	return s
}

// cut shortens an axis label to 16 characters; the table and the tooltip keep it whole.
func cut(s string) string {
	if utf8.RuneCountInString(s) <= 16 {
		return s
	}
	r := []rune(s)
	return string(r[:15]) + "…"
}

func seriesClass(i int) string { return "chart-s" + strconv.Itoa(i) }

// opacity tells the series apart when no stylesheet colors them.
func opacity(i int) string { return [...]string{"1", ".55", ".3", ".8", ".45", ".2", ".65", ".35"}[i] }

type svgData struct {
	ID, Title, Desc string
	Width, Height   int
	Left, Right     int
	Bottom          string
	Ticks           []tick
	XLabels         []xlabel
	Legend          []legend
	Series          []series
}

type tick struct{ Y, TextY, Text string }
type xlabel struct{ X, Y, Text string }
type legend struct{ Class, Opacity, X, TextX, Text string }
type series struct {
	Class, Opacity string
	Bars           []rect
	Points         []point
	Polyline       string
}
type rect struct{ X, Y, W, H, Tip string }
type point struct{ X, Y, Tip string }

type tableData struct {
	ID, Caption, Category string
	Heads                 []string
	Rows                  []tableRow
}
type tableRow struct {
	Label string
	Cells []string
}

var svgTmpl = template.Must(template.New("svg").Parse(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{{.ID}}" role="img" viewBox="0 0 {{.Width}} {{.Height}}" aria-labelledby="{{.ID}}-title"{{if .Desc}} aria-describedby="{{.ID}}-desc"{{end}} font-size="11" fill="currentColor">` +
	`<title id="{{.ID}}-title">{{.Title}}</title>` +
	`{{if .Desc}}<desc id="{{.ID}}-desc">{{.Desc}}</desc>{{end}}` +
	`<g class="chart-axis">` +
	`{{range .Ticks}}<line class="chart-grid" x1="{{$.Left}}" x2="{{$.Right}}" y1="{{.Y}}" y2="{{.Y}}" stroke="currentColor" stroke-opacity=".15"/>` +
	`<text x="{{$.Left}}" dx="-6" y="{{.TextY}}" text-anchor="end">{{.Text}}</text>{{end}}` +
	`<line class="chart-baseline" x1="{{.Left}}" x2="{{.Right}}" y1="{{.Bottom}}" y2="{{.Bottom}}" stroke="currentColor"/>` +
	`{{range .XLabels}}<text x="{{.X}}" y="{{.Y}}" text-anchor="middle">{{.Text}}</text>{{end}}` +
	`</g>` +
	`<g class="chart-legend">{{range .Legend}}<rect class="{{.Class}}" x="{{.X}}" y="6" width="10" height="10" fill="currentColor" fill-opacity="{{.Opacity}}"/>` +
	`<text x="{{.TextX}}" y="15">{{.Text}}</text>{{end}}</g>` +
	`{{range .Series}}<g class="chart-series {{.Class}}" fill="currentColor" fill-opacity="{{.Opacity}}" stroke="currentColor" stroke-opacity="{{.Opacity}}">` +
	`{{range .Bars}}<rect class="chart-bar" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" stroke="none"><title>{{.Tip}}</title></rect>{{end}}` +
	`{{if .Polyline}}<polyline class="chart-line" points="{{.Polyline}}" fill="none" stroke-width="2"/>{{end}}` +
	`{{range .Points}}<circle class="chart-point" cx="{{.X}}" cy="{{.Y}}" r="3" stroke="none"><title>{{.Tip}}</title></circle>{{end}}` +
	`</g>{{end}}` +
	`</svg>`))

var tableTmpl = template.Must(template.New("table").Parse(`<table class="chart-table" id="{{.ID}}-table">` +
	`<caption>{{.Caption}}</caption>` +
	`<thead><tr><th scope="col">{{.Category}}</th>{{range .Heads}}<th scope="col">{{.}}</th>{{end}}</tr></thead>` +
	`<tbody>{{range .Rows}}<tr><th scope="row">{{.Label}}</th>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>{{end}}</tbody>` +
	`</table>`))
