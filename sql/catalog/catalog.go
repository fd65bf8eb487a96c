// Package catalog stores the organizations that registered and where each one's database lives.
// It is the only database shared by all tenants; nothing tenant-private is kept here.
package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// Organization is a registered organization. Username is its public handle (URLs, database
// name); DBName and DBURL say where its database lives on the tenant backend.
type Organization struct {
	ID             int64
	Name           string
	Website        string
	Username       string
	Email          string
	PasswordHash   string
	Logo           string
	DBName         string
	DBURL          string
	SchemaVersion  uint
	MigrationError string
	MigratedAt     time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time

	// DBBackend is the tenantdb backend that created the database ("local", "sqld",
	// "turso"); "" reads as local. DBSecret is the credential that opens it, sealed by
	// tenantdb.Sealer: never stored or held here in clear.
	DBBackend string
	DBSecret  string
}

// Store reads and writes the catalog database.
type Store struct {
	db *sql.DB
	// cache keeps organizations for the lookups every request makes (cache.go).
	cache *orgCache
}

// New returns a Store on db, which must already be migrated to the catalog schema.
func New(db *sql.DB) *Store { return &Store{db: db, cache: newOrgCache()} }

// CodeNotFound is the code of an organization that does not exist.
const CodeNotFound apperr.Code = "organization_not_found"

func notFound() error { return apperr.New(apperr.NotFound, CodeNotFound) }

// DB returns the underlying database, for health checks and migrations.
func (s *Store) DB() *sql.DB { return s.db }

// Text columns are selected as BLOB: go-libsql would otherwise turn any date-like text into a
// time.Time (and spend most of a row's decoding time trying date layouts).
const orgColumns = `id, CAST(name AS BLOB), CAST(website AS BLOB), CAST(username AS BLOB),
	CAST(email AS BLOB), CAST(password_hash AS BLOB), CAST(logo AS BLOB), CAST(db_name AS BLOB),
	CAST(db_url AS BLOB), schema_version, CAST(migration_error AS BLOB), migrated_at,
	created_at, updated_at, CAST(db_backend AS BLOB), CAST(db_secret AS BLOB)`

func scanOrg(row interface{ Scan(...any) error }) (Organization, error) {
	var o Organization
	var migrated, created, updated int64
	err := row.Scan(&o.ID, &o.Name, &o.Website, &o.Username, &o.Email, &o.PasswordHash, &o.Logo,
		&o.DBName, &o.DBURL, &o.SchemaVersion, &o.MigrationError, &migrated, &created, &updated,
		&o.DBBackend, &o.DBSecret)
	o.MigratedAt, o.CreatedAt, o.UpdatedAt = unix(migrated), unix(created), unix(updated)
	return o, err
}

func unix(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// Create inserts org and sets its ID and times (and DBBackend to "local" when empty). A
// taken username or email is a Conflict (CodeTaken) on that field.
func (s *Store) Create(ctx context.Context, org *Organization) error {
	now := time.Now().UTC().Truncate(time.Second)
	if org.DBBackend == "" {
		org.DBBackend = "local"
	}
	defer s.cache.changed()
	// ON CONFLICT DO NOTHING reports a taken username, email or database name as "no row"
	// instead of an error whose text would have to be parsed.
	err := s.db.QueryRowContext(ctx, `INSERT INTO organizations
		(name, website, username, email, password_hash, logo, db_name, db_url, schema_version,
		 migrated_at, created_at, updated_at, db_backend, db_secret)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
		org.Name, org.Website, org.Username, org.Email, org.PasswordHash, org.Logo, org.DBName,
		org.DBURL, int64(org.SchemaVersion), now.Unix(), now.Unix(), now.Unix(),
		org.DBBackend, org.DBSecret).Scan(&org.ID)
	if errors.Is(err, sql.ErrNoRows) {
		userTaken, emailTaken, terr := s.Taken(ctx, org.Username, org.Email)
		switch {
		case terr != nil:
			return terr
		case emailTaken && !userTaken:
			return apperr.Field(apperr.Conflict, "email", apperr.CodeTaken)
		}
		// The username, or the database name derived from it.
		return apperr.Field(apperr.Conflict, "username", apperr.CodeTaken)
	}
	if err != nil {
		return fmt.Errorf("catalog.Create: %w", err)
	}
	org.MigratedAt, org.CreatedAt, org.UpdatedAt = now, now, now
	return nil
}

func (s *Store) one(ctx context.Context, op, where string, arg any) (Organization, error) {
	org, err := scanOrg(s.db.QueryRowContext(ctx, "SELECT "+orgColumns+" FROM organizations WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Organization{}, notFound()
	}
	if err != nil {
		return Organization{}, fmt.Errorf("catalog.%s: %w", op, err)
	}
	return org, nil
}

// ByUsername returns the organization with this username, or a NotFound error.
func (s *Store) ByUsername(ctx context.Context, username string) (Organization, error) {
	return s.one(ctx, "ByUsername", "username = ?", username)
}

// ByEmail returns the organization with this (lower-case) email, or a NotFound error.
func (s *Store) ByEmail(ctx context.Context, email string) (Organization, error) {
	return s.one(ctx, "ByEmail", "email = ?", email)
}

// ByID returns the organization with this id, or a NotFound error.
func (s *Store) ByID(ctx context.Context, id int64) (Organization, error) {
	return s.one(ctx, "ByID", "id = ?", id)
}

// Taken reports whether the username or the email is already registered.
func (s *Store) Taken(ctx context.Context, username, email string) (usernameTaken, emailTaken bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM organizations WHERE username = ?),
		EXISTS (SELECT 1 FROM organizations WHERE email = ?)`, username, email).Scan(&usernameTaken, &emailTaken)
	if err != nil {
		return false, false, fmt.Errorf("catalog.Taken: %w", err)
	}
	return usernameTaken, emailTaken, nil
}

// Listing is the public part of an organization, shown on the landing page.
type Listing struct {
	Name     string
	Username string
	Website  string
}

// List returns up to limit organizations ordered by name, starting after offset rows.
func (s *Store) List(ctx context.Context, limit, offset int) ([]Listing, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT CAST(name AS BLOB), CAST(username AS BLOB),
		CAST(website AS BLOB) FROM organizations ORDER BY name, id LIMIT ? OFFSET ?`, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("catalog.List: %w", err)
	}
	defer rows.Close()
	var out []Listing
	for rows.Next() {
		var l Listing
		if err := rows.Scan(&l.Name, &l.Username, &l.Website); err != nil {
			return nil, fmt.Errorf("catalog.List: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog.List: %w", err)
	}
	return out, nil
}

// All returns every organization, for operator commands that walk the fleet.
func (s *Store) All(ctx context.Context) ([]Organization, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+orgColumns+" FROM organizations ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("catalog.All: %w", err)
	}
	defer rows.Close()
	var out []Organization
	for rows.Next() {
		org, err := scanOrg(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog.All: %w", err)
		}
		out = append(out, org)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog.All: %w", err)
	}
	return out, nil
}

// SetSchemaVersion records the schema version a tenant database is at after a migration
// attempt, and the attempt's error ("" on success).
func (s *Store) SetSchemaVersion(ctx context.Context, id int64, version uint, migrationErr string) error {
	defer s.cache.changed()
	now := time.Now().Unix()
	_, err := s.db.ExecContext(ctx, `UPDATE organizations SET schema_version = ?, migration_error = ?,
		migrated_at = ?, updated_at = ? WHERE id = ?`, int64(version), migrationErr, now, now, id)
	if err != nil {
		return fmt.Errorf("catalog.SetSchemaVersion: %w", err)
	}
	return nil
}

// Delete removes the organization's row. A missing row is a NotFound error.
func (s *Store) Delete(ctx context.Context, id int64) error {
	defer s.cache.changed()
	res, err := s.db.ExecContext(ctx, "DELETE FROM organizations WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("catalog.Delete: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound()
	}
	return nil
}

// Ping checks that the catalog answers a query. (go-libsql's Ping always succeeds.)
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("catalog.Ping: %w", err)
	}
	return nil
}
