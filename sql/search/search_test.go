package search

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/schema"
)

func TestParse(t *testing.T) {
	long := strings.Repeat("x", MaxTermRunes+5)
	cases := []struct {
		in        string
		match     string
		ticket    int64
		truncated bool
	}{
		{"", "", 0, false},
		{"   ", "", 0, false},
		{"refun", `"refun" *`, 0, false},
		{"Refund policy", `"Refund" * "policy" *`, 0, false},
		{`"exact phrase" here`, `"exact phrase" "here" *`, 0, false},
		{`"unclosed phrase`, `"unclosed phrase"`, 0, false},
		{`a "b" c`, `"a" "b" "c"`, 0, false},
		{"café", `"café" *`, 0, false},
		{"e-mail", `"e mail"`, 0, false},
		{"body:x", `"body x"`, 0, false},
		{"#1042", `"1042"`, 1042, false},
		{" # 1042 ", `"1042"`, 1042, false},
		{"1042", `"1042"`, 1042, false},
		{"1042 refund", `"1042" "refund" *`, 0, false},
		{"#0", `"0"`, 0, false},
		{"99999999999999999999", `"99999999999999999999"`, 0, false},
		{`' OR 1=1--`, `"OR" * "1 1"`, 0, false},
		{`NEAR(a b)`, `"NEAR a" "b"`, 0, false},
		{`x AND y NOT z`, `"x" "AND" * "y" "NOT" * "z"`, 0, false},
		{`!!! %% _`, ``, 0, false},
		{"a\x00b", `"a" "b"`, 0, false},
		{"dup dup DUP", `"dup" * "DUP" *`, 0, false},
		{`say "hi ""there"`, `"say" * "hi" "there"`, 0, false},
		{long, `"` + long[:MaxTermRunes] + `" *`, 0, true},
		{strings.Repeat("w ", 3) + "a b c d e f g h i j k l m", `"w" "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k"`, 0, true},
	}
	for _, c := range cases {
		q := Parse(c.in)
		if got := q.Match(); got != c.match {
			t.Errorf("Parse(%q).Match() = %s, want %s", c.in, got, c.match)
		}
		if q.TicketID != c.ticket {
			t.Errorf("Parse(%q).TicketID = %d, want %d", c.in, q.TicketID, c.ticket)
		}
		if q.Truncated != c.truncated {
			t.Errorf("Parse(%q).Truncated = %v, want %v", c.in, q.Truncated, c.truncated)
		}
		if q.Empty() != (c.match == "") {
			t.Errorf("Parse(%q).Empty() = %v", c.in, q.Empty())
		}
	}
	if q := Parse(strings.Repeat("é", MaxQueryRunes+10)); !q.Truncated {
		t.Errorf("an input over MaxQueryRunes is not reported truncated")
	}
}

// TestFind covers what people type against a real index.
func TestFind(t *testing.T) {
	db := openDB(t, withSearch)
	s := newSeed(t, db)
	refund, c1 := s.ticket("Zoë Adams", "zoe@example.com", "Where is my refund?", 100, true)
	s.message(refund, c1, "I paid at the Café Lumière on Monday", 110, true)
	s.message(refund, c1, "<script>alert(1)</script> please refund the order", 120, true)
	login, c2 := s.ticket("Bob Stone", "bob@example.org", "Cannot log in to my account", 200, true)
	s.message(login, c2, "The password reset e-mail never arrives", 210, true)
	invoice, _ := s.ticket("Carla Diaz", "carla@example.net", "Invoice 1042 is wrong", 300, true)
	s.put(Note(9001, login, "customer is a VIP, escalate quietly", 220))
	s.put(Tags(invoice, []string{"billing", "urgent"}, 310))

	staff := Options{Staff: true}
	cases := []struct {
		name  string
		input string
		opt   Options
		want  []int64
	}{
		{"one word", "password", staff, []int64{login}},
		{"words in any order", "arrives reset never", staff, []int64{login}},
		{"prefix", "refun", staff, []int64{refund}},
		{"two-letter prefix", "pa", staff, []int64{refund, login}},
		{"phrase found", `"reset e-mail"`, staff, []int64{login}},
		{"phrase words not together", `"password arrives"`, staff, nil},
		{"accents ignored in the query", "cafe lumiere", staff, []int64{refund}},
		{"accents ignored in the text", "zoe", staff, []int64{refund}},
		{"accents typed", "Lumière", staff, []int64{refund}},
		{"case ignored", "PASSWORD", staff, []int64{login}},
		{"every word must match", "password refund", staff, nil},
		{"a number as a word", "#1042", staff, []int64{invoice}},
		{"note found by staff", "escalate", staff, []int64{login}},
		{"note hidden from customers", "escalate", Options{}, nil},
		{"contact found by staff", "carla@example.net", staff, []int64{invoice}},
		{"contact hidden from customers", "carla", Options{}, nil},
		{"tags found by staff", "billing", staff, []int64{invoice}},
		{"messages found by customers", "password", Options{}, []int64{login}},
		{"markup is text", "script", staff, []int64{refund}},
		{"FTS5 syntax is text", `password OR refund`, staff, nil},
		{"column filter is text", `body:password`, staff, nil},
		{"only punctuation", `"" * ( )`, staff, nil},
		{"filter on tickets", "my", Options{Staff: true, Filter: "t.customer_email LIKE ?", Args: []any{"%.org"}}, []int64{login}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := find(t, db, c.input, c.opt)
			got := ticketIDs(res)
			slices.Sort(got)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Find(%q) = tickets %v, want %v", c.input, got, want)
			}
		})
	}

	t.Run("snippet marks the match and escapes the text", func(t *testing.T) {
		res := find(t, db, "script refund", staff)
		if len(res.Hits) != 1 {
			t.Fatalf("got %d hits, want 1", len(res.Hits))
		}
		h := res.Hits[0]
		if h.Key.Kind != KindMessage {
			t.Errorf("best document kind %d, want a message (%d)", h.Key.Kind, KindMessage)
		}
		html := string(h.Snippet.HTML())
		want := "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; please <mark>refund</mark> the order"
		if html != want {
			t.Errorf("snippet HTML\n got %s\nwant %s", html, want)
		}
		if txt := h.Snippet.Text(); txt != "<script>alert(1)</script> please refund the order" {
			t.Errorf("snippet text %q", txt)
		}
	})
}

func TestFindRankingAndPaging(t *testing.T) {
	db := openDB(t, withSearch)
	s := newSeed(t, db)
	// Equal text: bm25 ties, the more recent document comes first.
	older, _ := s.ticket("A", "a@example.com", "printer jammed", 100, true)
	newer, _ := s.ticket("B", "b@example.com", "printer jammed", 500, true)
	// The word once in a long text ranks below it in a short one.
	diluted, _ := s.ticket("C", "c@example.com",
		"printer "+strings.Repeat("lorem ipsum dolor sit amet ", 30), 900, true)
	res := find(t, db, "printer", Options{Staff: true})
	if got, want := ticketIDs(res), []int64{newer, older, diluted}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v (bm25, then recency)", got, want)
	}
	for i := 1; i < len(res.Hits); i++ {
		if res.Hits[i].Rank < res.Hits[i-1].Rank {
			t.Errorf("hit %d ranks better (%v) than hit %d (%v)", i, res.Hits[i].Rank, i-1, res.Hits[i-1].Rank)
		}
	}

	// Many messages on one ticket: one hit per ticket.
	many, conv := s.ticket("D", "d@example.com", "question", 1000, true)
	for i := range 5 {
		s.message(many, conv, fmt.Sprintf("scanner message %d", i), int64(1000+i), true)
	}
	for i := range 4 {
		s.ticket("E", "e@example.com", fmt.Sprintf("scanner broken %d", i), int64(2000+i), true)
	}
	var all []int64
	for off := 0; ; off += 2 {
		page := find(t, db, "scanner", Options{Staff: true, Limit: 2, Offset: off})
		all = append(all, ticketIDs(page)...)
		if !page.More {
			break
		}
		if len(page.Hits) != 2 {
			t.Fatalf("a page with More has %d hits", len(page.Hits))
		}
	}
	if len(all) != 5 {
		t.Errorf("pages hold tickets %v, want the 5 tickets once each", all)
	}
	seen := map[int64]bool{}
	for _, id := range all {
		if seen[id] {
			t.Errorf("ticket %d on two pages", id)
		}
		seen[id] = true
	}
}

func TestPutRemove(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, withSearch)
	s := newSeed(t, db)
	tk, conv := s.ticket("Ann", "ann@example.com", "broken lamp", 10, true)
	msg := s.message(tk, conv, "the lamp flickers", 20, true)

	s.put(Tags(tk, []string{"hardware"}, 30))
	if got := ticketIDs(find(t, db, "hardware", Options{Staff: true})); !slices.Equal(got, []int64{tk}) {
		t.Fatalf("tag not found: %v", got)
	}
	s.put(Tags(tk, []string{"lighting"}, 40)) // replaces the set
	if got := find(t, db, "hardware", Options{Staff: true}); len(got.Hits) != 0 {
		t.Errorf("a replaced tag is still found")
	}
	s.put(Tags(tk, nil, 50)) // no tags: the document goes
	if got := find(t, db, "lighting", Options{Staff: true}); len(got.Hits) != 0 {
		t.Errorf("a removed tag is still found")
	}

	s.inTx(func(tx *sql.Tx) error { return Remove(ctx, tx, Key{KindMessage, msg}) })
	if got := find(t, db, "flickers", Options{Staff: true}); len(got.Hits) != 0 {
		t.Errorf("a removed message is still found")
	}
	s.inTx(func(tx *sql.Tx) error { return Remove(ctx, tx, TicketKeys(tk)...) })
	if got := find(t, db, "lamp ann", Options{Staff: true}); len(got.Hits) != 0 {
		t.Errorf("a removed ticket is still found")
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM ticket_search`).Scan(&n); err != nil || n != 0 {
		t.Errorf("index holds %d documents (%v), want 0", n, err)
	}

	// A rolled-back transaction leaves no document behind.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Put(ctx, tx, Question(tk, "phantom", 60)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := find(t, db, "phantom", Options{Staff: true}); len(got.Hits) != 0 {
		t.Errorf("a rolled-back document is found")
	}

	// NUL would end the text in SQLite's C functions: what follows it is still indexed.
	s.put(Message(77, tk, "before\x00after", 70))
	if got := ticketIDs(find(t, db, "after", Options{Staff: true})); !slices.Equal(got, []int64{tk}) {
		t.Errorf("text after a NUL is not found: %v", got)
	}

	bad := []Doc{
		{Key: Key{Kind(0), 1}, TicketID: 1, Text: "x"},
		{Key: Key{Kind(6), 1}, TicketID: 1, Text: "x"},
		{Key: Key{KindMessage, 0}, TicketID: 1, Text: "x"},
		{Key: Key{KindMessage, 1 << 61}, TicketID: 1, Text: "x"},
		{Key: Key{KindMessage, 1}, TicketID: 0, Text: "x"},
	}
	for _, d := range bad {
		if err := Put(ctx, db, d); err == nil {
			t.Errorf("Put(%+v) accepted", d)
		}
	}
	if err := Check(ctx, db); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestMigrationAndRebuild: the migration splits into its statements through the real
// migration runner, fills the index of a tenant written before it, and gives the same index
// as Rebuild and as Put; text that holds the snippet markers cannot fake a <mark>.
func TestMigrationAndRebuild(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, tenantMigrations)
	s := newSeed(t, db)
	tk, conv := s.ticket("Élodie", "elodie@example.com", "Colis \uE000perdu\uE001", 100, false)
	s.message(tk, conv, "toujours rien reçu, hélas", 110, false)
	s.message(tk, conv, "merci", 120, false)
	other, conv2 := s.ticket("Sam", "sam@example.com", "hello", 130, false)
	s.message(other, conv2, "world", 140, false)

	before, err := schema.Latest(tenantMigrations)
	if err != nil {
		t.Fatal(err)
	}
	want, err := schema.Latest(withSearch)
	if err != nil || want <= before {
		t.Fatalf("the search migration's version %d (%v) does not follow the tenant migrations' %d", want, err, before)
	}
	v, err := schema.Up(db, withSearch)
	if err != nil || v != want {
		t.Fatalf("schema.Up with the search migration: version %d, %v; want %d", v, err, want)
	}
	migrated := dumpIndex(t, db)
	if len(migrated) != 2*2+3 {
		t.Fatalf("migration indexed %d documents, want 7", len(migrated))
	}
	res := find(t, db, "recu helas", Options{Staff: true})
	if got := ticketIDs(res); !slices.Equal(got, []int64{tk}) {
		t.Fatalf("after the migration Find = %v, want [%d]", got, tk)
	}
	res = find(t, db, "perdu", Options{Staff: true})
	if len(res.Hits) != 1 || string(res.Hits[0].Snippet.HTML()) != "Colis  <mark>perdu</mark> " {
		t.Errorf("snippet of text holding the markers: %+v", res.Hits)
	}
	if err := Check(ctx, db); err != nil {
		t.Errorf("Check after the migration: %v", err)
	}

	s.inTx(func(tx *sql.Tx) error { return Rebuild(ctx, tx) })
	if rebuilt := dumpIndex(t, db); !reflect.DeepEqual(rebuilt, migrated) {
		t.Errorf("Rebuild and the migration differ:\n%v\n%v", rebuilt, migrated)
	}

	// Documents written by Put match the rebuilt ones.
	var put [][]any
	fresh := openDB(t, withSearch)
	fs := newSeed(t, fresh)
	tk2, conv2b := fs.ticket("Élodie", "elodie@example.com", "Colis \uE000perdu\uE001", 100, true)
	fs.message(tk2, conv2b, "toujours rien reçu, hélas", 110, true)
	fs.message(tk2, conv2b, "merci", 120, true)
	o2, c2 := fs.ticket("Sam", "sam@example.com", "hello", 130, true)
	fs.message(o2, c2, "world", 140, true)
	put = dumpIndex(t, fresh)
	if !reflect.DeepEqual(put, migrated) {
		t.Errorf("Put and the migration differ:\n%v\n%v", put, migrated)
	}

	// The down migration removes the table and its shadow tables.
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name LIKE 'ticket_search%'`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("index tables: %d, %v", n, err)
	}
	if _, err := db.ExecContext(ctx, `DROP TABLE ticket_search`); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name LIKE 'ticket_search%'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after DROP: %d tables left, %v", n, err)
	}
	if err := Check(ctx, db); err == nil {
		t.Errorf("Check without an index reports no error")
	}
	s.inTx(func(tx *sql.Tx) error { return Rebuild(ctx, tx) })
	if rebuilt := dumpIndex(t, db); !reflect.DeepEqual(rebuilt, migrated) {
		t.Errorf("Rebuild without an index differs from the migration")
	}
}

// dumpIndex returns every document of the index, by rowid.
func dumpIndex(tb testing.TB, db *sql.DB) [][]any {
	tb.Helper()
	rows, err := db.Query(`SELECT rowid, CAST(body AS BLOB), ticket_id, kind, created_at
		FROM ticket_search ORDER BY rowid`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		var rowid, ticket, kind, at int64
		var body []byte
		if err := rows.Scan(&rowid, &body, &ticket, &kind, &at); err != nil {
			tb.Fatal(err)
		}
		if rowid&7 != kind {
			tb.Errorf("document %d has kind %d", rowid, kind)
		}
		out = append(out, []any{rowid, string(body), ticket, kind, at})
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestFindRanksNewestOnly: a word in more than RankedMessages messages ranks only the newest
// of them, so the cost of a common word is bounded.
func TestFindRanksNewestOnly(t *testing.T) {
	db := openDB(t, withSearch)
	s := newSeed(t, db)
	tk, _ := s.ticket("A", "a@example.com", "question", 1, true)
	// The oldest message is the best match (the word alone); RankedMessages newer ones hold
	// it among other words.
	s.inTx(func(tx *sql.Tx) error {
		ctx := context.Background()
		if err := Put(ctx, tx, Message(1, tk, "common rare", 1)); err != nil {
			return err
		}
		for i := range RankedMessages {
			other := int64(2 + i%50) // 50 tickets
			if err := Put(ctx, tx, Message(int64(2+i), other, "common word in a longer message", int64(2+i))); err != nil {
				return err
			}
		}
		return nil
	})
	res := find(t, db, "common", Options{Staff: true, Limit: MaxLimit})
	if len(res.Hits) != 50 {
		t.Errorf("%d tickets found, want the 50 of the newest messages", len(res.Hits))
	}
	if slices.Contains(ticketIDs(res), tk) {
		t.Errorf("the oldest message beyond RankedMessages was ranked")
	}
	// With a rarer word the match is ranked.
	res = find(t, db, "common rare", Options{Staff: true})
	if got := ticketIDs(res); !slices.Equal(got, []int64{tk}) {
		t.Errorf("Find(common rare) = %v, want [%d]", got, tk)
	}
}

// TestFindManyDocumentsOnOneTicket: when the best-ranked documents all belong to one ticket,
// the tickets behind them are still found (the second ranking pass).
func TestFindManyDocumentsOnOneTicket(t *testing.T) {
	db := openDB(t, withSearch)
	s := newSeed(t, db)
	busy, conv := s.ticket("A", "a@example.com", "question", 1, true)
	s.inTx(func(tx *sql.Tx) error {
		for i := range 400 {
			if err := Put(context.Background(), tx, Message(int64(1000+i), busy, "needle", int64(10+i))); err != nil {
				return err
			}
		}
		return nil
	})
	_ = conv
	b, _ := s.ticket("B", "b@example.com", "a needle in a long question about many other things", 2, true)
	c, _ := s.ticket("C", "c@example.com", "another needle in another long question about things", 3, true)
	res := find(t, db, "needle", Options{Staff: true})
	if got := ticketIDs(res); len(got) != 3 || got[0] != busy || !slices.Contains(got, b) || !slices.Contains(got, c) {
		t.Errorf("Find(needle) = %v, want [%d] then %d and %d", got, busy, b, c)
	}
	// Snippets come back for a long prefix (one pass over the matches) and a short one.
	for _, in := range []string{"needl", "ne", "needle"} {
		for _, h := range find(t, db, in, Options{Staff: true}).Hits {
			if !strings.Contains(string(h.Snippet.HTML()), "<mark>needle</mark>") {
				t.Errorf("Find(%q): ticket %d snippet %q", in, h.TicketID, h.Snippet.HTML())
			}
		}
	}
}
