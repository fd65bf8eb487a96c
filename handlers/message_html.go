package handlers

// A conversation page shows up to 200 messages and every poll and send answers some: the
// message markup is written here, in Go, instead of in a template. An html/template action
// costs a reflective call and an escaper call each; a message took ten of them (≈9 µs), a page
// of 50 messages spent 40 % of its CPU there. views/partials/message.html calls this, so the
// page and the polled fragment still share one definition of a message.

import (
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// messageHTML renders one message as the list item pages and polls show: id="msg-{id}",
// data-sender, the text, who sent it and when.
//
//	<li id="msg-7" class="msg" data-sender="agent">
//	  <p class="msg-body">…</p>
//	  <p class="msg-meta"><span class="msg-who">Agent</span> · <time datetime="…" title="…" data-ago>3 min ago</time></p>
//	</li>
func messageHTML(m desk.Message) template.HTML {
	var b strings.Builder
	writeMessage(&b, m)
	return template.HTML(b.String()) //nolint:gosec // every variable part is escaped
}

// messagesHTML renders a list of messages, oldest first.
func messagesHTML(ms []desk.Message) template.HTML {
	n := 0
	for i := range ms {
		n += len(ms[i].Body) + 300
	}
	var b strings.Builder
	b.Grow(n)
	for i := range ms {
		writeMessage(&b, ms[i])
	}
	return template.HTML(b.String()) //nolint:gosec // every variable part is escaped
}

func writeMessage(b *strings.Builder, m desk.Message) {
	b.Grow(len(m.Body) + 300)
	b.WriteString(`<li id="msg-`)
	b.WriteString(strconv.FormatInt(m.ID, 10))
	b.WriteString(`" class="msg" data-sender="`)
	escapeHTML(b, m.Sender)
	b.WriteString("\">\n  <p class=\"msg-body\">")
	escapeHTML(b, m.Body)
	b.WriteString("</p>\n  <p class=\"msg-meta\"><span class=\"msg-who\">")
	if m.Sender == desk.SenderAgent {
		b.WriteString("Agent")
	} else {
		b.WriteString("Customer")
	}
	b.WriteString(`</span> · <time datetime="`)
	t := m.CreatedAt.UTC()
	var buf [32]byte
	b.Write(t.AppendFormat(buf[:0], time.RFC3339))
	b.WriteString(`" title="`)
	b.Write(t.AppendFormat(buf[:0], "2006-01-02 15:04 UTC"))
	b.WriteString(`" data-ago>`)
	escapeHTML(b, ago(m.CreatedAt))
	b.WriteString("</time></p>\n</li>\n")
}

// escapeHTML writes s escaped for HTML text and quoted attribute values, as html/template
// does: & < > " ' and + become entities, NUL the replacement character.
func escapeHTML(b *strings.Builder, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '+':
			esc = "&#43;"
		case 0:
			esc = "\uFFFD"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}
