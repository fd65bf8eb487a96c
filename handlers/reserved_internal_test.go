package handlers

import (
	"maps"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/fleet"
)

// TestReservedUsernamesMatchImport keeps `tenants import` (sql/fleet) refusing exactly the
// usernames the registration form refuses.
func TestReservedUsernamesMatchImport(t *testing.T) {
	if !maps.Equal(reservedUsernames, fleet.ReservedUsernames) {
		t.Fatalf("handlers.reservedUsernames and fleet.ReservedUsernames differ:\n%v\n%v", reservedUsernames, fleet.ReservedUsernames)
	}
	if usernameRE.String() != `^[a-z0-9]{3,30}$` {
		t.Fatalf("the username pattern changed to %s: change sql/fleet's import check too", usernameRE)
	}
}
