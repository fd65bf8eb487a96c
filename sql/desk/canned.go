package desk

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/sla"
)

// Limits of a canned reply.
const (
	MaxCannedTitle = 100
	MaxCannedBody  = 5000
)

// CannedReplies lists the canned replies, by title, for the team.
func (s *Service) CannedReplies(ctx context.Context, org *catalog.Organization, a Actor) ([]Canned, error) {
	if err := mayWork(a); err != nil {
		return nil, err
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	return db.CannedReplies(ctx)
}

// CreateCanned stores a canned reply: the owner and admins.
func (s *Service) CreateCanned(ctx context.Context, org *catalog.Organization, a Actor, title, body string) (Canned, error) {
	if err := mayManage(a); err != nil {
		return Canned{}, err
	}
	for _, f := range [...]struct {
		field, v string
		max      int
	}{{"title", title, MaxCannedTitle}, {"body", body, MaxCannedBody}} {
		if err := checkText(f.field, f.v); err != nil {
			return Canned{}, err
		}
		if utf8.RuneCountInString(f.v) > f.max {
			return Canned{}, apperr.Field(apperr.Invalid, f.field, apperr.CodeTooLong)
		}
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Canned{}, err
	}
	defer release()
	return db.CreateCanned(ctx, title, body)
}

// DeleteCanned deletes a canned reply: the owner and admins.
func (s *Service) DeleteCanned(ctx context.Context, org *catalog.Organization, a Actor, id int64) error {
	if err := mayManage(a); err != nil {
		return err
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return err
	}
	defer release()
	return db.DeleteCanned(ctx, id)
}

// Expand fills c's placeholders for a reply on t by agentName of orgName.
func (c Canned) Expand(t Ticket, agentName, orgName string) string {
	return strings.NewReplacer(
		"{{customer_name}}", t.CustomerName,
		"{{agent_name}}", agentName,
		"{{ticket_id}}", strconv.FormatInt(t.ID, 10),
		"{{org_name}}", orgName,
	).Replace(c.Body)
}

// Settings are an organization's settings.
type Settings struct {
	// TimeZone is an IANA zone name; times are shown, and snooze times read, in it.
	TimeZone string
	Location *time.Location
	// SLA is the service levels; Calendar measures them (nil: round the clock).
	SLA      SLA
	Calendar *sla.Calendar
}

const settingTimeZone = "time_zone"

// settingKeys are the settings Settings reads.
var settingKeys = []string{settingTimeZone, settingSLAHours, settingSLAHolidays, settingSLATargets}

// Settings returns org's settings (for anyone it concerns: times are shown in its zone).
func (s *Service) Settings(ctx context.Context, org *catalog.Organization) (Settings, error) {
	ts := s.tenant(org)
	if c := ts.settings.Load(); c != nil && s.fresh(ts, c.gen, c.at) {
		return c.v, nil
	}
	gen, at := ts.gen.Load(), s.now()
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Settings{}, err
	}
	defer release()
	rows, err := db.SettingsOf(ctx, settingKeys)
	if err != nil {
		return Settings{}, err
	}
	st := Settings{TimeZone: "UTC", Location: time.UTC}
	if tz := rows[settingTimeZone]; tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			st.TimeZone, st.Location = tz, loc
		}
	}
	// Settings this release cannot read (written by hand, or by a newer release) count as
	// not set, rather than making every page fail.
	if cfg, err := decodeSLA(rows); err != nil {
		s.log.Warn("service levels unreadable", "tenant", org.Username, "err", err)
	} else if cal, err := checkSLA(cfg, st.TimeZone); err != nil {
		s.log.Warn("service levels invalid", "tenant", org.Username, "err", err)
	} else {
		st.SLA, st.Calendar = cfg, cal
	}
	ts.settings.Store(&stamped[Settings]{v: st, gen: gen, at: at})
	return st, nil
}

// SetTimeZone sets org's time zone (an IANA name such as Europe/Berlin): the owner and admins.
// Business hours are in that zone, so the due times of the tickets not closed move with it.
func (s *Service) SetTimeZone(ctx context.Context, org *catalog.Organization, a Actor, tz string) error {
	if err := mayManage(a); err != nil {
		return err
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "" || tz == "Local" || strings.ContainsAny(tz, "\x00\\") {
		return apperr.Field(apperr.Invalid, "time_zone", CodeUnknownTimeZone)
	}
	st, err := s.Settings(ctx, org)
	if err != nil {
		return err
	}
	var l *levels
	if st.SLA.Hours != nil {
		cal, err := checkSLA(st.SLA, tz)
		if err != nil {
			return apperr.Field(apperr.Invalid, "time_zone", CodeUnknownTimeZone)
		}
		l = &levels{cal: cal, targets: st.SLA.Targets}
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return err
	}
	defer release()
	err = db.inTx(ctx, "SetTimeZone", func(tx *sql.Tx) error {
		if err := setSetting(ctx, tx, settingTimeZone, tz, s.now()); err != nil || l == nil {
			return err
		}
		earliest, err := recomputeDue(ctx, tx, *l)
		if err == nil && earliest != 0 {
			s.wakeAt(ctx, org, breachWake(earliest))
		}
		return err
	})
	if err != nil {
		return err
	}
	ts.appends.Add(1)
	s.changed(ts, Event{Kind: SettingsChanged, By: a})
	return nil
}
