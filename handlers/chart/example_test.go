package chart_test

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"github.com/tenantdesk/tenantdesk/handlers/chart"
)

// A CSAT distribution: one series, a bar per score, and the table that carries the same
// figures; a page puts both in its template as they are.
func ExampleBars() {
	counts := [5]int{1, 0, 3, 9, 14}
	c := chart.Chart{ID: "csat", Title: "Ratings", Category: "Score", Series: []chart.Series{{Name: "Tickets"}}}
	for score, n := range counts {
		c.Labels = append(c.Labels, strconv.Itoa(score+1))
		c.Series[0].Values = append(c.Series[0].Values, float64(n))
	}
	svg, err := chart.Bars(c)
	if err != nil {
		panic(err)
	}
	table, err := chart.Table(c)
	if err != nil {
		panic(err)
	}
	page := template.Must(template.New("").Parse(`<figure>{{.SVG}}<figcaption>{{.Table}}</figcaption></figure>`))
	var b strings.Builder
	if err := page.Execute(&b, struct{ SVG, Table template.HTML }{svg, table}); err != nil {
		panic(err)
	}
	fmt.Println(strings.Count(b.String(), `class="chart-bar"`), strings.Contains(b.String(), `<th scope="row">4</th><td>9</td>`))
	// Output: 5 true
}
