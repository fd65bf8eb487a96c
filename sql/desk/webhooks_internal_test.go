package desk

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// pruneDeliveries deletes settled deliveries older than the cut, at most 500 at a time, and
// keeps pending ones and newer ones.
func TestPruneDeliveries(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 6, 15, 0, 0, 0, time.UTC)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO webhook_endpoints (url, events, secret, created_at)
		VALUES ('https://hooks.example.com/', 'ticket.created', 'v1:x', ?)`, now.Unix()); err != nil {
		t.Fatal(err)
	}
	add := func(n int, state string, at time.Time) {
		for range n {
			if _, err := s.db.ExecContext(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id, event, body, state, created_at)
				VALUES (1, 'evt_x', 'ticket.created', '{}', ?, ?)`, state, at.Unix()); err != nil {
				t.Fatal(err)
			}
		}
	}
	old := now.Add(-40 * 24 * time.Hour)
	add(3, DeliveryPending, old)
	add(600, DeliveryDelivered, old)
	add(10, DeliveryFailed, old)
	add(5, DeliveryDelivered, now)
	count := func(where string) int {
		var n int
		if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM webhook_deliveries WHERE "+where).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	cut := now.Add(-deliveryKeep)
	if err := pruneDeliveries(ctx, s.db, cut); err != nil {
		t.Fatal(err)
	}
	if n := count("1"); n != 618-500 {
		t.Fatalf("after one pass %d rows, want %d", n, 618-500)
	}
	if err := pruneDeliveries(ctx, s.db, cut); err != nil {
		t.Fatal(err)
	}
	if got := [3]int{count("state = 'pending'"), count("created_at < " + strconv.FormatInt(cut.Unix(), 10) + " AND state != 'pending'"), count("created_at = " + strconv.FormatInt(now.Unix(), 10))}; got != [3]int{3, 0, 5} {
		t.Fatalf("after two passes: pending %d, old settled %d, new %d", got[0], got[1], got[2])
	}
}
