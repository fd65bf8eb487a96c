package fleet

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Env is what the operator commands need from the program: how to open the catalog and the
// registry (main.go does it exactly as the server does), the configuration a full restore
// needs without them, and the standard streams.
type Env struct {
	// Open opens the catalog (migrating it) and the tenant registry; close releases them.
	Open    func() (f *Fleet, close func(), err error)
	DataDir string
	Backend string
	AppName string
	// SecretFile is DATA_DIR/session.secret (backups carry it).
	SecretFile string

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Log            *slog.Logger
}

// Usage describes the operator commands.
const Usage = `tenantdesk operator commands (configuration from the environment, as for serve):

  tenantdesk migrate [--concurrency N] [--dry-run] [--tenant NAME] [--recheck]
      bring the catalog and every tenant database to the newest schema
  tenantdesk tenants list [--json] [--open] [--concurrency N]
      name, backend, schema version, size, last activity and health of every tenant
  tenantdesk tenants check [--full] [--tenant NAME] [--concurrency N]
      PRAGMA quick_check (integrity_check and foreign_key_check with --full) on every tenant;
      files under DATA_DIR that others than their owner may read
  tenantdesk tenants reindex [NAME…] [--concurrency N]
      rebuild the full-text search index of every organization (or of those named) from
      its tickets and messages
  tenantdesk tenants delete NAME [--yes]
      delete an organization, its database and its sessions, as its owner can
  tenantdesk tenants import FILE --username NAME --email EMAIL [--name NAME] [--website URL] [--password-stdin]
      create an organization from an exported SQLite file (a password is generated and
      printed once unless --password-stdin gives one)
  tenantdesk backup --out DIR [--concurrency N] [--include-replicas]
      consistent snapshot of the catalog and every local tenant, with manifest.json; resumable
  tenantdesk restore --from DIR [--tenant NAME] [--force]
      verify the checksums and put one organization (--tenant) or everything back;
      a full restore needs the server stopped
`

// ErrFailed is returned (wrapped) when a command ran but some tenants failed: the process
// exits non-zero.
var ErrFailed = errors.New("some tenants failed")

// Main runs one operator command; args start with the command's name ("migrate",
// "tenants", "backup", "restore").
func Main(ctx context.Context, args []string, env Env) error {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, Usage)
		return errors.New("no command")
	}
	cmd, args := args[0], args[1:]
	if cmd == "tenants" {
		if len(args) == 0 {
			fmt.Fprint(env.Stderr, Usage)
			return errors.New("tenants: want list, check, reindex, delete or import")
		}
		cmd, args = "tenants "+args[0], args[1:]
	}
	fl := flag.NewFlagSet("tenantdesk "+cmd, flag.ContinueOnError)
	fl.SetOutput(env.Stderr)
	fl.Usage = func() { fmt.Fprint(env.Stderr, Usage) }
	concurrency := fl.Int("concurrency", 0, "tenants handled at once (default: by backend)")
	tenant := fl.String("tenant", "", "only this organization (username)")
	var run func(f *Fleet, pos []string) error
	needsFleet := true
	switch cmd {
	case "migrate":
		dry := fl.Bool("dry-run", false, "list what would change; change nothing")
		recheck := fl.Bool("recheck", false, "open tenants the catalog records as current too")
		run = func(f *Fleet, pos []string) error {
			opts := MigrateOptions{Concurrency: *concurrency, DryRun: *dry, Tenant: *tenant, Recheck: *recheck}
			res, err := f.Migrate(ctx, opts)
			if err != nil {
				return err
			}
			f.PrintMigrate(res, *dry)
			if res.Failed() {
				return fmt.Errorf("migrate: %d tenants failed, %d not started: %w", len(res.Failures), res.NotStarted, ErrFailed)
			}
			return nil
		}
	case "tenants list":
		asJSON := fl.Bool("json", false, "print JSON")
		open := fl.Bool("open", false, "open remote databases too (slow: one replica each)")
		run = func(f *Fleet, pos []string) error {
			ts, err := f.List(ctx, ListOptions{Concurrency: *concurrency, Open: *open})
			if err != nil {
				return err
			}
			return f.PrintList(ts, *asJSON)
		}
	case "tenants check":
		full := fl.Bool("full", false, "PRAGMA integrity_check and foreign_key_check (slower)")
		run = func(f *Fleet, pos []string) error {
			res, err := f.Check(ctx, CheckOptions{Concurrency: *concurrency, Full: *full, Tenant: *tenant})
			f.PrintCheck(res)
			if err != nil {
				return err
			}
			if len(res.Failures) > 0 {
				return fmt.Errorf("check: %d tenants with problems: %w", len(res.Failures), ErrFailed)
			}
			if len(res.Loose) > 0 {
				return fmt.Errorf("check: %d files or directories readable by others: %w", len(res.Loose), ErrFailed)
			}
			return nil
		}
	case "tenants reindex":
		run = func(f *Fleet, pos []string) error {
			res, err := f.Reindex(ctx, ReindexOptions{Tenants: pos, Concurrency: *concurrency})
			if err != nil {
				return err
			}
			f.PrintReindex(res)
			if res.Failed() {
				return fmt.Errorf("reindex: %d tenants failed, %d not started: %w", len(res.Failures), res.NotStarted, ErrFailed)
			}
			return nil
		}
	case "tenants delete":
		yes := fl.Bool("yes", false, "do not ask for the name again")
		run = func(f *Fleet, pos []string) error {
			if len(pos) != 1 {
				return errors.New("tenants delete: give one organization username")
			}
			if !*yes {
				fmt.Fprintf(env.Stderr, "This deletes %s, its whole helpdesk database and its sessions, for good.\n"+
					"Type the organization's username to confirm: ", pos[0])
				line, _ := bufio.NewReader(env.Stdin).ReadString('\n')
				if strings.TrimSpace(line) != pos[0] {
					return errors.New("tenants delete: not confirmed; nothing deleted (--yes skips the question)")
				}
			}
			org, err := f.Delete(ctx, pos[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "deleted %s (database %s, %s backend)\n", org.Username, org.DBName, org.DBBackend)
			if d, ok, err := f.Catalog.PendingDrop(ctx, org.DBBackend, org.DBName); err == nil && ok {
				fmt.Fprintf(env.Stdout, "its database is not deleted on the backend yet (%s); the server retries it, "+
					"and `tenantdesk tenants check` lists it until the backend confirms\n", oneLine(errors.New(d.LastError)))
			}
			return nil
		}
	case "tenants import":
		var o ImportOptions
		fl.StringVar(&o.Username, "username", "", "the new organization's username (required)")
		fl.StringVar(&o.Email, "email", "", "its login email (required)")
		fl.StringVar(&o.Name, "name", "", "its display name (default: the username)")
		fl.StringVar(&o.Website, "website", "", "its website")
		pwStdin := fl.Bool("password-stdin", false, "read the login password from the first line of standard input")
		run = func(f *Fleet, pos []string) error {
			if len(pos) != 1 {
				return errors.New("tenants import: give one FILE")
			}
			o.File = pos[0]
			if *pwStdin {
				line, err := bufio.NewReader(env.Stdin).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return err
				}
				if o.Password = strings.TrimRight(line, "\r\n"); o.Password == "" {
					return errors.New("tenants import: --password-stdin: standard input held no password")
				}
			}
			res, err := f.Import(ctx, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "imported %s as %s (database %s on %s): schema version %d → %d, %d rows\n",
				o.File, res.Org.Username, res.Org.DBName, res.Org.DBBackend, res.FromVersion, res.Org.SchemaVersion, res.Rows)
			fmt.Fprintf(env.Stdout, "login: %s at /login", res.Org.Email)
			if res.GeneratedPassword != "" {
				fmt.Fprintf(env.Stdout, " with the password %s (shown only now; change it after logging in)", res.GeneratedPassword)
			}
			fmt.Fprintln(env.Stdout)
			return nil
		}
	case "backup":
		out := fl.String("out", "", "directory to write the backup to (required)")
		replicas := fl.Bool("include-replicas", false, "also snapshot tenants on a remote backend (their replica)")
		run = func(f *Fleet, pos []string) error {
			res, err := f.Backup(ctx, BackupOptions{Out: *out, Concurrency: *concurrency, IncludeReplicas: *replicas,
				SecretFile: env.SecretFile})
			f.PrintBackup(res, *out)
			if err != nil && len(res.Failures) > 0 {
				return fmt.Errorf("%w: %w", err, ErrFailed)
			}
			return err
		}
	case "restore":
		from := fl.String("from", "", "backup directory (required)")
		force := fl.Bool("force", false, "replace a live organization, or an existing catalog")
		run = func(f *Fleet, pos []string) error {
			opts := RestoreOptions{From: *from, Tenant: *tenant, Force: *force}
			if opts.From == "" {
				return errors.New("restore: --from DIR is required")
			}
			if opts.Tenant == "" {
				if env.Backend != "" && env.Backend != "local" {
					return fmt.Errorf("restore: a full restore is for the local backend; on %s restore organizations one at a time with --tenant NAME", env.Backend)
				}
				fmt.Fprintln(env.Stderr, "restore: a full restore replaces DATA_DIR's catalog and tenant files: the server must not be running")
				m, err := RestoreAll(ctx, env.DataDir, opts, env.Stderr)
				if err != nil {
					return err
				}
				n := 0
				for _, mf := range m.Files {
					if mf.Kind == "tenant" {
						n++
					}
				}
				fmt.Fprintf(env.Stdout, "restored the catalog and %d tenants from %s (taken %s) into %s\n", n, opts.From,
					m.CompletedAt.Format("2006-01-02 15:04:05 MST"), env.DataDir)
				return nil
			}
			org, err := f.RestoreTenant(ctx, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "restored %s (database %s, schema version %d) from %s\n", org.Username, org.DBName, org.SchemaVersion, opts.From)
			return nil
		}
	default:
		fmt.Fprint(env.Stderr, Usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	pos, err := parseInterspersed(fl, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if cmd == "restore" {
		needsFleet = *tenant != ""
	}
	if !needsFleet {
		return run(nil, pos)
	}
	f, closeFleet, err := env.Open()
	if err != nil {
		return err
	}
	defer closeFleet()
	f.Out, f.Err = env.Stdout, env.Stderr
	if f.Log == nil {
		f.Log = env.Log
	}
	return run(f, pos)
}

// parseInterspersed parses flags that may come before, between or after positional
// arguments (`tenants import FILE --username x`), which flag.Parse alone stops at.
func parseInterspersed(fl *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fl.Parse(args); err != nil {
			return nil, err
		}
		args = fl.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
