package report

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestQueryPlans: every report query reads the reports' indexes — the ticket ranges through
// the covering indexes (no row of the tickets table is read) and the messages through the
// partial indexes — and none scans a whole table: on a new database, and on a seeded one
// after ANALYZE has given the planner statistics.
func TestQueryPlans(t *testing.T) {
	db := openDB(t)
	t.Run("new", func(t *testing.T) { checkPlans(t, db) })
	tickets := generate(rand.New(rand.NewPCG(1, 2)), 500, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 1)
	(&seedTenant{agents: seedAgents, tickets: tickets}).write(t, db)
	if _, err := db.ExecContext(context.Background(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	t.Run("analyzed", func(t *testing.T) { checkPlans(t, db) })
}

func checkPlans(t *testing.T, db *sql.DB) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		q    string
		want []string
	}{
		{"opened", qOpened, []string{
			"SEARCH t USING COVERING INDEX tickets_created (created_at>? AND created_at<?)",
			"SEARCH c USING COVERING INDEX sqlite_autoindex_conversations_1 (ticket_id=?)",
			"SEARCH m USING COVERING INDEX messages_agent_reply (conversation_id=? AND created_at>?)",
		}},
		{"closed", qClosed, []string{
			"SEARCH t USING COVERING INDEX tickets_closed (status=? AND closed_at>? AND closed_at<?)",
		}},
		{"status", qStatus, []string{
			"SEARCH t USING COVERING INDEX tickets_closed (status=? AND closed_at>? AND closed_at<?)",
			"SEARCH c USING COVERING INDEX sqlite_autoindex_conversations_1 (ticket_id=?)",
			"SEARCH m USING COVERING INDEX messages_activity (conversation_id=?)",
		}},
		{"tags opened", qTagsOpened, []string{
			"SEARCH t USING COVERING INDEX tickets_created (created_at>? AND created_at<?)",
			"SEARCH g USING PRIMARY KEY (ticket_id=?)",
		}},
		{"tags closed", qTagsClosed, []string{
			"SEARCH t USING COVERING INDEX tickets_closed (status=? AND closed_at>? AND closed_at<?)",
			"SEARCH g USING PRIMARY KEY (ticket_id=?)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tc.q, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail []byte
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, string(detail))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			all := strings.Join(plan, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("plan lacks %q:\n%s", w, all)
				}
			}
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN ") {
					t.Errorf("plan scans a table: %q in\n%s", line, all)
				}
			}
		})
	}
}
