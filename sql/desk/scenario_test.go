package desk_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

var (
	catalogMigrations = os.DirFS("../migrations/catalog")
	tenantMigrations  = os.DirFS("../migrations/tenant")
)

// world is two organizations on real local files: acme, with agents Ann and Bob, Ann's
// conversation with customer one (ticket one) and customer two's ticket waiting; and beta,
// with agent Bea and no tickets.
type world struct {
	dir        string
	svc        *desk.Service
	acme, beta *catalog.Organization
	ann, bob   desk.Agent
	bea        desk.Agent
	one, two   desk.Ticket
	conv       int64
	// tokenOne and tokenTwo are the customers' hashed tokens.
	tokenOne, tokenTwo [32]byte
}

// newService returns a Service on a fresh catalog and local tenant files.
func newService(t *testing.T) (*desk.Service, string) {
	t.Helper()
	dir := t.TempDir()
	catDB, err := sqlite.Open(filepath.Join(dir, "catalog.db"), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catDB.Close() })
	if _, err := schema.Up(catDB, catalogMigrations); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cat := catalog.New(catDB)
	reg, err := tenantdb.New(tenantdb.Config{Backend: tenantdb.Local{Dir: dir}, Catalog: cat,
		Migrations: tenantMigrations, MaxOpen: 8, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	svc := desk.New(desk.Config{Registry: reg, Log: log})
	t.Cleanup(svc.Close)
	return svc, dir
}

// worlds numbers the worlds made on one Service, so each has organizations of its own.
var worlds int

// newWorld makes a world of two fresh organizations on svc.
func newWorld(t *testing.T, svc *desk.Service, dir string) *world {
	t.Helper()
	worlds++
	w := &world{dir: t.TempDir(), svc: svc}
	ctx := context.Background()
	var err error
	register := func(prefix string) *catalog.Organization {
		name := fmt.Sprintf("%s%d", prefix, worlds)
		org := &catalog.Organization{Name: strings.ToUpper(prefix), Username: name, Email: "owner@" + name + ".example",
			PasswordHash: "x", DBName: "tenantdesk-" + name}
		if err := w.svc.Register(ctx, org); err != nil {
			t.Fatal(err)
		}
		return org
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	w.acme, w.beta = register("acme"), register("beta")
	w.ann, err = w.svc.CreateAgent(ctx, w.acme, desk.AsOwner("Owner"), "Ann", "ann@acme.example", "h")
	must(err)
	w.bob, err = w.svc.CreateAgent(ctx, w.acme, desk.AsOwner("Owner"), "Bob", "bob@acme.example", "h")
	must(err)
	w.bea, err = w.svc.CreateAgent(ctx, w.beta, desk.AsOwner("Owner"), "Bea", "bea@beta.example", "h")
	must(err)
	var token string
	w.one, token, err = w.svc.OpenTicket(ctx, w.acme, desk.AsPublic(), desk.NewTicket{CustomerName: "Customer One",
		CustomerEmail: "one@acme-customer.example", Query: "acme question one"})
	must(err)
	w.tokenOne = sha256.Sum256([]byte(token))
	w.two, token, err = w.svc.OpenTicket(ctx, w.acme, desk.AsPublic(), desk.NewTicket{CustomerName: "Customer Two",
		CustomerEmail: "two@acme-customer.example", Query: "acme question two"})
	must(err)
	w.tokenTwo = sha256.Sum256([]byte(token))
	w.conv, err = w.svc.Take(ctx, w.acme, desk.AsAgent(w.ann), w.one.ID)
	must(err)
	_, err = w.svc.AddMessage(ctx, w.acme, desk.AsCustomer(w.tokenOne), w.conv, "acme secret message")
	must(err)
	return w
}

// actor is one row's caller: an actor of one organization.
type actor struct {
	name string
	org  func(w *world) *catalog.Organization
	as   func(w *world) desk.Actor
}

var actors = []actor{
	{"owner", func(w *world) *catalog.Organization { return w.acme }, func(w *world) desk.Actor { return desk.AsOwner("Owner") }},
	{"ticket's agent", func(w *world) *catalog.Organization { return w.acme }, func(w *world) desk.Actor { return desk.AsAgent(w.ann) }},
	{"other agent", func(w *world) *catalog.Organization { return w.acme }, func(w *world) desk.Actor { return desk.AsAgent(w.bob) }},
	{"ticket's customer", func(w *world) *catalog.Organization { return w.acme }, func(w *world) desk.Actor { return desk.AsCustomer(w.tokenOne) }},
	{"other ticket's customer", func(w *world) *catalog.Organization { return w.acme }, func(w *world) desk.Actor { return desk.AsCustomer(w.tokenTwo) }},
	{"other tenant's owner", func(w *world) *catalog.Organization { return w.beta }, func(w *world) desk.Actor { return desk.AsOwner("Owner") }},
	{"other tenant's agent", func(w *world) *catalog.Organization { return w.beta }, func(w *world) desk.Actor { return desk.AsAgent(w.bea) }},
	// A customer of acme presenting its token at beta: tokens open only their own tenant.
	{"other tenant's customer", func(w *world) *catalog.Organization { return w.beta }, func(w *world) desk.Actor { return desk.AsCustomer(w.tokenOne) }},
}

// Outcomes of a row. own is allowed, but on the actor's own resource only: a customer's calls
// name no ticket (its token does), and ids are per tenant, so beta's agent 1 is Bea.
const (
	own       = "own"
	ok        = "ok"
	notFound  = "not found"
	forbidden = "forbidden"
	conflict  = "conflict"
)

// operation is one Service call on acme's ticket one (or its agents), made by an actor. It
// returns what the call returned, as text, for the leak check.
type operation struct {
	name string
	// closed closes ticket one first (for rating).
	closed bool
	// fresh runs the operation on a world of its own: it changes what the others see.
	fresh bool
	do    func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error)
	// want is the outcome per actor, in the order of actors.
	want [8]string
}

func show(v any, err error) (string, error) { return fmt.Sprintf("%+v", v), err }

var operations = []operation{
	{name: "read the ticket", want: [8]string{ok, ok, ok, ok, own, notFound, notFound, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.Ticket(ctx, org, a, w.conv))
		}},
	{name: "read the conversation", want: [8]string{ok, ok, ok, ok, own, notFound, notFound, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.Thread(ctx, org, a, w.conv, 50))
		}},
	{name: "poll", want: [8]string{ok, ok, ok, ok, own, notFound, notFound, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.Poll(ctx, org, a, w.conv, 0, 50))
		}},
	// Bob may not write on Ann's ticket without taking it; customer two writes on its own.
	{name: "write a message", want: [8]string{ok, ok, forbidden, ok, own, notFound, notFound, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.AddMessage(ctx, org, a, w.conv, "a new message"))
		}},
	// Files for a message: whoever may write the message (nothing is stored here).
	{name: "start an upload", want: [8]string{ok, ok, forbidden, ok, own, notFound, notFound, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			u, err := w.svc.StartUpload(ctx, org, a, w.conv)
			if err != nil {
				return "", err
			}
			u.Discard()
			return "", nil
		}},
	{name: "storage figures", want: [8]string{ok, ok, ok, forbidden, forbidden, own, own, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.Storage(ctx, org, a))
		}},
	{name: "add a note", want: [8]string{ok, ok, ok, forbidden, forbidden, notFound, notFound, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.AddNote(ctx, org, a, w.conv, "a note"))
		}},
	{name: "see presence", want: [8]string{ok, ok, ok, forbidden, forbidden, notFound, notFound, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.Presence(ctx, org, a, w.conv, false))
		}},
	// Tickets named by id: a customer's own is forbidden, another's unknown.
	{name: "close", fresh: true, want: [8]string{ok, ok, ok, forbidden, notFound, notFound, notFound, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.CloseTicket(ctx, org, a, w.one.ID))
		}},
	{name: "assign Ann's ticket to Bob", fresh: true, want: [8]string{ok, ok, forbidden, forbidden, notFound, notFound, notFound, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return "", w.svc.Assign(ctx, org, a, w.one.ID, w.bob.ID)
		}},
	{name: "change the priority", fresh: true, want: [8]string{ok, ok, ok, forbidden, notFound, notFound, notFound, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return "", w.svc.SetPriority(ctx, org, a, w.one.ID, desk.PriorityUrgent)
		}},
	// Rating names no ticket: a customer rates its own (customer two's is not closed).
	{name: "rate", closed: true, fresh: true, want: [8]string{notFound, notFound, notFound, ok, conflict, notFound, notFound, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return "", w.svc.Rate(ctx, org, a, 5, "")
		}},
	// Beta has no ticket of that id.
	{name: "take a waiting ticket", fresh: true, want: [8]string{forbidden, ok, ok, forbidden, forbidden, forbidden, notFound, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.Take(ctx, org, a, w.two.ID))
		}},
	{name: "list the open tickets", want: [8]string{ok, ok, ok, forbidden, forbidden, own, own, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.Queue(ctx, org, a, desk.QueueQuery{View: desk.ViewAll, Priority: -1, Limit: 50}))
		}},
	// A search at beta finds beta's tickets only, whatever it asks for.
	{name: "search", want: [8]string{ok, ok, ok, forbidden, forbidden, own, own, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.Search(ctx, org, a, desk.SearchQuery{Text: "acme question one secret message #1", Priority: -1}))
		}},
	{name: "count tickets", want: [8]string{ok, ok, ok, forbidden, forbidden, own, own, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.Counts(ctx, org, a))
		}},
	{name: "read the contact", want: [8]string{ok, ok, ok, notFound, notFound, notFound, notFound, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			c, ts, err := w.svc.Contact(ctx, org, a, w.one.ContactID, 50)
			return fmt.Sprintf("%+v %+v", c, ts), err
		}},
	// Beta's owner finds beta's agent of the same id, never acme's; so does Bea (herself).
	{name: "read an agent", want: [8]string{ok, ok, ok, notFound, notFound, own, own, notFound},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.Agent(ctx, org, a, w.ann.ID))
		}},
	{name: "list agents", want: [8]string{ok, ok, ok, forbidden, forbidden, own, own, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.Agents(ctx, org, a, 50))
		}},
	{name: "list canned replies", want: [8]string{ok, ok, ok, forbidden, forbidden, own, own, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.CannedReplies(ctx, org, a))
		}},
	{name: "create a canned reply", want: [8]string{ok, forbidden, forbidden, forbidden, forbidden, own, forbidden, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.CreateCanned(ctx, org, a, "Hello", "Hello {{customer_name}}"))
		}},
	{name: "onboard an agent", want: [8]string{ok, forbidden, forbidden, forbidden, forbidden, own, forbidden, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.CreateAgent(ctx, org, a, "New", "new@"+org.Username+".example", "h"))
		}},
	{name: "remove an agent", fresh: true, want: [8]string{ok, forbidden, forbidden, forbidden, forbidden, own, forbidden, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.RemoveAgent(ctx, org, a, w.ann.ID))
		}},
	{name: "make an agent admin", fresh: true, want: [8]string{ok, forbidden, forbidden, forbidden, forbidden, own, forbidden, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.SetRole(ctx, org, a, w.ann.ID, desk.RoleAdmin))
		}},
	{name: "reset an agent's password", want: [8]string{ok, forbidden, forbidden, forbidden, forbidden, own, forbidden, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return show(w.svc.ResetAgentPassword(ctx, org, a, w.ann.ID, "new hash"))
		}},
	{name: "set Ann's own password", want: [8]string{forbidden, ok, forbidden, forbidden, forbidden, forbidden, own, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return "", w.svc.SetAgentPassword(ctx, org, a, w.ann.ID, "new hash")
		}},
	{name: "set the time zone", want: [8]string{ok, forbidden, forbidden, forbidden, forbidden, own, forbidden, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return "", w.svc.SetTimeZone(ctx, org, a, "Europe/Berlin")
		}},
	{name: "export", want: [8]string{ok, forbidden, forbidden, forbidden, forbidden, own, forbidden, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			return "", w.svc.Export(ctx, org, a, filepath.Join(w.dir, "export.db"))
		}},
	{name: "open a ticket", want: [8]string{forbidden, forbidden, forbidden, forbidden, forbidden, forbidden, forbidden, forbidden},
		do: func(ctx context.Context, w *world, org *catalog.Organization, a desk.Actor) (string, error) {
			t, _, err := w.svc.OpenTicket(ctx, org, a, desk.NewTicket{CustomerName: "X", CustomerEmail: "x@example.com", Query: "q"})
			return show(t, err)
		}},
}

// TestActorScenarios calls every operation as every actor (on a world of its own when it
// changes what the others see) and checks the outcome: allowed, or refused as not found (the
// actor may not know the ticket exists) or forbidden (it may see it but not do this) — and that
// nothing customer two or an actor of beta gets back, nor anything a refusal says, holds
// ticket one's or acme's data.
func TestActorScenarios(t *testing.T) {
	ctx := context.Background()
	svc, dir := newService(t)
	for i, ac := range actors {
		shared := newWorld(t, svc, dir)
		for _, op := range operations {
			t.Run(ac.name+"/"+op.name, func(t *testing.T) {
				w := shared
				if op.fresh {
					w = newWorld(t, svc, dir)
				}
				if op.closed {
					if _, err := w.svc.CloseTicket(ctx, w.acme, desk.AsAgent(w.ann), w.one.ID); err != nil {
						t.Fatal(err)
					}
				}
				got, err := op.do(ctx, w, ac.org(w), ac.as(w))
				outcome := ok
				switch apperr.KindOf(err) {
				case apperr.Internal:
					if err != nil {
						t.Fatalf("unexpected error: %v", err)
					}
				case apperr.NotFound:
					outcome = notFound
				case apperr.Forbidden:
					outcome = forbidden
				case apperr.Conflict:
					outcome = conflict
				default:
					t.Fatalf("error of kind %v: %v", apperr.KindOf(err), err)
				}
				want := op.want[i]
				if want == own {
					want = ok
				}
				if outcome != want {
					t.Errorf("%s as %s: %s (%v), want %s", op.name, ac.name, outcome, err, op.want[i])
				}
				// The team and ticket one's customer may learn of it; customer two may not, and
				// nothing of acme reaches beta's actors.
				secrets := []string{"acme question one", "acme secret message", "Customer One"}
				if ac.org(w) == w.beta {
					secrets = append(secrets, "acme", "Ann", "Customer Two")
				}
				if i >= 4 {
					for _, secret := range secrets {
						if strings.Contains(got, secret) || (err != nil && strings.Contains(err.Error(), secret)) {
							t.Errorf("%s as %s reveals %q: %s %v", op.name, ac.name, secret, got, err)
						}
					}
				}
			})
		}
	}
}
