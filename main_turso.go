package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// maxUsername is the registration form's own limit on usernames.
const maxUsername = 30

// orgSlugRE is a Turso organization slug: it ends every database's host name label.
var orgSlugRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// maxUsernameLength is the longest username a new organization may take: with
// TENANT_BACKEND=turso its database <APP_NAME>-<username> must leave room for
// -<APP_ORGANIZATION> in one DNS label of its host name.
func (c Config) maxUsernameLength() int {
	if c.TenantBackend != "turso" {
		return maxUsername
	}
	return min(maxUsername, tenantdb.TursoNameLimit(c.AppOrganization)-len(c.AppName)-1)
}

// validateTursoNames refuses names that would make Turso refuse databases: an organization
// slug that is not a DNS label, an APP_NAME ending in "-" (the database names would hold "--",
// which DNS reserves at some positions), and names so long that fewer than 3 username
// characters fit the host name.
func (c Config) validateTursoNames() error {
	if !orgSlugRE.MatchString(c.AppOrganization) || len(c.AppOrganization) > 61 {
		return fmt.Errorf("APP_ORGANIZATION %q must be a Turso organization slug: lower-case letters, digits and dashes", c.AppOrganization)
	}
	if strings.HasSuffix(c.AppName, "-") {
		return fmt.Errorf("APP_NAME %q must not end in '-' with TENANT_BACKEND=turso: database names are <APP_NAME>-<username>", c.AppName)
	}
	if n := c.maxUsernameLength(); n < 3 {
		return fmt.Errorf("APP_NAME %q and APP_ORGANIZATION %q leave room for %d username characters in Turso host names "+
			"(<APP_NAME>-<username>-<APP_ORGANIZATION> must fit in 63 characters); at least 3 are needed: choose a shorter APP_NAME",
			c.AppName, c.AppOrganization, max(n, 0))
	}
	return nil
}
