package tenantdb

// Closing a tenant database is not free: SQLite checkpoints the WAL and removes it when the
// last connection closes (0.1–0.6 ms here, more with a busy disk), and a replica waits for its
// native calls. The LRU evicts under the registry's mutex, which every request takes to
// acquire its database; closing there made one cold tenant stall every request. closeDB only
// queues the database, and whoever releases the mutex closes what is queued — the request that
// caused the eviction, or the last user of an evicted database — outside it.

import (
	"context"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// takeQueued returns and clears the databases waiting to be closed (r.mu held).
func (r *Registry) takeQueued() []*Handle {
	q := r.closeq
	r.closeq = nil
	return q
}

// closeAll closes databases taken from the queue (r.mu not held).
func (r *Registry) closeAll(q []*Handle) {
	for _, h := range q {
		// What Changes says of it now, so that the close itself is no change (noteClosed).
		open, err := h.db.Changes(context.Background())
		counted := err == nil
		if err := h.db.Close(); err != nil {
			r.log.Error("close tenant database", "db", h.Name, "err", err)
			counted = false
		}
		r.noteClosed(h, open, counted)
		r.unhold(h.Name)
		if w, ok := h.db.(closeWaiter); ok {
			r.mu.Lock()
			if r.closed {
				r.closing = append(r.closing, w)
			}
			r.mu.Unlock()
		}
	}
}

// stillRegistered checks, before a database is opened for org, that the catalog still holds
// org under the same id and database name: an organization read earlier (a cache, a request
// racing a deletion, another process that deleted it and registered the name again) must
// never open whatever now lives under its database name. It answers like a failed open.
func (r *Registry) stillRegistered(ctx context.Context, org catalog.Organization) error {
	cur, err := r.catalog.ByID(ctx, org.ID)
	if err == nil && cur.DBName == org.DBName && (org.CreatedAt.IsZero() || cur.CreatedAt.Equal(org.CreatedAt)) {
		return nil
	}
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		r.log.Error("check tenant in the catalog", "tenant", org.Username, "err", err)
	} else {
		r.log.Warn("not opening a tenant database the catalog no longer holds for this organization",
			"tenant", org.Username, "db", org.DBName, "org_id", org.ID)
	}
	return apperr.New(apperr.Unavailable, CodeUnavailable)
}
