package desk_test

import (
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

var portalLinkRE = regexp.MustCompile(regexp.QuoteMeta(publicURL) + `/acme/my-tickets\?k=([A-Za-z0-9_-]{43})`)

// The portal's sign-in link goes only to an address with tickets, lists that address's
// tickets (and no one else's), works once and for 30 minutes; asking again within a minute
// sends nothing more.
func TestPortalSignInLink(t *testing.T) {
	ctx := context.Background()
	tm, mp := mailTeam(t)
	org := tm.org
	if err := tm.svc.SetEmailSettings(ctx, org, tm.owner(), desk.EmailSettingsInput{AutoAck: false}); err != nil {
		t.Fatal(err)
	}
	var mine []int64
	for _, q := range []struct{ name, addr, query string }{
		{"Jo", "jo@example.org", "First question\nmore"}, {"Other", "other@example.org", "Not Jo's"},
		{"Jo", "Jo@Example.org", "Second question"}} {
		tk, _, err := tm.svc.OpenTicket(ctx, org, desk.AsPublic(), desk.NewTicket{CustomerName: q.name, CustomerEmail: q.addr, Query: q.query})
		if err != nil {
			t.Fatal(err)
		}
		if q.name == "Jo" {
			mine = append([]int64{tk.ID}, mine...)
		}
	}
	if err := tm.svc.RequestPortalLink(ctx, org, desk.AsPublic(), "nobody@example.org"); err != nil {
		t.Fatalf("an address without tickets: %v", err)
	}
	if err := tm.svc.RequestPortalLink(ctx, org, desk.AsPublic(), "not an address"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("an invalid address: %v", err)
	}
	if err := tm.svc.RequestPortalLink(ctx, org, desk.AsAgent(tm.ann), "jo@example.org"); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("an agent asking: %v", err)
	}
	if err := tm.svc.RequestPortalLink(ctx, org, desk.AsPublic(), " JO@example.org "); err != nil {
		t.Fatal(err)
	}
	// Again at once: nothing more is sent.
	if err := tm.svc.RequestPortalLink(ctx, org, desk.AsPublic(), "jo@example.org"); err != nil {
		t.Fatal(err)
	}
	mp.WaitMessages(t, 1)
	time.Sleep(300 * time.Millisecond)
	list := mp.Messages(t)
	if len(list) != 1 || list[0].To[0].Address != "jo@example.org" {
		t.Fatalf("sign-in emails: %+v", list)
	}
	m := mp.Message(t, list[0].ID)
	link := portalLinkRE.FindStringSubmatch(m.Text)
	if link == nil || !strings.Contains(m.Subject, "Acme") {
		t.Fatalf("sign-in email %q:\n%s", m.Subject, m.Text)
	}
	token := link[1]

	if _, err := tm.svc.PortalTickets(ctx, org, desk.AsAgent(tm.ann), token); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("an agent signing in: %v", err)
	}
	got, err := tm.svc.PortalTickets(ctx, org, desk.AsPublic(), token)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != mine[0] || got[1].ID != mine[1] || got[0].Subject != "Second question" ||
		got[1].Subject != "First question" || got[0].Status != desk.StatusOpen {
		t.Fatalf("Jo's tickets: %+v (want ids %v)", got, mine)
	}
	for _, pt := range got {
		tok := strings.TrimPrefix(pt.Link, "/customer/acme/t/")
		a, err := tm.svc.LinkActor(org, tok)
		if err != nil {
			t.Fatalf("the link of ticket %d: %v", pt.ID, err)
		}
		if tk, err := tm.svc.Ticket(ctx, org, a, 0); err != nil || tk.ID != pt.ID {
			t.Errorf("ticket %d through its link: %v", pt.ID, err)
		}
	}
	// Once only; an altered or made-up token is no better.
	if _, err := tm.svc.PortalTickets(ctx, org, desk.AsPublic(), token); apperr.CodeOf(err) != desk.CodePortalLinkNotFound {
		t.Errorf("the link used twice: %v", err)
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", 43), token[:42], token + "A"} {
		if _, err := tm.svc.PortalTickets(ctx, org, desk.AsPublic(), bad); apperr.CodeOf(err) != desk.CodePortalLinkNotFound {
			t.Errorf("token %q: %v", bad, err)
		}
	}

	// A minute later another link may be sent; it stops working after 30 minutes.
	tm.clock.add(61 * time.Second)
	if err := tm.svc.RequestPortalLink(ctx, org, desk.AsPublic(), "jo@example.org"); err != nil {
		t.Fatal(err)
	}
	mp.WaitMessages(t, 2)
	var second string
	for _, s := range mp.Messages(t) {
		if l := portalLinkRE.FindStringSubmatch(mp.Message(t, s.ID).Text); l != nil && l[1] != token {
			second = l[1]
		}
	}
	if second == "" {
		t.Fatal("no second sign-in link")
	}
	tm.clock.add(30*time.Minute + time.Second)
	if _, err := tm.svc.PortalTickets(ctx, org, desk.AsPublic(), second); apperr.CodeOf(err) != desk.CodePortalLinkNotFound {
		t.Errorf("a link after 30 minutes: %v", err)
	}
}

// Without email the portal sends nothing and says so, whatever the address.
func TestPortalWithoutEmail(t *testing.T) {
	tm := newTeam(t)
	for _, addr := range []string{"jo@example.org", "nobody@example.org"} {
		if err := tm.svc.RequestPortalLink(context.Background(), tm.org, desk.AsPublic(), addr); apperr.CodeOf(err) != desk.CodeEmailOff {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// A sign-in token is accepted exactly when it is 32 bytes in unpadded base64url, written the
// one way that encoding writes them.
func FuzzValidPortalToken(f *testing.F) {
	for _, s := range []string{"", "x", strings.Repeat("A", 43), strings.Repeat("_", 43), strings.Repeat("A", 42) + "B", strings.Repeat("A", 44)} {
		f.Add(s, []byte(s))
	}
	f.Fuzz(func(t *testing.T, s string, raw []byte) {
		if desk.ValidPortalToken(s) {
			b, err := base64.RawURLEncoding.DecodeString(s)
			if err != nil || len(b) != 32 || base64.RawURLEncoding.EncodeToString(b) != s {
				t.Errorf("accepted %q", s)
			}
		}
		var b [32]byte
		copy(b[:], raw)
		if tok := base64.RawURLEncoding.EncodeToString(b[:]); !desk.ValidPortalToken(tok) {
			t.Errorf("refused %q", tok)
		}
	})
}
