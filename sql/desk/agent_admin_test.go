package desk

import (
	"context"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// TestRemoveAgent: the credential is emptied, the row and the messages stay, engaged tickets go
// back to the queue (closed ones stay closed), and another agent takes the conversation over.
func TestRemoveAgent(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	ann, ben := mustAgent(t, s, "ann@x.example"), mustAgent(t, s, "ben@x.example")
	engaged := mustTicket(t, s, "tok-engaged", "still open question")
	closed := mustTicket(t, s, "tok-closed", "answered question")
	conv, err := s.Engage(ctx, engaged.ID, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddMessage(ctx, 0, conv, SenderAgent, ann.ID, "ann's answer", AsSystem()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Engage(ctx, closed.ID, ann.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseTicket(ctx, closed.ID, ann.ID); err != nil {
		t.Fatal(err)
	}

	if err := s.RemoveAgent(ctx, ann.ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.Agent(ctx, ann.ID)
	if err != nil || !got.Removed() || got.PasswordHash != "" || got.MustChangePassword {
		t.Fatalf("removed agent = %+v, %v; want an empty hash", got, err)
	}
	if err := s.RemoveAgent(ctx, 999); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("RemoveAgent(999) = %v, want NotFound", err)
	}
	if tk, _ := s.Ticket(ctx, engaged.ID); tk.Status != StatusOpen || tk.ConversationID != conv {
		t.Errorf("engaged ticket after removal: status %q conversation %d, want open with %d", tk.Status, tk.ConversationID, conv)
	}
	if tk, _ := s.Ticket(ctx, closed.ID); tk.Status != StatusClosed || tk.AgentName != "Agent ann@x.example" {
		t.Errorf("closed ticket after removal: status %q agent %q", tk.Status, tk.AgentName)
	}
	if _, err := s.AddMessage(ctx, 0, conv, SenderCustomer, 0, "anyone?", AsSystem()); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("message to a queued conversation = %v, want Conflict", err)
	}

	// Ben takes it over: same conversation, history kept, engaged again.
	got2, err := s.Engage(ctx, engaged.ID, ben.ID)
	if err != nil || got2 != conv {
		t.Fatalf("Engage by Ben = %d, %v; want conversation %d", got2, err, conv)
	}
	tk, _ := s.Ticket(ctx, engaged.ID)
	if tk.Status != StatusEngaged || tk.AgentID != ben.ID {
		t.Errorf("after the takeover: status %q agent %d, want engaged by %d", tk.Status, tk.AgentID, ben.ID)
	}
	msgs, err := s.Messages(ctx, conv, 0, 10)
	if err != nil || len(msgs) != 2 || msgs[1].Body != "ann's answer" {
		t.Errorf("history after the takeover = %+v, %v", msgs, err)
	}
	if _, err := s.Engage(ctx, engaged.ID, ann.ID); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("Ann engaging Ben's conversation = %v, want Conflict", err)
	}
}

// TestResetAgentPassword: a new hash that must be changed, aging from now; it restores a
// removed agent; an empty hash is refused.
func TestResetAgentPassword(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := mustAgent(t, s, "a@x.example")
	if err := s.SetAgentPassword(ctx, a.ID, "own-hash"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveAgent(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Unix(2_000_000_000, 0) }
	if err := s.ResetAgentPassword(ctx, a.ID, "new-hash"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Agent(ctx, a.ID)
	if got.Removed() || got.PasswordHash != "new-hash" || !got.MustChangePassword || got.UpdatedAt.Unix() != 2_000_000_000 {
		t.Errorf("after reset: %+v", got)
	}
	if err := s.ResetAgentPassword(ctx, a.ID, ""); err == nil {
		t.Error("an empty hash was accepted")
	}
	if err := s.ResetAgentPassword(ctx, 999, "h"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("reset of an unknown agent = %v, want NotFound", err)
	}
}
