package catalog_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// A scheduler that found nothing due must not drop a wake-up recorded moments ago (the write
// that recorded it may commit after the scheduler looked): the row is kept until WakeGrace
// after its touch. An older row goes; a newer WakeAt (another version) always stands.
func TestRescheduleKeepsAFreshWakeup(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	org := newOrg("acme")
	mustCreate(t, s, org)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	due := func(now time.Time) []catalog.Wakeup {
		t.Helper()
		got, err := s.Due(ctx, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if err := s.WakeAtNow(ctx, org.ID, t0, t0); err != nil {
		t.Fatal(err)
	}
	w := due(t0)
	if len(w) != 1 || !w[0].TouchedAt.Equal(t0) {
		t.Fatalf("due = %+v", w)
	}
	// Ten seconds later nothing is due there: kept until a minute after the touch.
	if err := s.RescheduleNow(ctx, w[0], time.Time{}, t0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := due(t0.Add(time.Hour)); len(got) != 1 || !got[0].DueAt.Equal(t0.Add(catalog.WakeGrace)) {
		t.Fatalf("after a fresh reschedule: %+v", got)
	}
	// A later time found is also capped at the grace.
	w = due(t0.Add(catalog.WakeGrace))
	if err := s.RescheduleNow(ctx, w[0], t0.Add(time.Hour), t0.Add(20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := due(t0.Add(2 * time.Hour)); len(got) != 1 || !got[0].DueAt.Equal(t0.Add(catalog.WakeGrace)) {
		t.Fatalf("after a fresh reschedule to later: %+v", got)
	}
	// A WakeAt after the scheduler read the row stands: its reschedule is ignored.
	w = due(t0.Add(catalog.WakeGrace))
	if err := s.WakeAtNow(ctx, org.ID, t0.Add(30*time.Second), t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.RescheduleNow(ctx, w[0], time.Time{}, t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := due(t0.Add(time.Hour)); len(got) != 1 || !got[0].DueAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("after a stale reschedule: %+v", got)
	}
	// Once the grace has passed, nothing due removes the row.
	w = due(t0.Add(time.Hour))
	if err := s.RescheduleNow(ctx, w[0], time.Time{}, t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := due(t0.Add(1000 * time.Hour)); len(got) != 0 {
		t.Fatalf("after the grace: %+v", got)
	}
}
