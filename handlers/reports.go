package handlers

// Reports: how support is doing over a period, for the owner and admin agents. The figures
// come from the desk (desk.Report); this file picks the period from the query string, words
// the figures and draws them (handlers/chart), or writes them as CSV.

import (
	"bytes"
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/handlers/chart"
	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/report"
)

// reportsPage is the reports page: the period form and, once the period is valid, the
// figures.
type reportsPage struct {
	Page
	Seat   seat
	Values report.Input
	Errors FieldErrors
	// Presets are the choices of the period form.
	Presets []reportPreset
	// R is the report (nil when the period was refused).
	R      *report.Report
	Period string // "2 Mar 2026 – 31 Mar 2026"
	Zone   string
	// Targets is true when the organization has service-level targets.
	Targets bool
	CSVURL  string
	Summary []reportStat
	// Days and CSAT are the charts, each with its table.
	Days, DaysTable, CSAT, CSATTable template.HTML
	Agents                           []agentReportRow
	Tags                             []tagReportRow
	Comments                         []commentRow
}

// reportPreset is a choice of the period form.
type reportPreset struct {
	Value, Label string
	Checked      bool
}

// reportStat is one figure of the summary.
type reportStat struct {
	ID, Label, Value, Note string
}

// agentReportRow is a row of the per-agent table (Unassigned: the tickets of nobody).
type agentReportRow struct {
	Name                        string
	Unassigned                  bool
	Closed                      int
	FirstResponse, Breach, CSAT string
}

// tagReportRow is a row of the per-tag table.
type tagReportRow struct {
	Tag                     string
	Tickets, Closed         int
	Resolution, P90, Breach string
}

// commentRow is a rating comment, linking to its ticket.
type commentRow struct {
	Link    string
	Ticket  int64
	Rating  int
	Text    string
	RatedAt time.Time
}

var presetLabels = []struct {
	p     report.Preset
	label string
}{{report.Last7, "Last 7 days"}, {report.Last30, "Last 30 days"}, {report.Last90, "Last 90 days"}, {report.Custom, "Custom range"}}

// reportInput reads ?preset=&from=&to= (copied: Fiber's strings do not outlive the handler).
func reportInput(c *fiber.Ctx) report.Input {
	return report.Input{Preset: report.Preset(strings.Clone(c.Query("preset"))),
		From: strings.Clone(strings.TrimSpace(c.Query("from"))), To: strings.Clone(strings.TrimSpace(c.Query("to")))}
}

// reportFor parses the request's period and computes its report. A refused period comes back
// as field errors (and a nil report).
func (s *Server) reportFor(c *fiber.Ctx) (*reportsPage, error) {
	org := currentOrg(c)
	settings, err := s.desk.Settings(c.UserContext(), org)
	if err != nil {
		return nil, err
	}
	in := reportInput(c)
	p := &reportsPage{Page: Page{Title: "Reports · " + org.Name}, Seat: s.seat(c), Values: in, Zone: settings.TimeZone}
	for _, t := range settings.SLA.Targets {
		p.Targets = p.Targets || t.FirstResponse > 0 || t.Resolution > 0
	}
	period, err := report.ParsePeriod(in, time.Now(), settings.Location)
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
		p.Errors = FieldErrors{e.Field: periodWords(e)}
		p.presets(in.Preset)
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	p.Values = period.Input()
	p.presets(period.Preset)
	r, err := s.desk.Report(c.UserContext(), org, actor(c), period)
	if err != nil {
		return nil, err
	}
	p.R = r
	return p, nil
}

func (p *reportsPage) presets(chosen report.Preset) {
	if chosen == "" {
		chosen = report.DefaultPreset
		if p.Values.From != "" || p.Values.To != "" {
			chosen = report.Custom
		}
	}
	for _, pl := range presetLabels {
		p.Presets = append(p.Presets, reportPreset{Value: string(pl.p), Label: pl.label, Checked: pl.p == chosen})
	}
}

// periodWords words a refused period.
func periodWords(e *apperr.Error) string {
	first := e.Field == report.FieldFrom
	switch e.Code {
	case apperr.CodeRequired:
		if first {
			return "Enter the first day of the range."
		}
		return "Enter the last day of the range."
	case apperr.CodeInvalid:
		if e.Field == report.FieldPreset {
			return "Choose a period: the last 7, 30 or 90 days, or a custom range."
		}
		return "Enter a date like 2026-03-01."
	case apperr.CodeTooLong:
		return fmt.Sprintf("A report covers at most %d days.", report.MaxDays)
	}
	return sentence(e)
}

// reports handles GET /dash/reports?preset=&from=&to=: the owner's and admin agents'
// reports, in the organization's time zone.
func (s *Server) reports(c *fiber.Ctx) error {
	p, err := s.reportFor(c)
	if err != nil {
		return err
	}
	if p.R == nil {
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/reports", p)
	}
	if err := p.fill(); err != nil {
		return err
	}
	return s.page(c, fiber.StatusOK, "pages/reports", p)
}

// reportsCSV handles GET /dash/reports.csv?preset=&from=&to=: the same figures as CSV.
func (s *Server) reportsCSV(c *fiber.Ctx) error {
	p, err := s.reportFor(c)
	if err != nil {
		return err
	}
	if p.R == nil {
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/reports", p)
	}
	var b bytes.Buffer
	if err := report.WriteCSV(&b, p.R); err != nil {
		return err
	}
	org := currentOrg(c)
	s.log.Info("report downloaded", "tenant", org.Username, "first", report.FormatDate(p.R.Period.First),
		"last", report.FormatDate(p.R.Period.Last), "request_id", requestID(c))
	name := fmt.Sprintf("%s-report-%s-%s.csv", org.Username, report.FormatDate(p.R.Period.First), report.FormatDate(p.R.Period.Last))
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Send(b.Bytes())
}

// fill words and draws p.R.
func (p *reportsPage) fill() error {
	r := p.R
	p.Period = dayText(r.Period.First) + " – " + dayText(r.Period.Last)
	q := url.Values{}
	q.Set("preset", string(p.Values.Preset))
	if p.Values.Preset == report.Custom {
		q.Set("from", p.Values.From)
		q.Set("to", p.Values.To)
	}
	p.CSVURL = "/dash/reports.csv?" + q.Encode()

	p.Summary = []reportStat{
		{ID: "stat-opened", Label: "Tickets opened", Value: strconv.Itoa(r.Opened)},
		{ID: "stat-closed", Label: "Tickets closed", Value: strconv.Itoa(r.Closed)},
		{ID: "stat-first-response", Label: "First response, median", Value: duration(r.FirstResponse.Median, r.FirstResponse.Count),
			Note: "90th percentile " + duration(r.FirstResponse.P90, r.FirstResponse.Count) + unansweredNote(r.Unanswered)},
		{ID: "stat-resolution", Label: "Resolution, median", Value: duration(r.Resolution.Median, r.Resolution.Count),
			Note: "90th percentile " + duration(r.Resolution.P90, r.Resolution.Count)},
		{ID: "stat-csat", Label: "Customer satisfaction", Value: csat(r.CSAT.Rating),
			Note: ratingsNote(r.CSAT.Count)},
		{ID: "stat-breaches", Label: "Targets breached", Value: strconv.Itoa(r.FirstResponse.Breached + r.Resolution.Breached),
			Note: fmt.Sprintf("%d first responses, %d resolutions", r.FirstResponse.Breached, r.Resolution.Breached)},
	}
	if !p.Targets {
		p.Summary[len(p.Summary)-1].Note = "No service-level targets are set."
	}

	days := chart.Chart{ID: "chart-days", Title: "Tickets opened and closed per day", Category: "Day",
		Desc:   fmt.Sprintf("%d opened and %d closed from %s to %s.", r.Opened, r.Closed, dayText(r.Period.First), dayText(r.Period.Last)),
		Series: []chart.Series{{Name: "Opened"}, {Name: "Closed"}}}
	for _, d := range r.Days {
		days.Labels = append(days.Labels, dayText(d.Date))
		days.Series[0].Values = append(days.Series[0].Values, float64(d.Opened))
		days.Series[1].Values = append(days.Series[1].Values, float64(d.Closed))
	}
	ratings := chart.Chart{ID: "chart-csat", Title: "Ratings of the tickets closed", Category: "Rating",
		Desc:   fmt.Sprintf("%d ratings, %s on average.", r.CSAT.Count, csat(r.CSAT.Rating)),
		Series: []chart.Series{{Name: "Ratings"}}}
	for i, n := range r.CSAT.Counts {
		ratings.Labels = append(ratings.Labels, strconv.Itoa(i+1)+" ★")
		ratings.Series[0].Values = append(ratings.Series[0].Values, float64(n))
	}
	var err error
	if p.Days, err = chart.Bars(days); err != nil {
		return err
	}
	if p.DaysTable, err = chart.Table(days); err != nil {
		return err
	}
	if p.CSAT, err = chart.Bars(ratings); err != nil {
		return err
	}
	if p.CSATTable, err = chart.Table(ratings); err != nil {
		return err
	}

	for _, a := range r.Agents {
		p.Agents = append(p.Agents, agentReportRow{Name: a.Name, Unassigned: a.ID == 0, Closed: a.Closed,
			FirstResponse: duration(a.FirstResponse.Median, a.FirstResponse.Count), Breach: strconv.Itoa(a.FirstResponse.Breached),
			CSAT: csat(a.CSAT)})
	}
	for _, t := range r.Tags {
		p.Tags = append(p.Tags, tagReportRow{Tag: t.Tag, Tickets: t.Tickets, Closed: t.Closed,
			Resolution: duration(t.Resolution.Median, t.Resolution.Count), P90: duration(t.Resolution.P90, t.Resolution.Count),
			Breach: strconv.Itoa(t.Resolution.Breached)})
	}
	for _, cm := range r.Comments {
		p.Comments = append(p.Comments, commentRow{Link: p.Seat.Talk(cm.ConversationID), Ticket: cm.TicketID, Rating: cm.Rating,
			Text: cm.Text, RatedAt: cm.RatedAt})
	}
	return nil
}

// dayText writes a date for people: "2 Mar 2026".
func dayText(d interface{ String() string }) string {
	t, err := time.Parse("2006-01-02", d.String())
	if err != nil {
		return d.String()
	}
	return t.Format("2 Jan 2006")
}

// duration words a median or percentile of n durations: "—" for none, else "45 min",
// "3 h 20 min", "2 d 4 h".
func duration(d time.Duration, n int) string {
	if n == 0 {
		return "—"
	}
	switch m := int64(d / time.Minute); {
	case d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + " s"
	case m < 60:
		return strconv.FormatInt(m, 10) + " min"
	case m < 24*60:
		if m%60 == 0 {
			return strconv.FormatInt(m/60, 10) + " h"
		}
		return strconv.FormatInt(m/60, 10) + " h " + strconv.FormatInt(m%60, 10) + " min"
	default:
		h := m / 60
		if h%24 == 0 {
			return strconv.FormatInt(h/24, 10) + " d"
		}
		return strconv.FormatInt(h/24, 10) + " d " + strconv.FormatInt(h%24, 10) + " h"
	}
}

func csat(r report.Rating) string {
	if r.Count == 0 {
		return "—"
	}
	return strconv.FormatFloat(r.Average, 'f', 1, 64) + " / 5"
}

func ratingsNote(n int) string {
	if n == 1 {
		return "1 rating"
	}
	return strconv.Itoa(n) + " ratings"
}

func unansweredNote(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "; 1 ticket unanswered"
	}
	return "; " + strconv.Itoa(n) + " tickets unanswered"
}
