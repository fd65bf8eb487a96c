package desk

import (
	"context"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// Querier is what a producer reads through, for tests outside the package.
type Querier = querier

// ChangeOf is what a producer learns of a change, for tests outside the package.
type ChangeOf = change

// AddProducer adds a producer, for tests outside the package.
func (s *Service) AddProducer(p func(ctx context.Context, q Querier, org *catalog.Organization, c ChangeOf) ([]OutboxItem, error)) {
	s.addProducer(p)
}
