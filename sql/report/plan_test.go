package report

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestQueryPlans: every report query reads a range of one index that holds every column it
// takes — the tickets by time through the reports' covering indexes (no row of the tickets
// table, with its question text, is read), conversations, messages and tags by id — and none
// scans a whole table or sorts (a temporary B-tree): on a new database, and on a seeded one
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
	// The detector itself: the question text is only in the row.
	if got := rowReads(t, db, "SELECT count(query) FROM tickets WHERE created_at >= ?1 AND created_at < ?2"); !slices.Equal(got, []string{"tickets"}) {
		t.Fatalf("rowReads of a query reading tickets.query = %v", got)
	}
	for _, tc := range []struct {
		name string
		q    string
		want []string
	}{
		{"opened", qOpened, []string{
			"SEARCH t USING COVERING INDEX tickets_created (created_at>? AND created_at<?)",
		}},
		{"closed", qClosed, []string{
			"SEARCH t USING COVERING INDEX tickets_report_closed (status=? AND closed_at>? AND closed_at<?)",
		}},
		{"tags", qTags, []string{
			"SEARCH ticket_tags USING PRIMARY KEY (ticket_id>? AND ticket_id<?)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := queryPlan(t, db, tc.q)
			all := strings.Join(plan, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("plan lacks %q:\n%s", w, all)
				}
			}
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN ") || strings.Contains(line, "TEMP B-TREE") {
					t.Errorf("plan scans a table: %q in\n%s", line, all)
				}
			}
			if reads := rowReads(t, db, tc.q); len(reads) > 0 {
				t.Errorf("the query reads rows of %v", reads)
			}
		})
	}
	// The comments are read from the rows, but only those of the few comments listed, found
	// in the order shown.
	t.Run("comments", func(t *testing.T) {
		plan := strings.Join(queryPlan(t, db, qComments), "\n")
		if !strings.Contains(plan, "SEARCH t USING INDEX tickets_rating_comment (rated_at>? AND rated_at<?)") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("comments plan:\n%s", plan)
		}
	})
}

// queryPlan is EXPLAIN QUERY PLAN of q, one line per step.
func queryPlan(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, 0, 1, 2)
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
	return plan
}

// rowReads lists the rowid tables whose rows q reads: the program (EXPLAIN) takes a column
// or the rowid through a cursor opened on the table itself rather than on an index. A
// deferred seek that nothing then reads through costs nothing.
func rowReads(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	ctx := context.Background()
	tables := map[int64]string{}
	rows, err := db.QueryContext(ctx, "SELECT CAST(name AS BLOB), rootpage FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE '%WITHOUT ROWID%'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name []byte
		var root int64
		if err := rows.Scan(&name, &root); err != nil {
			t.Fatal(err)
		}
		tables[root] = string(name)
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, "EXPLAIN "+q, 0, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cursors := map[int64]string{} // cursor → table
	var reads []string
	for rows.Next() {
		var addr, p1, p2, p3, p5 int64
		var opcode string
		var p4, comment any
		if err := rows.Scan(&addr, &opcode, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
			t.Fatal(err)
		}
		switch opcode {
		case "OpenRead":
			if name, ok := tables[p2]; ok {
				cursors[p1] = name
			}
		case "Column", "Rowid":
			if name, ok := cursors[p1]; ok && !slices.Contains(reads, name) {
				reads = append(reads, name)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return reads
}
