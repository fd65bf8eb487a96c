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
}

const settingTimeZone = "time_zone"

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
	tz, err := db.Setting(ctx, settingTimeZone)
	if err != nil {
		return Settings{}, err
	}
	st := Settings{TimeZone: "UTC", Location: time.UTC}
	if tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			st.TimeZone, st.Location = tz, loc
		}
	}
	ts.settings.Store(&stamped[Settings]{v: st, gen: gen, at: at})
	return st, nil
}

// SetTimeZone sets org's time zone (an IANA name such as Europe/Berlin): the owner and admins.
func (s *Service) SetTimeZone(ctx context.Context, org *catalog.Organization, a Actor, tz string) error {
	if err := mayManage(a); err != nil {
		return err
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "" || tz == "Local" || strings.ContainsAny(tz, "\x00\\") {
		return apperr.Field(apperr.Invalid, "time_zone", CodeUnknownTimeZone)
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return err
	}
	defer release()
	err = db.inTx(ctx, "SetTimeZone", func(tx *sql.Tx) error {
		old, err := db.setting(ctx, tx, settingTimeZone)
		if err != nil {
			return err
		}
		if err := db.SetSetting(ctx, tx, settingTimeZone, tz); err != nil || old == tz {
			return err
		}
		if old == "" {
			old = "UTC"
		}
		return writeAudit(ctx, tx, stamp(s.now), a, audit{event: AuditSettingsChanged, targetKind: TargetSettings,
			detail: map[string]string{"setting": settingTimeZone, "from": old, "to": tz}})
	})
	if err != nil {
		return err
	}
	ts.appends.Add(1)
	s.changed(ts, Event{Kind: SettingsChanged, By: a})
	return nil
}
