package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/mail"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/golang-migrate/migrate/v4/source"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/search"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// ImportOptions are the arguments of `tenants import FILE --username NAME`.
type ImportOptions struct {
	// File is an SQLite file exported from tenantdesk (GET /dash/export) or taken by a backup.
	File string
	// Username is the new organization's handle; Name (default Username), Email and Website
	// its profile. Email is required: with Password it is the organization's login.
	Username, Name, Email, Website string
	// Password is the organization's login password; "" generates one (ImportResult has it).
	Password string
	// BcryptCost is the cost of the password hash (default 11, the server's).
	BcryptCost int
}

// ImportResult is the organization an import created.
type ImportResult struct {
	Org catalog.Organization
	// GeneratedPassword is set when the password was generated: show it once, never log it.
	GeneratedPassword string
	// FromVersion is the schema version of the file; Org.SchemaVersion the version after.
	FromVersion uint
	Rows        int64
}

// usernameRE and ReservedUsernames mirror the registration form's rules (handlers), so an
// imported organization could have registered under the same name; a handlers test keeps the
// two lists equal.
var usernameRE = regexp.MustCompile(`^[a-z0-9]{3,30}$`)

// ReservedUsernames are names that would collide with the site's own paths.
var ReservedUsernames = map[string]bool{
	"register": true, "login": true, "logout": true, "dash": true, "agent": true, "agents": true,
	"customer": true, "customers": true, "assets": true, "healthz": true, "readyz": true,
	"conversation": true, "metrics": true, "admin": true, "api": true, "static": true,
	"www": true, "catalog": true, "sessions": true, "favicon": true, "robots": true,
	"tenantdesk": true, "root": true, "support": true, "help": true,
}

// validate checks and normalises the new organization's profile and password.
func (o *ImportOptions) validate() error {
	o.Username = strings.TrimSpace(o.Username)
	o.Email = strings.ToLower(strings.TrimSpace(o.Email))
	o.Name = strings.TrimSpace(o.Name)
	o.Website = strings.TrimSpace(o.Website)
	if o.Name == "" {
		o.Name = o.Username
	}
	switch {
	case !usernameRE.MatchString(o.Username):
		return fmt.Errorf("--username %q: use 3–30 lower-case letters and digits", o.Username)
	case ReservedUsernames[o.Username]:
		return fmt.Errorf("--username %q is reserved", o.Username)
	case o.Email == "":
		return errors.New("--email is required: it is the organization's login")
	case utf8.RuneCountInString(o.Name) > 100 || strings.ContainsAny(o.Name, "\x00\r\n") || !utf8.ValidString(o.Name):
		return errors.New("--name must be one line of at most 100 characters")
	}
	if addr, err := mail.ParseAddress(o.Email); err != nil || addr.Address != o.Email ||
		!strings.Contains(o.Email[strings.LastIndexByte(o.Email, '@'):], ".") || len(o.Email) > 254 {
		return fmt.Errorf("--email %q is not a valid address", o.Email)
	}
	if o.Website != "" {
		u, err := url.Parse(o.Website)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(o.Website) > 200 {
			return fmt.Errorf("--website %q: give a full http(s) address", o.Website)
		}
	}
	if o.Password != "" {
		if n := utf8.RuneCountInString(o.Password); n < 8 || n > 64 || len(o.Password) > 72 {
			return errors.New("the password must be 8–64 characters and at most 72 bytes")
		}
	}
	return nil
}

// Import creates a new organization from an exported tenant file, on the configured backend:
// the file must be an SQLite database holding exactly tenantdesk's tenant schema at some
// version not newer than this build's (no other tables, views or triggers). The new database
// is brought to the file's version by our own migrations, the rows are copied into it, then it
// is migrated to the newest schema and added to the catalog. The file itself is never changed.
func (f *Fleet) Import(ctx context.Context, opts ImportOptions) (ImportResult, error) {
	var res ImportResult
	if err := opts.validate(); err != nil {
		return res, err
	}
	if opts.Password == "" {
		opts.Password = rand.Text()
		res.GeneratedPassword = opts.Password
	}
	if opts.BcryptCost == 0 {
		opts.BcryptCost = 11
	}
	// Fail fast on a taken name (RegisterWith checks again under its lock) before the
	// deliberately slow password hash.
	if userTaken, emailTaken, err := f.Catalog.Taken(ctx, opts.Username, opts.Email); err != nil {
		return res, err
	} else if userTaken {
		return res, apperr.Field(apperr.Conflict, "username", apperr.CodeTaken)
	} else if emailTaken {
		return res, apperr.Field(apperr.Conflict, "email", apperr.CodeTaken)
	}
	ex, err := openExport(ctx, opts.File, f.migrations())
	if err != nil {
		return res, err
	}
	defer ex.close()
	hash, err := bcrypt.GenerateFromPassword([]byte(opts.Password), opts.BcryptCost)
	if err != nil {
		return res, err
	}
	org := catalog.Organization{Name: opts.Name, Website: opts.Website, Username: opts.Username,
		Email: opts.Email, PasswordHash: string(hash), DBName: f.AppName + "-" + opts.Username}
	n, err := f.createFrom(ctx, &org, ex)
	if err != nil {
		return res, err
	}
	res.Org, res.FromVersion, res.Rows = org, ex.version, n
	f.log().Info("organization imported", "tenant", org.Username, "db", org.DBName, "from_version", ex.version,
		"version", org.SchemaVersion, "rows", n)
	return res, nil
}

// createFrom registers org with the data of ex and returns how many rows were copied.
func (f *Fleet) createFrom(ctx context.Context, org *catalog.Organization, ex *export) (int64, error) {
	var rows int64
	err := f.Tenants.RegisterWith(ctx, org, ex.base, func(ctx context.Context, db *sql.DB) error {
		n, err := copyTables(ctx, ex.db, db, ex.tables)
		rows = n
		return err
	})
	return rows, err
}

// export is a validated tenant file, opened from a private copy.
type export struct {
	db      *sql.DB
	version uint
	base    fs.FS    // the migrations up to version
	tables  []string // data tables in creation order (parents before children)
	dir     string
}

func (e *export) close() {
	e.db.Close()
	os.RemoveAll(e.dir)
}

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// openExport copies file to a private directory (opening a database can change its header,
// and the file may belong to someone else) and checks that it is a sound SQLite database with
// tenantdesk's tenant schema at a version migrations contain.
func openExport(ctx context.Context, file string, migrations fs.FS) (_ *export, err error) {
	in, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(in, head); err != nil || !bytes.Equal(head, sqliteHeader) {
		return nil, fmt.Errorf("%s is not an SQLite database", file)
	}
	dir, err := os.MkdirTemp("", "tenantdesk-import-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	copyPath := filepath.Join(dir, "data.db")
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if err := writeFile(copyPath, in); err != nil {
		return nil, err
	}
	db, err := sqlite.Open(copyPath, 1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	ex := &export{db: db, dir: dir}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	var check []byte
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&check); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	} else if string(check) != "ok" {
		return nil, fmt.Errorf("%s is damaged: %s", file, check)
	}
	v, err := schema.Current(db)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	latest, err := schema.Latest(migrations)
	if err != nil {
		return nil, err
	}
	switch {
	case v == 0:
		return nil, fmt.Errorf("%s holds no tenantdesk helpdesk (no schema version)", file)
	case v > latest:
		return nil, fmt.Errorf("%s is at schema version %d, newer than this build's %d: import it with a newer tenantdesk", file, v, latest)
	}
	ex.version = v
	ex.base = upTo{migrations, v}
	if ex.tables, err = compareSchema(ctx, db, ex.base, filepath.Join(dir, "reference.db")); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return ex, nil
}

// writeFile writes r to a new file at path and syncs it.
func writeFile(path string, r io.Reader) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// schemaObject is an entry of sqlite_master.
type schemaObject struct{ kind, name, sql string }

// objects lists db's schema (SQLite's and libSQL's internal objects aside) in creation order,
// each statement in its canonical spelling (sqld respells some).
func objects(ctx context.Context, db *sql.DB) ([]schemaObject, error) {
	rows, err := db.QueryContext(ctx, `SELECT CAST(type AS BLOB), CAST(name AS BLOB), CAST(coalesce(sql, '') AS BLOB)
		FROM sqlite_master WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE 'libsql\_%' ESCAPE '\'
		ORDER BY rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []schemaObject
	for rows.Next() {
		var o schemaObject
		if err := rows.Scan(&o.kind, &o.name, &o.sql); err != nil {
			return nil, err
		}
		o.sql = schema.Canonical(o.sql)
		out = append(out, o)
	}
	return out, rows.Err()
}

// compareSchema builds a reference database at refPath with base and requires db's schema to
// be exactly the same objects: an export holds nothing else (a trigger or a view in a file
// would otherwise run inside the new tenant). It returns the data tables to copy.
func compareSchema(ctx context.Context, db *sql.DB, base fs.FS, refPath string) ([]string, error) {
	ref, err := sqlite.Open(refPath, 1)
	if err != nil {
		return nil, err
	}
	defer ref.Close()
	if _, err := schema.Up(ref, base); err != nil {
		return nil, err
	}
	want, err := objects(ctx, ref)
	if err != nil {
		return nil, err
	}
	got, err := objects(ctx, db)
	if err != nil {
		return nil, err
	}
	have := map[string]string{}
	for _, o := range got {
		have[o.kind+" "+o.name] = o.sql
	}
	// A virtual table's shadow tables (a full-text index's <name>_data, …) are not copied: the
	// tenant schema's triggers index the rows as they are copied, and the index is rebuilt
	// from them at the end (copyTables), so nothing in the file reaches the index as it is.
	var virtual []string
	for _, o := range want {
		if o.kind == "table" && strings.HasPrefix(strings.ToUpper(o.sql), "CREATE VIRTUAL") {
			virtual = append(virtual, o.name)
		}
	}
	shadow := func(name string) bool {
		for _, v := range virtual {
			if strings.HasPrefix(name, v+"_") {
				return true
			}
		}
		return false
	}
	var tables []string
	for _, o := range want {
		sql, ok := have[o.kind+" "+o.name]
		switch {
		case !ok:
			return nil, fmt.Errorf("not a tenantdesk helpdesk of its schema version: %s %s is missing", o.kind, o.name)
		case sql != o.sql:
			return nil, fmt.Errorf("not a tenantdesk helpdesk of its schema version: %s %s differs", o.kind, o.name)
		}
		delete(have, o.kind+" "+o.name)
		if o.kind == "table" && o.name != "schema_migrations" && !strings.HasPrefix(strings.ToUpper(o.sql), "CREATE VIRTUAL") && !shadow(o.name) {
			tables = append(tables, o.name)
		}
	}
	for k := range have {
		return nil, fmt.Errorf("not a tenantdesk helpdesk: it holds %s, which tenantdesk's schema does not", k)
	}
	return tables, nil
}

// upTo is a migrations directory cut at version max: the schema an older export has.
type upTo struct {
	fsys fs.FS
	max  uint
}

func (u upTo) keep(name string) bool {
	m, err := source.DefaultParse(path.Base(name))
	return err != nil || m.Version <= u.max
}

func (u upTo) Open(name string) (fs.File, error) {
	if !u.keep(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return u.fsys.Open(name)
}

func (u upTo) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(u.fsys, name)
	if err != nil {
		return nil, err
	}
	kept := entries[:0:0]
	for _, e := range entries {
		if u.keep(e.Name()) {
			kept = append(kept, e)
		}
	}
	return kept, nil
}

// copyTables copies every row of tables from src into dst (same schema) in one transaction,
// with their storage classes and row ids. Text is read as a blob and written back as text,
// because go-libsql turns date-like text into time.Time.
func copyTables(ctx context.Context, src, dst *sql.DB, tables []string) (int64, error) {
	conn, err := dst.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return 0, err
	}
	var total int64
	err = func() error {
		// Parents come before children (creation order), but a table may refer to itself.
		if _, err := conn.ExecContext(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
			return err
		}
		for _, t := range tables {
			n, err := sqlite.CopyTable(ctx, src, conn, t)
			total += n
			if err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
		}
		if err := rebuildIndex(ctx, conn); err != nil {
			return err
		}
		return copySequences(ctx, src, conn, tables)
	}()
	if err == nil {
		_, err = conn.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		_, _ = conn.ExecContext(ctx, "ROLLBACK")
		return 0, err
	}
	return total, nil
}

// rebuildIndex builds the full-text index of the copied rows, when the schema has one: the
// triggers indexed the rows as they came, but the index's documents of tickets from before it
// (a question the conversation does not hold) only a rebuild writes.
func rebuildIndex(ctx context.Context, conn *sql.Conn) error {
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", search.Table).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	return search.Rebuild(ctx, conn)
}

// copySequences carries src's AUTOINCREMENT counters of tables over to dst, so that an id a
// deleted row once had is never given out again (links and logs may still name it). The
// inserted rows already moved dst's counters to their largest id; a counter only grows.
func copySequences(ctx context.Context, src *sql.DB, dst *sql.Conn, tables []string) error {
	var has int
	if err := src.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'").Scan(&has); err != nil {
		return fmt.Errorf("sqlite_sequence: %w", err)
	}
	if has == 0 {
		return nil
	}
	known := make(map[string]bool, len(tables))
	for _, t := range tables {
		known[t] = true
	}
	rows, err := src.QueryContext(ctx, "SELECT CAST(name AS BLOB), seq FROM sqlite_sequence WHERE typeof(seq) = 'integer' AND seq >= 0")
	if err != nil {
		return fmt.Errorf("sqlite_sequence: %w", err)
	}
	type counter struct {
		name string
		seq  int64
	}
	var counters []counter
	for rows.Next() {
		var name []byte
		var c counter
		if err := rows.Scan(&name, &c.seq); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite_sequence: %w", err)
		}
		if c.name = string(name); known[c.name] {
			counters = append(counters, c)
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("sqlite_sequence: %w", err)
	}
	for _, c := range counters {
		res, err := dst.ExecContext(ctx, "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", c.seq, c.name)
		if err != nil {
			return fmt.Errorf("sqlite_sequence %s: %w", c.name, err)
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			if err != nil {
				return fmt.Errorf("sqlite_sequence %s: %w", c.name, err)
			}
			continue
		}
		if _, err := dst.ExecContext(ctx, "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", c.name, c.seq); err != nil {
			return fmt.Errorf("sqlite_sequence %s: %w", c.name, err)
		}
	}
	return nil
}
