package desk_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/report"
	"github.com/tenantdesk/tenantdesk/sql/sla"
)

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

// officeWeek is Monday to Friday, 09:00–17:00.
func officeWeek(t testing.TB) *sla.Week {
	t.Helper()
	w, err := sla.ParseWeek([7]string{"", "09:00-17:00", "09:00-17:00", "09:00-17:00", "09:00-17:00", "09:00-17:00", ""})
	if err != nil {
		t.Fatal(err)
	}
	return &w
}

func holidays(t testing.TB, s string) []sla.Date {
	t.Helper()
	d, err := sla.ParseHolidays(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// setSLA gives tm's organization the Berlin time zone and cfg.
func (tm *team) setSLA(t testing.TB, cfg desk.SLA) {
	t.Helper()
	ctx := context.Background()
	if err := tm.svc.SetTimeZone(ctx, tm.org, tm.owner(), "Europe/Berlin"); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.SetSLA(ctx, tm.org, tm.owner(), cfg); err != nil {
		t.Fatal(err)
	}
}

func (tm *team) at(t time.Time) {
	tm.clock.mu.Lock()
	tm.clock.now = t
	tm.clock.mu.Unlock()
}

func (tm *team) ticket(t testing.TB, id int64) desk.Ticket {
	t.Helper()
	got, err := tm.svc.TicketByID(context.Background(), tm.org, tm.owner(), id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestDueTimesWorkedExamples: tickets opened through the desk carry the due times of the
// organization's business hours, across a weekend, holidays and both daylight-saving changes;
// the first one is the example the feature is specified with.
func TestDueTimesWorkedExamples(t *testing.T) {
	tm := newTeam(t)
	for _, tc := range []struct {
		name     string
		holidays string
		opened   time.Time
		target   time.Duration
		want     time.Time
	}{
		{"Friday 16:55 with 1 h: Monday 09:55", "", time.Date(2026, 3, 6, 16, 55, 0, 0, berlin), time.Hour,
			time.Date(2026, 3, 9, 9, 55, 0, 0, berlin)},
		{"inside the day", "", time.Date(2026, 3, 10, 10, 0, 0, 0, berlin), 90 * time.Minute,
			time.Date(2026, 3, 10, 11, 30, 0, 0, berlin)},
		{"on a Saturday: from Monday's opening", "", time.Date(2026, 3, 14, 12, 0, 0, 0, berlin), time.Hour,
			time.Date(2026, 3, 16, 10, 0, 0, 0, berlin)},
		{"Good Friday and Easter Monday closed", "2026-04-03 2026-04-06", time.Date(2026, 4, 2, 16, 0, 0, 0, berlin), 2 * time.Hour,
			time.Date(2026, 4, 7, 10, 0, 0, 0, berlin)},
		{"a range of holidays over the new year", "2026-12-24..2027-01-06", time.Date(2026, 12, 23, 16, 30, 0, 0, berlin), time.Hour,
			time.Date(2027, 1, 7, 9, 30, 0, 0, berlin)},
		{"over the spring change (23-hour Sunday)", "", time.Date(2026, 3, 27, 16, 0, 0, 0, berlin), 2 * time.Hour,
			time.Date(2026, 3, 30, 10, 0, 0, 0, berlin)},
		{"over the autumn change (25-hour Sunday)", "", time.Date(2026, 10, 23, 16, 30, 0, 0, berlin), time.Hour,
			time.Date(2026, 10, 26, 9, 30, 0, 0, berlin)},
		{"three business days", "", time.Date(2026, 3, 11, 15, 0, 0, 0, berlin), 12 * time.Hour,
			time.Date(2026, 3, 13, 11, 0, 0, 0, berlin)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var targets [report.Priorities]report.Target
			targets[desk.PriorityNormal] = report.Target{FirstResponse: tc.target, Resolution: tc.target}
			tm.at(tc.opened.Add(-time.Minute))
			tm.setSLA(t, desk.SLA{Hours: officeWeek(t), Holidays: holidays(t, tc.holidays), Targets: targets})
			tm.at(tc.opened)
			tk, _ := tm.open(t, "c@example.com", tc.name)
			got := tm.ticket(t, tk.ID)
			if !got.FirstResponseDue.Equal(tc.want) || !got.ResolutionDue.Equal(tc.want) {
				t.Errorf("due %v / %v, want %v", got.FirstResponseDue.In(berlin), got.ResolutionDue.In(berlin), tc.want)
			}
			if d, ok := got.Next(); !ok || d.What != desk.BreachedFirstResponse || !d.At.Equal(tc.want) {
				t.Errorf("next deadline %+v %v", d, ok)
			}
		})
	}

	// Round the clock (no business hours): plain elapsed time, weekends included.
	var targets [report.Priorities]report.Target
	targets[desk.PriorityNormal].FirstResponse = time.Hour
	opened := time.Date(2026, 3, 6, 16, 55, 0, 0, berlin)
	tm.setSLA(t, desk.SLA{Targets: targets})
	tm.at(opened)
	tk, _ := tm.open(t, "c@example.com", "round the clock")
	if got := tm.ticket(t, tk.ID); !got.FirstResponseDue.Equal(opened.Add(time.Hour)) || !got.ResolutionDue.IsZero() {
		t.Errorf("round the clock: due %v, resolution %v", got.FirstResponseDue, got.ResolutionDue)
	}
}

// TestResolutionClockPauses: pending and snoozed time does not count against the resolution;
// the first answer meets the first response; a priority change moves the targets; closing
// ends them. The report measures the same ticket the same way.
func TestResolutionClockPauses(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	ann := desk.AsAgent(tm.ann)
	var targets [report.Priorities]report.Target
	targets[desk.PriorityNormal] = report.Target{FirstResponse: time.Hour, Resolution: 4 * time.Hour}
	targets[desk.PriorityUrgent] = report.Target{FirstResponse: 15 * time.Minute, Resolution: time.Hour}
	mon := func(h, m int) time.Time { return time.Date(2026, 3, 9, h, m, 0, 0, berlin) }
	tue := func(h, m int) time.Time { return time.Date(2026, 3, 10, h, m, 0, 0, berlin) }
	tm.at(mon(8, 0))
	tm.setSLA(t, desk.SLA{Hours: officeWeek(t), Targets: targets})

	tm.at(mon(10, 0))
	tk, cust := tm.open(t, "c@example.com", "my invoice is wrong")
	check := func(when string, fr, res time.Time) {
		t.Helper()
		got := tm.ticket(t, tk.ID)
		if !got.FirstResponseDue.Equal(fr) || !got.ResolutionDue.Equal(res) {
			t.Errorf("%s: due %v / %v, want %v / %v", when, got.FirstResponseDue.In(berlin), got.ResolutionDue.In(berlin), fr.In(berlin), res.In(berlin))
		}
	}
	check("opened", mon(11, 0), mon(14, 0))

	tm.at(mon(10, 20))
	if _, err := tm.svc.AddMessage(ctx, tm.org, ann, tk.ConversationID, "Let me look."); err != nil {
		t.Fatal(err)
	}
	got := tm.ticket(t, tk.ID)
	if !got.FirstReplyAt.Equal(mon(10, 20)) {
		t.Errorf("first reply at %v", got.FirstReplyAt)
	}
	if d, ok := got.Next(); !ok || d.What != desk.BreachedResolution || !d.At.Equal(mon(14, 0)) {
		t.Errorf("after the first answer the next deadline is %+v %v, want the resolution at 14:00", d, ok)
	}
	tm.at(mon(10, 40))
	if _, err := tm.svc.AddMessage(ctx, tm.org, ann, tk.ConversationID, "Still looking."); err != nil {
		t.Fatal(err)
	}
	if got := tm.ticket(t, tk.ID); !got.FirstReplyAt.Equal(mon(10, 20)) {
		t.Errorf("a second answer moved the first reply to %v", got.FirstReplyAt)
	}

	// Pending 11:00–13:00 (the customer answers): the resolution moves on by 2 h.
	tm.at(mon(11, 0))
	if err := tm.svc.SetStatus(ctx, tm.org, ann, tk.ID, desk.StatusPending, time.Time{}); err != nil {
		t.Fatal(err)
	}
	check("pending", mon(11, 0), time.Time{})
	tm.at(mon(13, 0))
	if _, err := tm.svc.AddMessage(ctx, tm.org, cust, 0, "Here is the invoice number."); err != nil {
		t.Fatal(err)
	}
	check("reopened by the customer", mon(11, 0), mon(16, 0))

	// Snoozed from 14:00 until Tuesday 09:00: 2 h are left when it wakes.
	tm.at(mon(14, 0))
	if err := tm.svc.SetStatus(ctx, tm.org, ann, tk.ID, desk.StatusSnoozed, tue(9, 0)); err != nil {
		t.Fatal(err)
	}
	check("snoozed", mon(11, 0), time.Time{})
	tm.at(tue(9, 0))
	if _, err := tm.svc.Wake(ctx, tm.org); err != nil {
		t.Fatal(err)
	}
	check("woken", mon(11, 0), tue(11, 0))

	// Urgent: 15 min to answer, 1 h to resolve, which ran out on Monday at 11:00.
	tm.at(tue(9, 30))
	if err := tm.svc.SetPriority(ctx, tm.org, ann, tk.ID, desk.PriorityUrgent); err != nil {
		t.Fatal(err)
	}
	check("urgent", mon(10, 15), mon(11, 0))
	if err := tm.svc.SetPriority(ctx, tm.org, ann, tk.ID, desk.PriorityNormal); err != nil {
		t.Fatal(err)
	}

	// Closed at 10:30: 10:00–11:00, 13:00–14:00 and 09:00–10:30 open: 3.5 h in business time.
	tm.at(tue(10, 30))
	if err := tm.svc.SetStatus(ctx, tm.org, ann, tk.ID, desk.StatusClosed, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := tm.ticket(t, tk.ID); !got.ResolutionDue.IsZero() {
		t.Errorf("a closed ticket's resolution is due %v", got.ResolutionDue)
	} else if _, ok := got.Next(); ok {
		t.Error("a closed ticket has a next deadline")
	}
	p, err := report.ParsePeriod(report.Input{Preset: report.Custom, From: "2026-03-09", To: "2026-03-10"}, tm.clock.Now(), berlin)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tm.svc.Report(ctx, tm.org, desk.AsAgent(tm.maria), p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Closed != 1 || r.Resolution.Median != 3*time.Hour+30*time.Minute || r.FirstResponse.Median != 20*time.Minute ||
		r.Resolution.Breached != 0 || r.FirstResponse.Breached != 0 || !r.Business {
		t.Errorf("report: closed %d, resolution %+v, first response %+v, business %v", r.Closed, r.Resolution, r.FirstResponse, r.Business)
	}
	if _, err := tm.svc.Report(ctx, tm.org, ann, p); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("an agent without the admin role got a report: %s", kindOf(err))
	}
}

// TestBreachesRecordedOnce: a target that passes is recorded once — an activity line, a bit of
// the ticket, an event — by the scheduler the catalog wakes, without any request; the Due
// soon view lists what falls due within the hour and not what is already breached.
func TestBreachesRecordedOnce(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	sub := tm.svc.Subscribe(64)
	defer sub.Close()
	var targets [report.Priorities]report.Target
	targets[desk.PriorityNormal] = report.Target{FirstResponse: 30 * time.Minute, Resolution: 2 * time.Hour}
	targets[desk.PriorityLow] = report.Target{FirstResponse: 3 * time.Hour}
	start := time.Date(2026, 3, 9, 10, 0, 0, 0, berlin)
	tm.at(start)
	tm.setSLA(t, desk.SLA{Targets: targets})
	soon, _ := tm.open(t, "soon@example.com", "due in 30 minutes")
	later, _ := tm.open(t, "later@example.com", "due in 3 hours")
	if err := tm.svc.SetPriority(ctx, tm.org, tm.owner(), later.ID, desk.PriorityLow); err != nil {
		t.Fatal(err)
	}
	thomas := desk.AsAgent(tm.thomas)
	dueSoon := func() []int64 {
		t.Helper()
		q, err := tm.svc.Queue(ctx, tm.org, thomas, desk.QueueQuery{View: desk.ViewDueSoon, Priority: -1, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, tk := range q {
			ids = append(ids, tk.ID)
		}
		c, err := tm.svc.Counts(ctx, tm.org, thomas)
		if err != nil {
			t.Fatal(err)
		}
		if c.Views[desk.ViewDueSoon] != len(ids) {
			t.Errorf("Due soon counts %d, lists %v", c.Views[desk.ViewDueSoon], ids)
		}
		return ids
	}
	if got := dueSoon(); !slices.Equal(got, []int64{soon.ID}) {
		t.Errorf("Due soon at 10:00 = %v, want [%d]", got, soon.ID)
	}
	// The catalog knows when the tenant has something due: the first response, just after.
	due, err := tm.cat.Due(ctx, start.Add(24*time.Hour), 10)
	if err != nil || len(due) != 1 || !due[0].DueAt.Equal(start.Add(30*time.Minute+time.Second)) {
		t.Fatalf("catalog wake-ups %+v, %v; want one at 10:30:01", due, err)
	}

	// 10:31: the scheduler wakes the tenant and records the breach, once.
	tm.at(start.Add(31 * time.Minute))
	breach := func(id int64) []string {
		t.Helper()
		th, err := tm.svc.Thread(ctx, tm.org, tm.owner(), mustConv(t, tm, id), 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range th.Messages {
			if m.Activity != nil && m.Activity.Kind == desk.ActivityBreach {
				out = append(out, m.Activity.To)
			}
		}
		return out
	}
	waitFor(t, "the first-response breach", func() bool { return tm.ticket(t, soon.ID).Breached == desk.BreachFirstResponse })
	if got := breach(soon.ID); !slices.Equal(got, []string{desk.BreachedFirstResponse}) {
		t.Errorf("breach lines %v", got)
	}
	if _, err := tm.svc.Wake(ctx, tm.org); err != nil {
		t.Fatal(err)
	}
	if got := breach(soon.ID); len(got) != 1 {
		t.Errorf("a second wake recorded the breach again: %v", got)
	}
	// The event is published after the commit that a reader may see first: wait for it.
	for seen, timeout := false, time.After(5*time.Second); !seen; {
		select {
		case e := <-sub.C:
			seen = e.Kind == desk.TicketChanged && e.Changed&desk.ChangedBreach != 0 && e.TicketID == soon.ID
		case <-timeout:
			t.Fatal("no breach event on the feed")
		}
	}
	// Breached is no longer "due soon"; the queue still shows when it was due.
	if got := dueSoon(); len(got) != 0 {
		t.Errorf("Due soon at 10:31 = %v, want nothing", got)
	}
	if d, ok := tm.ticket(t, soon.ID).Next(); !ok || d.What != desk.BreachedFirstResponse || !d.At.Equal(start.Add(30*time.Minute)) {
		t.Errorf("next deadline of the breached ticket %+v %v", d, ok)
	}

	// 11:05: the low-priority ticket's first response (13:00) is not within the hour; the
	// other's resolution (12:00) is.
	tm.at(start.Add(65 * time.Minute))
	if got := dueSoon(); !slices.Equal(got, []int64{soon.ID}) {
		t.Errorf("Due soon at 11:05 = %v, want [%d]", got, soon.ID)
	}
	tm.at(start.Add(2*time.Hour + time.Minute))
	waitFor(t, "the resolution breach", func() bool {
		return tm.ticket(t, soon.ID).Breached == desk.BreachFirstResponse|desk.BreachResolution
	})
	if got := breach(soon.ID); !slices.Equal(got, []string{desk.BreachedFirstResponse, desk.BreachedResolution}) {
		t.Errorf("breach lines %v", got)
	}
	if got := tm.ticket(t, later.ID); got.Breached != 0 {
		t.Errorf("the low-priority ticket is breached: %d", got.Breached)
	}
}

func mustConv(t *testing.T, tm *team, id int64) int64 {
	t.Helper()
	return tm.ticket(t, id).ConversationID
}

// TestSetSLARefuses: invalid settings are refused with the field at fault and change
// nothing; only managers set them.
func TestSetSLARefuses(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	var ok [report.Priorities]report.Target
	ok[desk.PriorityHigh].FirstResponse = time.Hour
	for _, tc := range []struct {
		name string
		cfg  desk.SLA
		want string
	}{
		{"negative target", desk.SLA{Targets: [report.Priorities]report.Target{{FirstResponse: -time.Minute}}}, "first_response.low/target_invalid"},
		{"seconds", desk.SLA{Targets: [report.Priorities]report.Target{3: {Resolution: 90 * time.Second}}}, "resolution.urgent/target_invalid"},
		{"too long", desk.SLA{Targets: [report.Priorities]report.Target{1: {Resolution: desk.MaxTarget + time.Minute}}}, "resolution.normal/target_too_long"},
		{"holidays without hours", desk.SLA{Holidays: holidays(t, "2026-12-25"), Targets: ok}, "holidays/required"},
		{"an empty week", desk.SLA{Hours: &sla.Week{}, Targets: ok}, "hours/empty_week"},
	} {
		err := tm.svc.SetSLA(ctx, tm.org, tm.owner(), tc.cfg)
		e, isApp := apperr.As(err)
		if !isApp || e.Kind != apperr.Invalid || e.Field+"/"+string(e.Code) != tc.want {
			t.Errorf("%s: %v, want invalid %s", tc.name, err, tc.want)
		}
	}
	if err := tm.svc.SetSLA(ctx, tm.org, desk.AsAgent(tm.thomas), desk.SLA{Targets: ok}); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("an agent set the service levels: %s", kindOf(err))
	}
	st, err := tm.svc.Settings(ctx, tm.org)
	if err != nil || st.SLA.Targets != ([report.Priorities]report.Target{}) || st.Calendar != nil {
		t.Errorf("after refusals the settings are %+v, %v", st.SLA, err)
	}
	// An admin sets them; they read back as given.
	cfg := desk.SLA{Hours: officeWeek(t), Holidays: holidays(t, "2026-12-24..2026-12-26 2027-01-01"), Targets: ok}
	if err := tm.svc.SetSLA(ctx, tm.org, desk.AsAgent(tm.maria), cfg); err != nil {
		t.Fatal(err)
	}
	st, err = tm.svc.Settings(ctx, tm.org)
	if err != nil || st.Calendar == nil || sla.FormatWeek(*st.SLA.Hours) != sla.FormatWeek(*cfg.Hours) || sla.FormatHolidays(st.SLA.Holidays) != "2026-12-24..2026-12-26\n2027-01-01" ||
		st.SLA.Targets != ok {
		t.Errorf("settings read back %+v, %v", st.SLA, err)
	}
}

// TestRatingComment: the customer's rating may carry a comment, checked like other text.
func TestRatingComment(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	tk, cust := tm.open(t, "c@example.com", "help")
	if err := tm.svc.SetStatus(ctx, tm.org, tm.owner(), tk.ID, desk.StatusClosed, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ comment, want string }{
		{strings.Repeat("é", desk.MaxRatingComment+1), "invalid/comment_too_long"},
		{"nul\x00here", "invalid/invalid"},
		{"bad \xff utf-8", "invalid/invalid"},
	} {
		if err := tm.svc.Rate(ctx, tm.org, cust, 4, tc.comment); kindOf(err) != tc.want {
			t.Errorf("comment %q: %s, want %s", tc.comment, kindOf(err), tc.want)
		}
	}
	comment := strings.Repeat("é", desk.MaxRatingComment-6) + " Merci"
	if err := tm.svc.Rate(ctx, tm.org, cust, 4, comment); err != nil {
		t.Fatal(err)
	}
	got := tm.ticket(t, tk.ID)
	if got.Rating != 4 || got.RatingComment != comment || !got.RatedAt.Equal(tm.clock.Now().Truncate(time.Second)) {
		t.Errorf("rating %d %q at %v", got.Rating, got.RatingComment, got.RatedAt)
	}
	// Without a comment (only spaces): none stored.
	tk2, cust2 := tm.open(t, "d@example.com", "help again")
	if err := tm.svc.SetStatus(ctx, tm.org, tm.owner(), tk2.ID, desk.StatusClosed, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.Rate(ctx, tm.org, cust2, 2, "   "); err != nil {
		t.Fatal(err)
	}
	if got := tm.ticket(t, tk2.ID); got.Rating != 2 || got.RatingComment != "" {
		t.Errorf("rating %d %q", got.Rating, got.RatingComment)
	}
}

// TestBreachNotices: with email on (a Sender of breach notices registered), a breach is told
// once to the ticket's assignee, every admin and the owner — not to other agents — through
// the outbox, each notice carrying what the email needs.
func TestBreachNotices(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	rec := &recorder{clock: tm.clock.Now}
	tm.svc.RegisterSender(desk.KindBreachNotice, rec, desk.OutboxPolicy{})
	var targets [report.Priorities]report.Target
	targets[desk.PriorityNormal].FirstResponse = 30 * time.Minute
	start := time.Date(2026, 3, 9, 10, 0, 0, 0, berlin)
	tm.at(start)
	tm.setSLA(t, desk.SLA{Targets: targets})
	tk, _ := tm.open(t, "c@example.com", "anyone there?")
	if err := tm.svc.Assign(ctx, tm.org, tm.owner(), tk.ID, tm.ann.ID); err != nil {
		t.Fatal(err)
	}
	tm.at(start.Add(31 * time.Minute))
	waitFor(t, "three notices", func() bool { return rec.count() == 3 })
	if _, err := tm.svc.Wake(ctx, tm.org); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // a second notice would be on its way by now
	if rec.count() != 3 {
		t.Fatalf("%d notices, want 3", rec.count())
	}
	got := map[string]desk.BreachNotice{}
	rec.mu.Lock()
	for _, it := range rec.attempts {
		var n desk.BreachNotice
		if err := json.Unmarshal(it.Payload, &n); err != nil {
			t.Fatal(err)
		}
		if it.Target != n.Email || it.TicketID != tk.ID {
			t.Errorf("item target %q, ticket %d; payload %+v", it.Target, it.TicketID, n)
		}
		got[n.Role+" "+n.Email] = n
	}
	rec.mu.Unlock()
	want := []string{"admin maria@acme.example", "assignee ann@acme.example", "owner owner@acme.example"}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, want) {
		t.Fatalf("notices to %v, want %v", keys, want)
	}
	n := got["assignee ann@acme.example"]
	if n.Breached != desk.BreachedFirstResponse || n.DueAt != start.Add(30*time.Minute).Unix() || n.ConversationID != tk.ConversationID ||
		n.CustomerName != "Customer c@example.com" || n.Priority != "normal" || n.AgentID != tm.ann.ID || n.Name != "Ann" {
		t.Errorf("notice %+v", n)
	}

	// Email off (no sender): the breach is still recorded, and nothing is enqueued.
	tm2 := newTeam(t)
	tm2.at(start)
	tm2.setSLA(t, desk.SLA{Targets: targets})
	tk2, _ := tm2.open(t, "c@example.com", "and here?")
	tm2.at(start.Add(31 * time.Minute))
	if _, err := tm2.svc.Wake(ctx, tm2.org); err != nil {
		t.Fatal(err)
	}
	if got := tm2.ticket(t, tk2.ID); got.Breached != desk.BreachFirstResponse {
		t.Errorf("breach not recorded: %d", got.Breached)
	}
	if items := tm2.items(t, desk.OutboxFilter{}); len(items) != 0 {
		t.Errorf("%d outbox items without a sender", len(items))
	}
}

// Changing the service levels is audited once, naming the settings changed (not their values);
// saving them unchanged is not.
func TestSetSLAAudited(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	var ok [report.Priorities]report.Target
	ok[desk.PriorityHigh].FirstResponse = time.Hour
	for range 2 {
		if err := tm.svc.SetSLA(ctx, tm.org, tm.owner(), desk.SLA{Targets: ok}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := tm.svc.AuditLog(ctx, tm.org, tm.owner(), desk.AuditQuery{Category: "settings"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Event != desk.AuditSettingsChanged || got[0].Detail["setting"] != "sla_targets" {
		t.Fatalf("audit entries: %+v", got)
	}
}
