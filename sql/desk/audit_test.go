package desk_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// auditLine is an entry as the tests compare it: event, actor, target and the detail's keys.
func auditLine(e desk.AuditEntry) string {
	return fmt.Sprintf("%s by %s:%d:%s on %s:%d from %q %v", e.Event, e.ActorKind, e.ActorID, e.ActorName,
		e.TargetKind, e.TargetID, e.IP, e.Detail)
}

func auditLog(t *testing.T, tm *team, q desk.AuditQuery) []desk.AuditEntry {
	t.Helper()
	out, err := tm.svc.AuditLog(context.Background(), tm.org, tm.owner(), q)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAuditTrail: every audited change leaves one entry with who, what, when and from where,
// in the transaction of the change (a refused change leaves none), and never a secret.
func TestAuditTrail(t *testing.T) {
	tm := newTeam(t)
	ctx := desk.WithOrigin(context.Background(), "203.0.113.7")
	org, maria, thomas, ann := tm.org, desk.AsAgent(tm.maria), desk.AsAgent(tm.thomas), desk.AsAgent(tm.ann)

	// newTeam onboarded three agents and made Maria an admin (without an origin).
	got := auditLog(t, tm, desk.AuditQuery{})
	if len(got) != 4 || got[0].Event != desk.AuditAgentRole || got[0].Detail["to"] != desk.RoleAdmin ||
		got[0].Detail["from"] != desk.RoleAgent || got[0].TargetID != tm.maria.ID || got[0].ActorKind != "owner" ||
		got[0].ActorName != "Acme" || got[3].Event != desk.AuditAgentCreated || got[3].Detail["email"] != "maria@acme.example" {
		for _, e := range got {
			t.Log(auditLine(e))
		}
		t.Fatalf("audit after onboarding: %d entries", len(got))
	}
	if !got[0].At.Equal(tm.clock.Now().Truncate(1e9)) || got[0].IP != "" {
		t.Errorf("first entry at %v from %q", got[0].At, got[0].IP)
	}

	// The same role again changes nothing and writes nothing; a taken email and an unknown
	// agent are refused and leave no entry.
	if _, err := tm.svc.SetRole(ctx, org, tm.owner(), tm.maria.ID, desk.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.CreateAgent(ctx, org, maria, "Twin", "ann@acme.example", "h"); kindOf(err) != "conflict/taken" {
		t.Fatalf("a taken email: %s", kindOf(err))
	}
	if _, err := tm.svc.SetRole(ctx, org, maria, 999, desk.RoleAdmin); kindOf(err) != "not found/agent_not_found" {
		t.Fatalf("an unknown agent: %s", kindOf(err))
	}
	if _, err := tm.svc.SetRole(ctx, org, thomas, tm.ann.ID, desk.RoleAdmin); kindOf(err) != "forbidden/forbidden" {
		t.Fatalf("an agent managing: %s", kindOf(err))
	}
	if n := len(auditLog(t, tm, desk.AuditQuery{})); n != 4 {
		t.Fatalf("refused or empty changes wrote entries: %d", n)
	}

	// Tickets: taking an unassigned ticket is not audited; an admin taking it over, and the
	// owner assigning it, are.
	tk, _ := tm.open(t, "carla@example.com", "Where is my parcel?")
	if _, err := tm.svc.Take(ctx, org, thomas, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.Take(ctx, org, maria, tk.ID); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.Assign(ctx, org, tm.owner(), tk.ID, tm.ann.ID); err != nil {
		t.Fatal(err)
	}
	secret := "$2a$10$secretsecretsecretsecretsecretsecretsecretsecretsec"
	if _, err := tm.svc.ResetAgentPassword(ctx, org, maria, tm.thomas.ID, secret); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.SetAgentPassword(ctx, org, ann, tm.ann.ID, secret+"2"); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.SetTimeZone(ctx, org, maria, "Europe/Berlin"); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.RemoveAgent(ctx, org, maria, tm.ann.ID); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.Export(ctx, org, tm.owner(), filepath.Join(t.TempDir(), "x.db")); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.RecordLogin(ctx, org, desk.AsSystem(), desk.LoginAttempt{AgentID: tm.thomas.ID, Name: "Thomas", OK: true}); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.RecordLogin(ctx, org, desk.AsSystem(), desk.LoginAttempt{Reason: "unknown_account"}); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.RecordLogin(ctx, org, desk.AsSystem(), desk.LoginAttempt{Owner: true, Reason: "password"}); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.RecordOwnerPassword(ctx, org, tm.owner()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`password.changed by owner:0:Acme on owner:0 from "203.0.113.7" map[]`,
		`login.refused by owner:0:Acme on owner:0 from "203.0.113.7" map[reason:password]`,
		`login.refused by system:0:tenantdesk on :0 from "203.0.113.7" map[reason:unknown_account]`,
		fmt.Sprintf(`login.succeeded by agent:%d:Thomas on agent:%d from "203.0.113.7" map[]`, tm.thomas.ID, tm.thomas.ID),
		`export.downloaded by owner:0:Acme on :0 from "203.0.113.7" map[]`,
		fmt.Sprintf(`agent.removed by agent:%d:Maria on agent:%d from "203.0.113.7" map[email:ann@acme.example name:Ann tickets_unassigned:1]`, tm.maria.ID, tm.ann.ID),
		fmt.Sprintf(`settings.changed by agent:%d:Maria on settings:0 from "203.0.113.7" map[from:UTC setting:time_zone to:Europe/Berlin]`, tm.maria.ID),
		fmt.Sprintf(`password.changed by agent:%d:Ann on agent:%d from "203.0.113.7" map[]`, tm.ann.ID, tm.ann.ID),
		fmt.Sprintf(`password.reset by agent:%d:Maria on agent:%d from "203.0.113.7" map[name:Thomas]`, tm.maria.ID, tm.thomas.ID),
		fmt.Sprintf(`ticket.reassigned by owner:0:Acme on ticket:%d from "203.0.113.7" map[from:Maria to:Ann]`, tk.ID),
		fmt.Sprintf(`ticket.reassigned by agent:%d:Maria on ticket:%d from "203.0.113.7" map[from:Thomas to:Maria]`, tm.maria.ID, tk.ID),
	}
	got = auditLog(t, tm, desk.AuditQuery{Limit: len(want)})
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = auditLine(got[i])
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("entry %d:\n got %s\nwant %s", i, g, w)
		}
	}
	for _, e := range auditLog(t, tm, desk.AuditQuery{Limit: 500}) {
		if strings.Contains(auditLine(e), "secret") {
			t.Errorf("an entry holds the password hash: %s", auditLine(e))
		}
	}

	// Filters: a category, an actor, and paging with Before.
	if got := auditLog(t, tm, desk.AuditQuery{Category: "login"}); len(got) != 3 {
		t.Errorf("login entries: %d, want 3", len(got))
	}
	if got := auditLog(t, tm, desk.AuditQuery{Category: "password"}); len(got) != 3 {
		t.Errorf("password entries: %d, want 3", len(got))
	}
	byMaria := auditLog(t, tm, desk.AuditQuery{ActorKind: "agent", ActorID: tm.maria.ID})
	if len(byMaria) != 4 {
		t.Errorf("Maria's entries: %d, want 4", len(byMaria))
	}
	page1 := auditLog(t, tm, desk.AuditQuery{Limit: 5})
	page2 := auditLog(t, tm, desk.AuditQuery{Limit: 5, Before: page1[4].ID})
	if len(page2) != 5 || page2[0].ID >= page1[4].ID {
		t.Errorf("second page starts at %d after %d", page2[0].ID, page1[4].ID)
	}
	if _, err := tm.svc.AuditLog(ctx, org, tm.owner(), desk.AuditQuery{Category: "nope"}); kindOf(err) != "invalid/invalid" {
		t.Errorf("an unknown category: %s", kindOf(err))
	}
	if _, err := tm.svc.AuditLog(ctx, org, thomas, desk.AuditQuery{}); kindOf(err) != "forbidden/forbidden" {
		t.Errorf("an agent reading the audit log: %s", kindOf(err))
	}
	if err := tm.svc.RecordLogin(ctx, org, thomas, desk.LoginAttempt{OK: true}); kindOf(err) != "forbidden/forbidden" {
		t.Errorf("an agent recording a login: %s", kindOf(err))
	}
	if err := tm.svc.RecordOwnerPassword(ctx, org, maria); kindOf(err) != "forbidden/forbidden" {
		t.Errorf("an admin recording the owner's password change: %s", kindOf(err))
	}
}
