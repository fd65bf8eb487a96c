package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// SetPassword replaces an organization's password hash. Sessions bound to the old hash end on
// their next request (handlers compare a fingerprint of it). A missing row is NotFound.
func (s *Store) SetPassword(ctx context.Context, id int64, passwordHash string) error {
	if passwordHash == "" {
		return apperr.Field(apperr.Invalid, "password", apperr.CodeRequired)
	}
	defer s.cache.changed()
	res, err := s.db.ExecContext(ctx, "UPDATE organizations SET password_hash = ?, updated_at = ? WHERE id = ?",
		passwordHash, time.Now().Unix(), id)
	if err != nil {
		return fmt.Errorf("catalog.SetPassword: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound()
	}
	return nil
}
