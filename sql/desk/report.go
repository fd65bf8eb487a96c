package desk

import (
	"context"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/report"
)

// Report computes the support figures of period p (parsed in the organization's time zone)
// for the owner and admins: in business time when business hours are set, with breaches
// counted against the service-level targets. It reads outside a transaction (report.Compute).
func (s *Service) Report(ctx context.Context, org *catalog.Organization, a Actor, p report.Period) (*report.Report, error) {
	if err := mayManage(a); err != nil {
		return nil, err
	}
	settings, err := s.Settings(ctx, org)
	if err != nil {
		return nil, err
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	return report.Compute(ctx, db.db, p, report.Options{Calendar: settings.Calendar, Targets: settings.SLA.Targets, Now: s.now()})
}
