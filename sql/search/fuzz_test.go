package search

import (
	"context"
	"database/sql"
	"html"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// fuzzDB is one migrated tenant database per process with a few documents, shared by the fuzz
// targets: every input runs against real FTS5.
var (
	fuzzOnce  sync.Once
	fuzzDB    *sql.DB
	sharedDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fuzzDB != nil {
		fuzzDB.Close()
		os.RemoveAll(sharedDir)
	}
	if benchDB != nil {
		benchDB.Close()
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func sharedDB(tb testing.TB) *sql.DB {
	fuzzOnce.Do(func() {
		// Not tb.TempDir: the database outlives the first test that asks for it (TestMain
		// removes it).
		dir, err := os.MkdirTemp("", "search-fuzz-")
		if err != nil {
			tb.Fatal(err)
		}
		sharedDir = dir
		db, err := sqlite.Open(filepath.Join(dir, "tenant.db"), 1)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := schema.Up(db, tenantMigrations); err != nil {
			tb.Fatal(err)
		}
		fuzzDB = db
		s := newSeed(tb, fuzzDB)
		_, conv := s.ticket("Zoë", "zoe@example.com", "Café refund e-mail NEAR(x) body:y", 1)
		s.message(conv, "customer", `He said "hello" AND OR NOT * ^ - + : ( ) {}`, 2)
		s.message(conv, "note", "internal ünïcödé 1042", 3)
	})
	if fuzzDB == nil {
		tb.Fatal("shared database failed to open")
	}
	return fuzzDB
}

// FuzzParse: no input makes FTS5 fail, every term is a quoted string, and (the other
// direction) plain words typed in any order, any case, with or without accents, find a
// document holding them.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "refun", `"exact phrase"`, `"unclosed`, "café", "#1042", "1042", `' OR 1=1--`,
		`NEAR(a b)`, `body:x`, `ATTACH '/tmp/p' AS p`, `a* OR b`, `^x`, `"a""b"`, "\x00", "\xff\xfe",
		"-x +y", `(a OR b) AND NOT c`, "\uE000mark\uE001", "ﬁ ligature", "e\u0301", "Ⅻ ½ ²",
		strings.Repeat("long ", 100), strings.Repeat("ab", 200),
	} {
		f.Add(s)
	}
	db := sharedDB(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, input string) {
		q := Parse(input)
		if len(q.Terms) > MaxTerms {
			t.Fatalf("%d terms", len(q.Terms))
		}
		for _, term := range q.Terms {
			if n := utf8.RuneCountInString(term.Text); n == 0 || n > MaxTermRunes {
				t.Fatalf("term %q has %d runes", term.Text, n)
			}
			if strings.ContainsFunc(term.Text, func(r rune) bool { return unicode.IsControl(r) || r == '"' }) {
				t.Fatalf("term %q holds a control character or a quote", term.Text)
			}
		}
		if !utf8.ValidString(q.Match()) {
			t.Fatalf("Match %q is not UTF-8", q.Match())
		}
		for _, staff := range []bool{false, true} {
			if _, err := Find(ctx, db, q, Options{Staff: staff}); err != nil {
				t.Fatalf("Find(%q) [match %s]: %v", input, q.Match(), err)
			}
		}

		// The other direction: the input's letters as words.
		words := plainWords(input)
		if len(words) == 0 {
			return
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		const ticket = 1 << 40
		doc := strings.Join(words, " ")
		if err := putDoc(ctx, tx, Key{KindMessage, ticket}, ticket, "¿"+doc+"!", 9); err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(uint64(len(input)), 7))
		typed := slices.Clone(words)
		r.Shuffle(len(typed), func(i, j int) { typed[i], typed[j] = typed[j], typed[i] })
		for i, w := range typed {
			switch r.IntN(3) {
			case 0:
				typed[i] = strings.ToUpper(w)
			case 1:
				typed[i] = stripAccents(w)
			}
		}
		query := strings.Join(typed, "  ")
		res, err := Find(ctx, tx, Parse(query), Options{Staff: false, Limit: MaxLimit})
		if err != nil {
			t.Fatalf("Find(%q): %v", query, err)
		}
		if !slices.ContainsFunc(res.Hits, func(h Hit) bool { return h.TicketID == ticket }) {
			t.Fatalf("Find(%q) does not find the document %q (match %s)", query, doc, Parse(query).Match())
		}
		// The phrase as typed finds it too.
		phrase := `"` + strings.Join(words, " ") + `"`
		if res, err := Find(ctx, tx, Parse(phrase), Options{Limit: MaxLimit}); err != nil ||
			!slices.ContainsFunc(res.Hits, func(h Hit) bool { return h.TicketID == ticket }) {
			t.Fatalf("Find(%s): %v, the document is not found", phrase, err)
		}
	})
}

// plainWords returns the runs of Latin letters of s (accented ones included), at most six of
// at most 20 letters: the words a person types.
func plainWords(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !isPlainLetter(r) }) {
		if utf8.RuneCountInString(w) > 20 {
			w = string([]rune(w)[:20])
		}
		out = append(out, w)
		if len(out) == 6 {
			break
		}
	}
	return out
}

func isPlainLetter(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || strings.ContainsRune("éèêëàâäîïôöùûüçñÉÈÀÇÑ", r)
}

var accents = strings.NewReplacer("é", "e", "è", "e", "ê", "e", "ë", "e", "à", "a", "â", "a", "ä", "a",
	"î", "i", "ï", "i", "ô", "o", "ö", "o", "ù", "u", "û", "u", "ü", "u", "ç", "c", "ñ", "n",
	"É", "E", "È", "E", "À", "A", "Ç", "C", "Ñ", "N")

func stripAccents(s string) string { return accents.Replace(s) }

// FuzzSnippet: whatever FTS5 or the stored text holds, the snippet's HTML has no markup but
// balanced <mark> tags, and unescaped it is the snippet's text.
func FuzzSnippet(f *testing.F) {
	for _, s := range []string{
		"", "plain", "\uE000hit\uE001 rest", "\uE001close first\uE000open never closed",
		"\uE000\uE000nested\uE001\uE001", "\uE002elided\uE002", `<script>alert(1)</script>`,
		"&amp; \"quotes\" 'single'", "\xff\xfe invalid", "<mark>fake</mark>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		snip := parseSnippet(raw)
		out := string(snip.HTML())
		if strings.Count(out, "<mark>") != strings.Count(out, "</mark>") {
			t.Fatalf("unbalanced marks in %q", out)
		}
		bare := strings.ReplaceAll(strings.ReplaceAll(out, "<mark>", ""), "</mark>", "")
		if strings.ContainsAny(bare, `<>"'`) {
			t.Fatalf("markup or quotes outside the marks: %q", out)
		}
		if got := html.UnescapeString(bare); got != snip.Text() {
			t.Fatalf("unescaped HTML %q, snippet text %q", got, snip.Text())
		}
		if strings.ContainsAny(snip.Text(), "\uE000\uE001\uE002") {
			t.Fatalf("markers left in the text %q", snip.Text())
		}
		for i, seg := range snip {
			if seg.Text == "" || (i > 0 && snip[i-1].Mark == seg.Mark) {
				t.Fatalf("segments not merged: %+v", snip)
			}
		}
		// Nothing but the markers is lost.
		want := strings.NewReplacer("\uE000", "", "\uE001", "", "\uE002", "…", "\x00", "\uFFFD").Replace(strings.ToValidUTF8(raw, "\uFFFD"))
		if snip.Text() != want {
			t.Fatalf("text %q, want %q", snip.Text(), want)
		}
	})
}
