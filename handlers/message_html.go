package handlers

// A conversation page shows up to 200 messages and every poll and send answers some: the
// message markup is written here, in Go, instead of in a template. An html/template action
// costs a reflective call and an escaper call each; a message took ten of them (≈9 µs), a page
// of 50 messages spent 40 % of its CPU there. views/partials/messages.html calls this, so the
// page and the polled fragment still share one definition of a message.

import (
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// messagesHTML renders a list of messages, oldest first, times in loc (UTC when nil), their
// files served under pageURL (the conversation page). Each is a list item with
// id="msg-{id}" and data-sender (customer, agent, note or activity):
//
//	<li id="msg-7" class="msg" data-sender="agent">
//	  <p class="msg-body">…</p>
//	  <ul class="msg-files" aria-label="Attached files">
//	    <li><a data-attachment href="{pageURL}/files/3" download="photo.png"><img class="msg-image" src="…" alt="photo.png" loading="lazy"></a> <span class="file-meta">photo.png · 12 KB</span></li>
//	  </ul>
//	  <p class="msg-meta"><span class="msg-who">Ann Agent</span> · <time datetime="…" title="…" data-ago>3 min ago</time></p>
//	</li>
//
// A message of files alone has no body paragraph. Raster images show as images linking to
// themselves; every other file is a link. An activity line is one sentence and its time:
// what changed, by whom.
//
// x, for the team's pages (nil for others), adds what the email channel knows of a message:
// the emails it caused, each shown under it with where it went and whether it went, and the
// email it came from, linked to its original.
func messagesHTML(ms []desk.Message, loc *time.Location, pageURL string, x *MessageExtras) template.HTML {
	if loc == nil {
		loc = time.UTC
	}
	n := 0
	for i := range ms {
		n += len(ms[i].Body) + 300 + len(ms[i].Files)*(300+2*len(pageURL))
	}
	var b strings.Builder
	b.Grow(n)
	for i := range ms {
		writeMessage(&b, &ms[i], loc, pageURL, x)
	}
	return template.HTML(b.String()) //nolint:gosec // every variable part is escaped
}

// MessageExtras is what the email channel adds to the team's view of messages.
type MessageExtras struct {
	// Emails are the emails each message caused, by message id.
	Emails map[int64][]desk.OutboxItem
	// Received maps a message that came by email to that email's page.
	Received map[int64]string
}

func writeMessage(b *strings.Builder, m *desk.Message, loc *time.Location, pageURL string, x *MessageExtras) {
	b.WriteString(`<li id="msg-`)
	b.WriteString(strconv.FormatInt(m.ID, 10))
	switch m.Sender {
	case desk.SenderActivity:
		b.WriteString(`" class="msg msg-activity" data-sender="activity">` + "\n  <p class=\"msg-line\">")
		escapeHTML(b, activityText(m.Activity, loc))
		b.WriteString(" · ")
		writeTime(b, m.CreatedAt, loc)
		b.WriteString("</p>\n</li>\n")
		return
	case desk.SenderNote:
		b.WriteString(`" class="msg msg-note" data-sender="note">`)
	case desk.SenderAgent:
		b.WriteString(`" class="msg" data-sender="agent">`)
	default:
		b.WriteString(`" class="msg" data-sender="customer">`)
	}
	if m.Body != "" || len(m.Files) == 0 {
		b.WriteString("\n  <p class=\"msg-body\">")
		escapeHTML(b, m.Body)
		b.WriteString("</p>")
	}
	writeFiles(b, m.Files, pageURL)
	b.WriteString("\n  <p class=\"msg-meta\"><span class=\"msg-who\">")
	switch {
	case m.Sender == desk.SenderCustomer:
		b.WriteString("Customer")
	case m.AgentName != "":
		escapeHTML(b, m.AgentName)
	default:
		b.WriteString("Agent")
	}
	if m.Sender == desk.SenderNote {
		b.WriteString(`</span> · <span class="note-mark">internal note</span> · `)
	} else {
		b.WriteString(`</span> · `)
	}
	writeTime(b, m.CreatedAt, loc)
	if x != nil && x.Received[m.ID] != "" {
		b.WriteString(` · <a class="msg-original" href="`)
		escapeHTML(b, x.Received[m.ID])
		b.WriteString(`">by email: the original</a>`)
	}
	b.WriteString("</p>\n")
	if x != nil {
		for _, it := range x.Emails[m.ID] {
			writeEmail(b, it)
		}
	}
	b.WriteString("</li>\n")
}

// writeEmail writes the line that says where an email a message caused went:
//
//	<p class="msg-email" id="email-3" data-state="failed">Email to carla@example.net failed: …</p>
func writeEmail(b *strings.Builder, it desk.OutboxItem) {
	b.WriteString(`  <p class="msg-email" id="email-`)
	b.WriteString(strconv.FormatInt(it.ID, 10))
	b.WriteString(`" data-state="`)
	escapeHTML(b, it.State)
	b.WriteString(`">`)
	escapeHTML(b, emailLine(it))
	b.WriteString("</p>\n")
}

// emailLine words an email's state for the team.
func emailLine(it desk.OutboxItem) string {
	to := "Email to " + it.Target
	switch it.State {
	case desk.OutboxSent:
		return to + " sent."
	case desk.OutboxFailed:
		return to + " failed: " + it.LastError
	}
	if it.Attempts > 0 && it.LastError != "" {
		return to + " not sent yet (" + strconv.Itoa(it.Attempts) + " attempts; will retry): " + it.LastError
	}
	return to + " is being sent."
}

// writeFiles writes a message's files as a list of links a[data-attachment] to pageURL +
// "/files/{id}"; a raster image shows as a small image inside its link.
func writeFiles(b *strings.Builder, fs []desk.File, pageURL string) {
	if len(fs) == 0 {
		return
	}
	b.WriteString("\n  <ul class=\"msg-files\" aria-label=\"Attached files\">")
	for i := range fs {
		f := &fs[i]
		href := pageURL + "/files/" + strconv.FormatInt(f.ID, 10)
		b.WriteString("\n    <li><a data-attachment href=\"")
		escapeHTML(b, href)
		b.WriteString("\"")
		if !f.Inline() {
			b.WriteString(" download=\"")
			escapeHTML(b, f.Name)
			b.WriteString("\"")
		}
		b.WriteString(">")
		if f.Inline() {
			b.WriteString("<img class=\"msg-image\" src=\"")
			escapeHTML(b, href)
			b.WriteString("\" alt=\"")
			escapeHTML(b, f.Name)
			b.WriteString("\" loading=\"lazy\">")
		} else {
			escapeHTML(b, f.Name)
		}
		b.WriteString("</a> <span class=\"file-meta\">")
		if f.Inline() {
			escapeHTML(b, f.Name)
			b.WriteString(" · ")
		}
		b.WriteString(fileSize(f.Size))
		b.WriteString("</span></li>")
	}
	b.WriteString("\n  </ul>")
}

// fileSize words a file's size for people: "812 bytes", "12 KB", "3.4 MB".
func fileSize(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10) + " bytes"
	case n < 1000<<10:
		return strconv.FormatInt((n+512)>>10, 10) + " KB"
	default:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	}
}

// writeTime writes t as a <time> element: machine-readable, exact in loc on hover, and
// relative ("3 min ago") as text.
func writeTime(b *strings.Builder, t time.Time, loc *time.Location) {
	var buf [40]byte
	b.WriteString(`<time datetime="`)
	b.Write(t.UTC().AppendFormat(buf[:0], time.RFC3339))
	b.WriteString(`" title="`)
	escapeHTML(b, string(t.In(loc).AppendFormat(buf[:0], "2006-01-02 15:04 MST")))
	b.WriteString(`" data-ago>`)
	escapeHTML(b, ago(t))
	b.WriteString("</time>")
}

// activityText words an activity line for the team, times in loc.
func activityText(a *desk.Activity, loc *time.Location) string {
	if a == nil {
		return "The ticket changed."
	}
	by := a.By
	if by == "" {
		by = "tenantdesk"
	}
	switch a.Kind {
	case "assigned":
		switch {
		case a.To == "" && a.From != "":
			return by + " unassigned " + a.From + "; the ticket is back in the queue."
		case a.To == "":
			return by + " unassigned the ticket."
		case a.To == a.By:
			return by + " took the ticket."
		default:
			return by + " assigned the ticket to " + a.To + "."
		}
	case "status":
		switch {
		case a.ByCustomer:
			return "The customer wrote again; the ticket is open."
		case a.By == "" && a.From == desk.StatusSnoozed:
			return "The snooze ended; the ticket is open again."
		case a.To == desk.StatusSnoozed:
			return by + " snoozed the ticket until " + when(loc, time.Unix(a.Until, 0)) + "."
		case a.To == desk.StatusClosed:
			return by + " closed the ticket."
		case a.To == desk.StatusOpen && a.From == desk.StatusClosed:
			return by + " reopened the ticket."
		default:
			return by + " set the status to " + statusName(a.To) + "."
		}
	case "priority":
		return by + " set the priority to " + a.To + "."
	case "follow_up":
		return "The customer wrote again by email after ticket #" + a.From + " was closed: this ticket follows it up."
	case "access":
		return by + " renewed the customer's access: its old link and the links and reply address of earlier emails no longer work."
	case desk.ActivityBreach:
		if a.To == desk.BreachedResolution {
			return "The resolution target was breached."
		}
		return "The first-response target was breached."
	case "tags":
		var parts []string
		if len(a.Added) > 0 {
			parts = append(parts, "added the tags "+strings.Join(a.Added, ", "))
		}
		if len(a.Removed) > 0 {
			parts = append(parts, "removed the tags "+strings.Join(a.Removed, ", "))
		}
		if len(parts) == 0 {
			return by + " left the tags as they were."
		}
		return by + " " + strings.Join(parts, " and ") + "."
	}
	return by + " changed the ticket."
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
