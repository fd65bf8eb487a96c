package handlers_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/handlers"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// slaForm is a complete, valid service-level form: business hours Monday to Friday, a
// holiday, targets for normal tickets.
func slaForm(kv ...string) url.Values {
	f := form("hours_mode", "business", "hours.monday", "09:00-17:00", "hours.tuesday", "09:00-17:00",
		"hours.wednesday", "09:00-17:00", "hours.thursday", "09:00-17:00", "hours.friday", "09:00-12:00, 13:00-17:00",
		"hours.saturday", "", "hours.sunday", "", "holidays", "2026-12-25\r\n2026-12-31..2027-01-02",
		"first_response.normal", "1h", "resolution.normal", "8h", "first_response.urgent", "15 min", "resolution.urgent", "2:30")
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

func TestSLASettings(t *testing.T) {
	e := newEnv(t)
	o := e.register("acme")
	other := e.register("other")
	ann := e.onboard(o, "Ann Agent")
	r := o.browser.get("/dash/settings")
	wantStatus(t, r, http.StatusOK)
	if !r.has(`id="sla-form"`) || !r.has(`name="hours.monday" value="09:00-17:00"`) || !r.has(`value="always" checked`) {
		t.Fatalf("the settings page lacks the service-level form as it starts:\n%.4000s", r.body)
	}

	// Refused, each with its reason beside its field, nothing saved, the input kept.
	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
		words string
	}{
		{"no mode", slaForm("hours_mode", ""), "hours_mode", "Choose business hours or round the clock."},
		{"hours without a colon", slaForm("hours.monday", "9-17"), "hours.monday", "Write the hours like 09:00-17:00"},
		{"crossing midnight", slaForm("hours.friday", "22:00-06:00"), "hours.friday", "An interval cannot cross midnight"},
		{"overlapping", slaForm("hours.tuesday", "09:00-12:00, 11:00-17:00"), "hours.tuesday", "List the intervals of a day in order"},
		{"an empty week", slaForm("hours.monday", "", "hours.tuesday", "", "hours.wednesday", "", "hours.thursday", "", "hours.friday", ""),
			"hours", "Give at least one day hours, or choose round the clock."},
		{"no such date", slaForm("holidays", "2026-02-30"), "holidays", "Dates must exist"},
		{"a date twice", slaForm("holidays", "2026-12-25, 2026-12-25"), "holidays", "A date is listed twice (2026-12-25)."},
		{"holidays round the clock", slaForm("hours_mode", "always"), "holidays", "Holidays need business hours"},
		{"a target in days", slaForm("resolution.low", "2d"), "resolution.low", "Write a time like 30m, 4h or 1h 30m"},
		{"a target too long", slaForm("resolution.high", "9000h"), "resolution.high", "At most 365 days (8760h)."},
		{"a control character", slaForm("first_response.high", "1h\x00"), "first_response.high", "Write a time like"},
	} {
		r := o.browser.post("/dash/settings/sla", tc.form)
		if r.status != http.StatusUnprocessableEntity || !r.has(`id="`+tc.field+`-error">`+tc.words) {
			t.Errorf("%s: status %d, no error %q on %s:\n%.200s", tc.name, r.status, tc.words, tc.field, r.body)
		}
		if !r.has(`aria-invalid="true" aria-describedby="`+tc.field+`-error"`) && tc.field != "hours_mode" && tc.field != "hours" {
			t.Errorf("%s: the field %s is not marked invalid", tc.name, tc.field)
		}
		if tc.field == "hours.monday" && !r.has(`value="9-17"`) {
			t.Errorf("%s: the input is not shown again", tc.name)
		}
	}
	if r := o.browser.get("/dash/settings"); !r.has(`value="always" checked`) || r.has(`value="1h"`) {
		t.Error("a refused form changed the settings")
	}
	// A plain agent manages nothing.
	if r := ann.browser.post("/dash/settings/sla", slaForm()); r.status != http.StatusForbidden {
		t.Errorf("a plain agent: status %d", r.status)
	}

	wantRedirect(t, o.browser.post("/dash/settings", form("time_zone", "Europe/Berlin")), "/dash/settings")
	wantRedirect(t, o.browser.post("/dash/settings/sla", slaForm()), "/dash/settings")
	r = o.browser.get("/dash/settings")
	for _, want := range []string{`value="business" checked`, `name="hours.friday" value="09:00-12:00, 13:00-17:00"`,
		`name="hours.saturday" value=""`, ">2026-12-25\n2026-12-31..2027-01-02</textarea>", `name="first_response.normal" value="1h"`,
		`name="resolution.normal" value="8h"`, `name="first_response.urgent" value="15m"`, `name="resolution.urgent" value="2h 30m"`,
		`name="resolution.low" value=""`} {
		if !r.has(want) {
			t.Errorf("the saved settings lack %q", want)
		}
	}
	if r := other.browser.get("/dash/settings"); !r.has(`value="always" checked`) || r.has(`value="1h"`) {
		t.Error("another organization's settings changed")
	}

	// A new ticket now carries its due times: on the queue, the ticket page, the Due soon
	// count (its first response is due within the hour only in business hours).
	e.openTicket("acme", "when will you answer?")
	r = ann.browser.get("/agent/acme/dash?view=all")
	if !regexp.MustCompile(`<span class="sla-due( sla-breached)?" data-sla="(due|breached)">First response <time datetime="[^"]+" title="[^"]+" data-due>(due in|breached) `).MatchString(r.body) {
		t.Errorf("the queue row shows no due time:\n%.4000s", r.body)
	}
	talk := e.engage(ann)
	if r := ann.browser.get(talk); !r.has(`id="sla-due"`) || !r.has("Resolution <time") {
		t.Error("the ticket page shows no due times")
	}
	if r := ann.browser.get("/agent/acme/dash?view=due"); !r.has(`id="view-due"`) || !r.has("Due soon") {
		t.Errorf("no Due soon view:\n%.3000s", r.body)
	}
}

// TestDueSoonView: the view lists the tickets whose next target falls due within the hour.
func TestDueSoonView(t *testing.T) {
	e := newEnv(t)
	o := e.register("acme")
	ann := e.onboard(o, "Ann Agent")
	// Round the clock, so that the test does not depend on the hour it runs at.
	wantRedirect(t, o.browser.post("/dash/settings/sla", form("hours_mode", "always", "first_response.normal", "30m",
		"first_response.low", "3h")), "/dash/settings")
	e.openTicket("acme", "soon")
	e.openTicket("acme", "later")
	rows := map[string]string{} // question → ticket id
	for _, m := range rowRE.FindAllStringSubmatch(ann.browser.get("/agent/acme/dash?view=all").body, -1) {
		rows[m[2]] = m[1]
	}
	if len(rows) != 2 {
		t.Fatalf("queue rows %v", rows)
	}
	id, err := strconv.ParseInt(rows["later"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	org, err := e.cat.ByUsername(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.desk.SetPriority(t.Context(), &org, desk.AsOwner("Acme"), id, desk.PriorityLow); err != nil {
		t.Fatal(err)
	}
	r := ann.browser.get("/agent/acme/dash?view=due")
	got := rowRE.FindAllStringSubmatch(r.body, -1)
	if len(got) != 1 || got[0][1] != rows["soon"] || !r.has(`id="count-due">1<`) || !r.has("due in 29 min") && !r.has("due in 30 min") {
		t.Errorf("Due soon lists %v:\n%.3000s", got, r.body)
	}
}

// rowRE finds a queue row's ticket id and question.
var rowRE = regexp.MustCompile(`(?s)id="ticket-(\d+)".*?<p class="ticket-query">([^<]*)</p>`)

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"", "45m", "45 min", "4h", "4 H", "1h 30m", "1h30m", "1:30", "0:05", "8760h", "2d", "1h 1h",
		"30m 1h", "1:3", "::", "-1h", "1.5h", "1234567h", " 7 h  5 min "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := handlers.ParseTarget(s)
		if !ok {
			return
		}
		// Accepted: whole minutes, not negative, written back and read again the same.
		if d < 0 || d%time.Minute != 0 {
			t.Fatalf("ParseTarget(%q) = %v", s, d)
		}
		back, ok := handlers.ParseTarget(handlers.FormatTarget(d))
		if !ok || back != d {
			t.Fatalf("ParseTarget(%q) = %v, but %q reads as %v, %v", s, d, handlers.FormatTarget(d), back, ok)
		}
	})
}

// FuzzFormatTarget: every valid target (whole minutes up to the limit) is written so that it
// reads back as itself.
func FuzzFormatTarget(f *testing.F) {
	for _, m := range []int64{0, 1, 59, 60, 61, 90, 1440, 525600} {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, m int64) {
		if m < 0 || time.Duration(m)*time.Minute > desk.MaxTarget {
			return
		}
		d := time.Duration(m) * time.Minute
		got, ok := handlers.ParseTarget(handlers.FormatTarget(d))
		if !ok || got != d {
			t.Fatalf("FormatTarget(%v) = %q reads as %v, %v", d, handlers.FormatTarget(d), got, ok)
		}
	})
}
