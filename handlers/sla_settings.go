package handlers

// The service-level part of the organization's settings: business hours (a weekly schedule
// in the organization's time zone, and holidays) or round the clock, and per priority the
// longest first response and resolution. The form posts to /dash/settings/sla; the settings
// page shows it beside the time zone.

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/sla"
)

// slaForm is the service-level form: its values as shown (or as sent back with errors).
type slaForm struct {
	// Business is true for business hours, false for round the clock.
	Business bool
	Days     []slaDay
	Holidays string
	Targets  []slaTarget
	Errors   FieldErrors
}

// slaDay is one weekday's hours field (Field is its name, "hours.monday").
type slaDay struct {
	Field, Label, Hours string
}

// slaTarget is one priority's two target fields.
type slaTarget struct {
	Priority                    string
	FirstField, ResolutionField string
	First, Resolution           string
}

// weekOrder is the order the form lists the days in: Monday first.
var weekOrder = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// priorityOrder lists the priorities most urgent first.
var priorityOrder = []desk.Priority{desk.PriorityUrgent, desk.PriorityHigh, desk.PriorityNormal, desk.PriorityLow}

const (
	targetFirst      = "first_response"
	targetResolution = "resolution"
)

// newSLAForm shows cfg.
func newSLAForm(cfg desk.SLA) slaForm {
	f := slaForm{Business: cfg.Hours != nil, Errors: FieldErrors{}}
	var days [7]string
	if cfg.Hours != nil {
		days = sla.FormatWeek(*cfg.Hours)
		f.Holidays = sla.FormatHolidays(cfg.Holidays)
	} else {
		// Round the clock: the hours fields offer office hours to start from.
		for _, d := range weekOrder[:5] {
			days[d] = "09:00-17:00"
		}
	}
	for _, d := range weekOrder {
		f.Days = append(f.Days, slaDay{Field: sla.DayField(d), Label: d.String(), Hours: days[d]})
	}
	for _, p := range priorityOrder {
		t := cfg.Targets[p]
		f.Targets = append(f.Targets, slaTarget{Priority: p.String(),
			FirstField: desk.TargetField(targetFirst, p), ResolutionField: desk.TargetField(targetResolution, p),
			First: FormatTarget(t.FirstResponse), Resolution: FormatTarget(t.Resolution)})
	}
	return f
}

// parseSLAForm reads the form: the service levels, or the form again with its errors.
func parseSLAForm(c *fiber.Ctx) (desk.SLA, slaForm) {
	f := slaForm{Errors: FieldErrors{}}
	var cfg desk.SLA
	switch formValue(c, "hours_mode") {
	case "business":
		f.Business = true
	case "always":
	default:
		f.Errors["hours_mode"] = "Choose business hours or round the clock."
	}
	var days [7]string
	for _, d := range weekOrder {
		field := sla.DayField(d)
		days[d] = strings.Clone(strings.TrimSpace(formValue(c, field)))
		f.Days = append(f.Days, slaDay{Field: field, Label: d.String(), Hours: days[d]})
	}
	f.Holidays = strings.Clone(strings.TrimSpace(normalizeNewlines(formValue(c, "holidays"))))
	if f.Business {
		w, err := sla.ParseWeek(days)
		if err != nil {
			f.fail(err)
		} else {
			cfg.Hours = &w
		}
		if cfg.Holidays, err = sla.ParseHolidays(f.Holidays); err != nil {
			f.fail(err)
		}
	} else if f.Holidays != "" {
		f.Errors[sla.FieldHolidays] = slaWords(sla.FieldHolidays, string(sla.KindRequired), "")
	}
	for _, p := range priorityOrder {
		t := slaTarget{Priority: p.String(), FirstField: desk.TargetField(targetFirst, p),
			ResolutionField: desk.TargetField(targetResolution, p)}
		t.First = strings.Clone(strings.TrimSpace(formValue(c, t.FirstField)))
		t.Resolution = strings.Clone(strings.TrimSpace(formValue(c, t.ResolutionField)))
		for _, v := range []struct {
			field, text string
			into        *time.Duration
		}{{t.FirstField, t.First, &cfg.Targets[p].FirstResponse}, {t.ResolutionField, t.Resolution, &cfg.Targets[p].Resolution}} {
			d, ok := ParseTarget(v.text)
			switch {
			case !ok:
				f.Errors[v.field] = targetWords(desk.CodeTargetInvalid)
			case d > desk.MaxTarget:
				f.Errors[v.field] = targetWords(desk.CodeTargetTooLong)
			default:
				*v.into = d
			}
		}
		f.Targets = append(f.Targets, t)
	}
	return cfg, f
}

// fail records a refusal of the sla package on its field.
func (f *slaForm) fail(err error) {
	var se *sla.Error
	if !errors.As(err, &se) {
		f.Errors[sla.FieldHours] = "These hours cannot be used."
		return
	}
	if _, ok := f.Errors[se.Field]; !ok {
		f.Errors[se.Field] = slaWords(se.Field, string(se.Kind), se.Value)
	}
}

// slaWords words a refused schedule or holiday list.
func slaWords(field, kind, value string) string {
	if strings.HasPrefix(field, sla.FieldHours+".") {
		switch sla.Kind(kind) {
		case sla.KindSyntax:
			return "Write the hours like 09:00-17:00, or 09:00-12:00, 13:00-17:00; leave the day empty when closed."
		case sla.KindRange:
			return "Times go from 00:00 to 24:00."
		case sla.KindEmptyInterval:
			return "An interval must end after it starts."
		case sla.KindCrossesMidnight:
			return "An interval cannot cross midnight: split it at 24:00 (22:00-24:00, and 00:00-06:00 on the next day)."
		case sla.KindOverlap:
			return "List the intervals of a day in order, without overlaps."
		case sla.KindTooMany:
			return "At most " + strconv.Itoa(sla.MaxIntervals) + " intervals a day."
		case sla.KindTooLong:
			return "That is too long for one day's hours."
		}
	}
	switch field + "/" + kind {
	case sla.FieldHours + "/" + string(sla.KindEmptyWeek):
		return "Give at least one day hours, or choose round the clock."
	case sla.FieldHolidays + "/" + string(sla.KindRequired):
		return "Holidays need business hours: choose business hours, or clear the holidays."
	case sla.FieldHolidays + "/" + string(sla.KindSyntax):
		return "Write dates like 2026-12-25 and ranges like 2026-12-24..2026-12-26, separated by commas or lines."
	case sla.FieldHolidays + "/" + string(sla.KindRange):
		return "Dates must exist and lie between 2000 and 2199."
	case sla.FieldHolidays + "/" + string(sla.KindDuplicate):
		return "A date is listed twice (" + value + ")."
	case sla.FieldHolidays + "/" + string(sla.KindReversed):
		return "A range must not end before it starts (" + value + ")."
	case sla.FieldHolidays + "/" + string(sla.KindTooMany):
		return "At most " + strconv.Itoa(sla.MaxHolidays) + " dates in all, and " + strconv.Itoa(sla.MaxHolidayRange) + " in one range."
	case sla.FieldHolidays + "/" + string(sla.KindTooLong):
		return "The list of holidays is too long."
	}
	return "This value cannot be used."
}

// targetWords words a refused target (words.go).
func targetWords(code apperr.Code) string {
	if code != desk.CodeTargetTooLong {
		code = desk.CodeTargetInvalid
	}
	return codeWords[code]
}

// saveSLA handles POST /dash/settings/sla: hours_mode (business or always), hours.monday …
// hours.sunday, holidays, first_response.<priority> and resolution.<priority>.
func (s *Server) saveSLA(c *fiber.Ctx) error {
	cfg, f := parseSLAForm(c)
	if len(f.Errors) == 0 {
		err := s.desk.SetSLA(c.UserContext(), currentOrg(c), actor(c), cfg)
		e, ok := apperr.As(err)
		switch {
		case ok && e.Kind == apperr.Invalid && strings.HasPrefix(e.Field, targetFirst+"."),
			ok && e.Kind == apperr.Invalid && strings.HasPrefix(e.Field, targetResolution+"."):
			f.Errors[e.Field] = targetWords(e.Code)
		case ok && e.Kind == apperr.Invalid:
			f.Errors[e.Field] = slaWords(e.Field, string(e.Code), "")
		case err != nil:
			return err
		}
	}
	if len(f.Errors) > 0 {
		p, err := s.settingsPage(c)
		if err != nil {
			return err
		}
		p.SLA = f
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/settings", p)
	}
	s.log.Info("service levels set", "tenant", currentOrg(c).Username, "business_hours", cfg.Hours != nil, "request_id", requestID(c))
	s.setFlash(c, "Service levels saved. Every open ticket's due times are updated.")
	return redirect(c, "/dash/settings")
}

// ParseTarget reads a target as typed: empty for none, minutes ("45m", "45 min"), hours
// ("4h", "4 h"), both ("1h 30m", "1h30m") or "H:MM" ("1:30"), in either case. Amounts are plain decimal
// digits, at most six per amount; the result is whole minutes, and is not checked against
// desk.MaxTarget.
func ParseTarget(s string) (time.Duration, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, true
	}
	if h, m, ok := strings.Cut(s, ":"); ok {
		hh, ok1 := amount(h)
		mm, ok2 := amount(m)
		if !ok1 || !ok2 || len(m) != 2 || mm > 59 {
			return 0, false
		}
		return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, true
	}
	var d time.Duration
	seenH, seenM := false, false
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		n, ok := amount(rest[:i])
		if !ok {
			return 0, false
		}
		rest = strings.TrimLeft(rest[i:], " ")
		switch {
		case !seenH && !seenM && strings.HasPrefix(rest, "h"):
			d, seenH, rest = time.Duration(n)*time.Hour, true, rest[1:]
		case !seenM && strings.HasPrefix(rest, "min"):
			d, seenM, rest = d+time.Duration(n)*time.Minute, true, rest[3:]
		case !seenM && strings.HasPrefix(rest, "m"):
			d, seenM, rest = d+time.Duration(n)*time.Minute, true, rest[1:]
		default:
			return 0, false
		}
		rest = strings.TrimLeft(rest, " ")
	}
	return d, true
}

// amount parses one to six ASCII digits.
func amount(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 6 {
		return 0, false
	}
	n := int64(0)
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// FormatTarget writes a target the way ParseTarget reads it: "" for none, "45m", "4h",
// "1h 30m". Seconds are dropped (targets are whole minutes).
func FormatTarget(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	m := int64(d / time.Minute)
	switch {
	case m%60 == 0:
		return strconv.FormatInt(m/60, 10) + "h"
	case m < 60:
		return strconv.FormatInt(m, 10) + "m"
	}
	return strconv.FormatInt(m/60, 10) + "h " + strconv.FormatInt(m%60, 10) + "m"
}
