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

// TestFind covers what people type against a real index, written by the triggers.
func TestFind(t *testing.T) {
	db := openDB(t, tenantMigrations)
	s := newSeed(t, db)
	refund, c1 := s.ticket("Zoë Adams", "zoe@example.com", "Where is my refund?", 100)
	s.message(c1, "customer", "I paid at the Café Lumière on Monday", 110)
	s.message(c1, "agent", "<script>alert(1)</script> please refund the order", 120)
	s.message(c1, "activity", "", 125)
	login, c2 := s.ticket("Bob Stone", "bob@example.org", "Cannot log in to my account", 200)
	s.message(c2, "customer", "The password reset e-mail never arrives", 210)
	s.message(c2, "note", "customer is a VIP, escalate quietly", 220)
	invoice, _ := s.ticket("Carla Diaz", "carla@example.net", "Invoice 1042 is wrong", 300)
	s.tags(invoice, "billing", "urgent")

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
		{"the question", "account", staff, []int64{login}},
		{"note found by staff", "escalate", staff, []int64{login}},
		{"note hidden from customers", "escalate", Options{}, nil},
		{"contact found by staff", "carla@example.net", staff, []int64{invoice}},
		{"contact hidden from customers", "carla", Options{}, nil},
		{"tags found by staff", "billing", staff, []int64{invoice}},
		{"tags hidden from customers", "billing", Options{}, nil},
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
	db := openDB(t, tenantMigrations)
	s := newSeed(t, db)
	// Equal text: bm25 ties, the more recent document comes first.
	older, _ := s.ticket("A", "a@example.com", "printer jammed", 100)
	newer, _ := s.ticket("B", "b@example.com", "printer jammed", 500)
	// The word once in a long text ranks below it in a short one.
	diluted, _ := s.ticket("C", "c@example.com",
		"printer "+strings.Repeat("lorem ipsum dolor sit amet ", 30), 900)
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
	_, conv := s.ticket("D", "d@example.com", "question", 1000)
	for i := range 5 {
		s.message(conv, "customer", fmt.Sprintf("scanner message %d", i), int64(1000+i))
	}
	for i := range 4 {
		s.ticket("E", "e@example.com", fmt.Sprintf("scanner broken %d", i), int64(2000+i))
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

// TestTriggers: every write to the source tables moves the index in its own transaction —
// messages by sender, notes, tags replaced and removed, a contact renamed, rows deleted — and
// a rolled-back write leaves nothing behind.
func TestTriggers(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, tenantMigrations)
	s := newSeed(t, db)
	tk, conv := s.ticket("Ann Lamp", "ann@example.com", "broken lamp", 10)
	msg := s.message(conv, "agent", "the lamp flickers", 20)
	s.message(conv, "activity", "flickers activity text", 21)
	note := s.message(conv, "note", "hardware supplier knows", 22)
	staff := Options{Staff: true}
	kinds := func(input string) []Kind {
		t.Helper()
		var out []Kind
		for _, h := range find(t, db, input, staff).Hits {
			out = append(out, h.Key.Kind)
		}
		return out
	}
	if got := kinds("flickers"); !slices.Equal(got, []Kind{KindMessage}) {
		t.Errorf("agent message: kinds %v (an activity line must not be indexed)", got)
	}
	if got := kinds("supplier"); !slices.Equal(got, []Kind{KindNote}) {
		t.Errorf("note: kinds %v", got)
	}
	if got := kinds("lamp broken"); !slices.Equal(got, []Kind{KindMessage}) {
		t.Errorf("question: kinds %v (the first message, indexed once)", got)
	}

	s.tags(tk, "hardware", "lighting")
	if got := find(t, db, "hardware lighting", staff); len(got.Hits) != 1 || got.Hits[0].Key.Kind != KindTag {
		t.Fatalf("tags not found as one document: %+v", got.Hits)
	}
	s.tags(tk, "lighting") // replaces the set
	if got := find(t, db, "hardware", staff); len(got.Hits) != 1 || got.Hits[0].Key.Kind != KindNote {
		t.Errorf("a removed tag is still found: %+v", got.Hits)
	}
	s.tags(tk) // no tags: the document goes
	if got := find(t, db, "lighting", staff); len(got.Hits) != 0 {
		t.Errorf("a removed tag is still found")
	}

	// The contact writes again under another name: every ticket of theirs is found by both.
	tk2, _ := s.ticket("Annie Lampwright", "ANN@example.com", "second question", 30)
	for _, in := range []string{"Lampwright", "Ann Lamp ann@example.com"} {
		got := ticketIDs(find(t, db, in, staff))
		slices.Sort(got)
		if !slices.Equal(got, []int64{tk, tk2}) {
			t.Errorf("Find(%q) = %v, want both tickets %v", in, got, []int64{tk, tk2})
		}
	}

	s.inTx(func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id IN (?, ?)`, msg, note)
		return err
	})
	if got := find(t, db, "flickers supplier", staff); len(got.Hits) != 0 {
		t.Errorf("deleted messages are still found")
	}
	s.inTx(func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM tickets WHERE id = ?`, tk)
		return err
	})
	if got := ticketIDs(find(t, db, "lamp", staff)); !slices.Equal(got, []int64{tk2}) {
		t.Errorf("a deleted ticket is still found: %v", got)
	}

	// A rolled-back transaction leaves no document behind.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := insertTicket(ctx, tx, "Phantom", "phantom@example.com", "phantom question", 60, true); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := find(t, db, "phantom", staff); len(got.Hits) != 0 {
		t.Errorf("a rolled-back document is found")
	}
	if err := Check(ctx, db); err != nil {
		t.Errorf("Check: %v", err)
	}
	for _, k := range []Key{{Kind(0), 1}, {Kind(6), 1}, {KindMessage, 0}, {KindMessage, 1 << 61}} {
		if _, err := k.rowid(); err == nil {
			t.Errorf("rowid of %+v accepted", k)
		}
	}
}

// TestMigrationAndRebuild: the migration splits into its statements through the real
// migration runner and fills the index of a tenant written before it; the triggers write the
// same documents for the same rows, and Rebuild gives the same index again; text that holds
// the snippet markers cannot fake a <mark>.
func TestMigrationAndRebuild(t *testing.T) {
	ctx := context.Background()
	fill := func(db *sql.DB) (tk int64) {
		s := newSeed(t, db)
		tk, conv := s.ticket("Élodie", "elodie@example.com", "Colis \uE000perdu\uE001", 100)
		s.message(conv, "customer", "toujours rien reçu, hélas", 110)
		s.message(conv, "agent", "merci", 120)
		s.message(conv, "note", "client fidèle", 121)
		s.message(conv, "activity", "", 122)
		s.tags(tk, "colis", "urgent")
		_, conv2 := s.ticket("Sam", "sam@example.com", "hello", 130)
		s.message(conv2, "customer", "world", 140)
		s.ticket("Élodie Martin", "elodie@example.com", "encore moi", 150) // renames the contact
		// A ticket whose question is not its first message (taken before conversations
		// started with the question): the question is a document of its own.
		s.inTx(func(tx *sql.Tx) error {
			_, c, err := insertTicket(ctx, tx, "Old", "old@example.com", "legacy printer question", 90, false)
			if err != nil {
				return err
			}
			_, err = insertMessage(ctx, tx, c, "agent", "legacy answer", 95)
			return err
		})
		return tk
	}
	db := openDB(t, beforeIndex)
	tk := fill(db)
	v, err := schema.Up(db, tenantMigrations)
	if err != nil || v < indexVersion {
		t.Fatalf("schema.Up to the index: version %d, %v", v, err)
	}
	migrated := dumpIndex(t, db)
	// 7 customer and agent messages (3 of them questions), 1 note, 4 contacts, 1 tag set, 1
	// legacy question; no activity line.
	if len(migrated) != 14 {
		t.Fatalf("migration indexed %d documents, want 14:\n%v", len(migrated), migrated)
	}
	res := find(t, db, "recu helas", Options{Staff: true})
	if got := ticketIDs(res); !slices.Equal(got, []int64{tk}) {
		t.Fatalf("after the migration Find = %v, want [%d]", got, tk)
	}
	res = find(t, db, "perdu", Options{Staff: true})
	if len(res.Hits) != 1 || string(res.Hits[0].Snippet.HTML()) != "Colis  <mark>perdu</mark> " {
		t.Errorf("snippet of text holding the markers: %+v", res.Hits)
	}
	if got := find(t, db, "legacy printer", Options{Staff: true}); len(got.Hits) != 1 || got.Hits[0].Key.Kind != KindQuestion {
		t.Errorf("legacy question: %+v", got.Hits)
	}
	if err := Check(ctx, db); err != nil {
		t.Errorf("Check after the migration: %v", err)
	}

	s := newSeed(t, db)
	s.inTx(func(tx *sql.Tx) error { return Rebuild(ctx, tx) })
	if rebuilt := dumpIndex(t, db); !reflect.DeepEqual(rebuilt, migrated) {
		t.Errorf("Rebuild and the migration differ:\n%v\n%v", rebuilt, migrated)
	}

	// The same rows written after the migration: the triggers index them alike (but for the
	// legacy question, which only a ticket from before the index can have: today every
	// ticket's conversation starts with its question).
	fresh := openDB(t, tenantMigrations)
	fill(fresh)
	written := dumpIndex(t, fresh)
	written = slices.Insert(written, 7, migrated[7])
	if migrated[7][3] != int64(KindQuestion) {
		t.Fatalf("document 7 of the migration is %v, not the legacy question", migrated[7])
	}
	if !reflect.DeepEqual(written, migrated) {
		t.Errorf("the triggers and the migration differ:\n%v\n%v", written, migrated)
	}

	// Without an index, Check fails and Rebuild makes it again.
	var n int
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
	// The triggers write into the rebuilt table.
	s.message(1, "customer", "after the rebuild", 200)
	if got := ticketIDs(find(t, db, "rebuild", Options{})); !slices.Equal(got, []int64{tk}) {
		t.Errorf("a message after the rebuild: %v", got)
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
	db := openDB(t, tenantMigrations)
	s := newSeed(t, db)
	const tk = 1000
	// The oldest message is the best match (the word alone); RankedMessages newer ones hold
	// it among other words.
	s.inTx(func(tx *sql.Tx) error {
		ctx := context.Background()
		if err := putDoc(ctx, tx, Key{KindMessage, 1}, tk, "common rare", 1); err != nil {
			return err
		}
		for i := range RankedMessages {
			other := int64(2 + i%50) // 50 tickets
			if err := putDoc(ctx, tx, Key{KindMessage, int64(2 + i)}, other, "common word in a longer message", int64(2+i)); err != nil {
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
	db := openDB(t, tenantMigrations)
	s := newSeed(t, db)
	busy, conv := s.ticket("A", "a@example.com", "question", 1)
	s.inTx(func(tx *sql.Tx) error {
		for i := range 400 {
			if _, err := insertMessage(context.Background(), tx, conv, "customer", "needle", int64(10+i)); err != nil {
				return err
			}
		}
		return nil
	})
	b, _ := s.ticket("B", "b@example.com", "a needle in a long question about many other things", 2)
	c, _ := s.ticket("C", "c@example.com", "another needle in another long question about things", 3)
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

// TestCreateTableAsMigrated: Rebuild creates the index with the very statement the migration
// stored, so a tenant reindexed (and its export) keeps the schema an import checks for.
func TestCreateTableAsMigrated(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, tenantMigrations)
	stored := func() string {
		t.Helper()
		var sql []byte
		if err := db.QueryRowContext(ctx, `SELECT CAST(sql AS BLOB) FROM sqlite_master WHERE name = ?`, Table).Scan(&sql); err != nil {
			t.Fatal(err)
		}
		return string(sql)
	}
	migrated := stored()
	if schema.Canonical(migrated) != schema.Canonical(CreateTable) {
		t.Errorf("the migration stores\n%s\nCreateTable is\n%s", migrated, CreateTable)
	}
	newSeed(t, db).inTx(func(tx *sql.Tx) error { return Rebuild(ctx, tx) })
	if got := stored(); got != migrated {
		t.Errorf("after Rebuild the schema holds\n%s", got)
	}
}
