package report

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestMigration: the up file creates every index (go-libsql runs only the first statement of
// a string, so each must be checked) and the down file drops them again.
func TestMigration(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	indexes := func() []string {
		rows, err := db.QueryContext(ctx, `SELECT CAST(name AS BLOB) FROM sqlite_master WHERE type = 'index' AND name IN
			('tickets_created', 'tickets_report_closed', 'messages_agent_reply', 'messages_status') ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n []byte
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, string(n))
		}
		return out
	}
	if got, want := indexes(), []string{"messages_agent_reply", "messages_status", "tickets_created", "tickets_report_closed"}; !slices.Equal(got, want) {
		t.Fatalf("indexes %v, want %v", got, want)
	}
	down, err := os.ReadFile("migration/0004_reports.down.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(string(down), ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if got := indexes(); len(got) != 0 {
		t.Errorf("after the down file: %v", got)
	}
}
