package handlers

import (
	"io"

	"github.com/gofiber/template/html/v2"
)

// escapeAll makes html/template escape every template once, at start-up. html/template
// escapes a template lazily, on its first execution, writing to the template it shares; the
// engine copies that template before it takes its lock, so two first renders of one template
// at once race (the race detector caught an error partial rendered by concurrent polls).
// Executing each template once here, with no data, escapes them all before any request; the
// execution errors that no data causes are expected and ignored.
func escapeAll(engine *html.Engine) {
	for _, t := range engine.Templates.Templates() {
		_ = t.Execute(io.Discard, nil)
	}
}
