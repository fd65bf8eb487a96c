package desk

import (
	"context"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// Register creates org's helpdesk: its database is made and migrated, then org is added to
// the catalog (all or nothing, see tenantdb.Registry.Register). Anyone may register.
func (s *Service) Register(ctx context.Context, org *catalog.Organization) error {
	return s.reg.Register(ctx, org)
}

// DeleteTenant removes org, its database and everything known about it: the owner (or the
// system) only. Requests still holding the database finish first.
func (s *Service) DeleteTenant(ctx context.Context, org *catalog.Organization, a Actor) error {
	if a.Kind != Owner && a.Kind != System {
		return apperr.New(apperr.Forbidden, CodeForbidden)
	}
	err := s.reg.Delete(ctx, *org)
	s.forget(org)
	if err != nil {
		return err
	}
	s.feed.publish(Event{Kind: TenantDeleted, Tenant: tenantOf(org), By: a})
	return nil
}

// Export writes a consistent snapshot of org's whole database — everything the organization
// owns — to path, a new SQLite file: the owner (or the system) only.
func (s *Service) Export(ctx context.Context, org *catalog.Organization, a Actor, path string) error {
	if a.Kind != Owner && a.Kind != System {
		return apperr.New(apperr.Forbidden, CodeForbidden)
	}
	// Recorded before the snapshot, so that no export leaves without its entry (and the
	// export holds it).
	if err := s.record(ctx, org, a, audit{event: AuditExportDownloaded}); err != nil {
		return err
	}
	h, err := s.reg.Acquire(ctx, *org)
	if err != nil {
		return err
	}
	defer h.Release()
	return h.Snapshot(path)
}
