package handlers_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var ticketRowRE = regexp.MustCompile(`<li class="ticket" id="ticket-(\d+)"`)

func ticketRows(body string) []string {
	var ids []string
	for _, m := range ticketRowRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestSearchPages: an agent's and the owner's search answer ticket rows with <mark> snippets
// (the text escaped), as a page without JavaScript and as the live fragment; notes are found
// by the team; filters narrow; a ticket number opens the ticket when submitted and heads the
// live results; query syntax never fails; a customer has no search.
func TestSearchPages(t *testing.T) {
	e := newEnv(t)
	acme := e.register("acme")
	ag := e.onboard(acme, "Sam Searcher")
	cust := e.openTicket("acme", "My <b>parcel</b> never arrived")
	talk := e.engage(ag)
	wantStatus(t, ag.browser.post(talk+"/notes", form("note", "courier blacklisted"), htmx), http.StatusOK)
	wantStatus(t, cust.browser.post(cust.page+"/messages", form("message", "Café order 77 still missing")), http.StatusSeeOther)
	other := e.openTicket("acme", "Password reset fails")
	_ = other

	base := "/agent/acme/search"
	r := ag.browser.get(base + "?q=parcel")
	wantStatus(t, r, http.StatusOK)
	if rows := ticketRows(r.body); len(rows) != 1 || rows[0] != "1" {
		t.Fatalf("rows for parcel: %v\n%.3000s", rows, r.body)
	}
	if !r.has("My &lt;b&gt;<mark>parcel</mark>&lt;/b&gt; never arrived") {
		t.Errorf("the snippet is not escaped and marked:\n%.3000s", r.body)
	}
	if !r.has(`id="search-form"`) || !r.has(`<html`) {
		t.Error("a plain request gets no whole page")
	}
	// Live: only the results, swapped into the page.
	r = ag.browser.get(base+"?q=cafe", htmx)
	wantStatus(t, r, http.StatusOK)
	if r.has("<html") || r.has(`id="search-form"`) || !r.has("<mark>Café</mark>") || len(ticketRows(r.body)) != 1 {
		t.Errorf("live results:\n%.2000s", r.body)
	}
	if r := ag.browser.get(base + "?q=blacklist"); len(ticketRows(r.body)) != 1 || !r.has("in an internal note") {
		t.Errorf("note search:\n%.2000s", r.body)
	}
	// Filters: status, assignee, priority, tag, dates (an invalid filter is dropped).
	for _, c := range []struct {
		query string
		rows  int
	}{
		{"q=parcel&status=closed", 0},
		{"q=parcel&status=open&assignee=1", 1},
		{"q=parcel&assignee=none", 0},
		{"q=password&assignee=none", 1},
		{"q=parcel&priority=urgent", 0},
		{"q=parcel&tag=nosuchtag", 0},
		{"q=parcel&from=2000-01-01&to=2999-12-31", 1},
		{"q=parcel&to=2000-01-01", 0},
		{"q=parcel&status=bogus&priority=x&from=yesterday", 1},
	} {
		r := ag.browser.get(base + "?" + c.query)
		wantStatus(t, r, http.StatusOK)
		if got := len(ticketRows(r.body)); got != c.rows {
			t.Errorf("%s: %d rows, want %d", c.query, got, c.rows)
		}
	}
	// FTS5 syntax and odd input are only text.
	for _, q := range []string{`"unclosed`, `parcel OR password`, `NEAR(a b)`, `body:x`, `*`, `'; DROP TABLE tickets; --`, "\x00", strings.Repeat("é", 400)} {
		r := ag.browser.get(base + "?q=" + url.QueryEscape(q))
		wantStatus(t, r, http.StatusOK)
		if q == `parcel OR password` && len(ticketRows(r.body)) != 0 {
			t.Errorf("%q found %d rows: OR is a word here", q, len(ticketRows(r.body)))
		}
	}
	// A ticket number: submitted, it opens the ticket; live, it heads the results.
	wantRedirect(t, ag.browser.get(base+"?q=%231"), talk)
	r = ag.browser.get(base+"?q=2", htmx)
	if rows := ticketRows(r.body); len(rows) != 1 || rows[0] != "2" || !r.has("ticket #2") {
		t.Errorf("live #2: %v\n%.2000s", rows, r.body)
	}
	// The owner searches too, and its rows link to its own pages.
	r = acme.browser.get("/dash/search?q=parcel")
	if rows := ticketRows(r.body); len(rows) != 1 || !r.has(`href="/conversation/1"`) {
		t.Errorf("owner search: %v\n%.2000s", rows, r.body)
	}
	wantRedirect(t, acme.browser.get("/dash/search?q=1"), "/conversation/1")
	// Without a query: the form and a hint, no rows.
	if r := ag.browser.get(base); r.status != http.StatusOK || !r.has(`id="search-hint"`) || len(ticketRows(r.body)) != 0 {
		t.Errorf("empty search: %d\n%.1000s", r.status, r.body)
	}
	// A customer has no search (its token opens one ticket, no session).
	if r := cust.browser.get(base + "?q=parcel"); r.status != http.StatusSeeOther || r.has("parcel") {
		t.Errorf("a customer's search: %d", r.status)
	}
}
