// Package search is the full-text search of one tenant database: an FTS5 index over the
// tickets' questions, messages, internal notes, contacts and tags, the statements that keep it
// in step with the writes, and the query that finds tickets in it.
//
// What people type never reaches FTS5 as syntax: Parse turns it into terms, and every term is
// given to FTS5 as a quoted string, so no input can produce an FTS5 syntax error or use FTS5's
// operators and column filters.
package search

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of a query: longer input is cut, further terms are dropped (Query.Truncated).
const (
	// MaxQueryRunes bounds the input Parse looks at.
	MaxQueryRunes = 256
	// MaxTerms bounds the words and phrases of one query; each is one more FTS5 phrase to
	// intersect.
	MaxTerms = 12
	// MaxTermRunes bounds one word or phrase.
	MaxTermRunes = 64
	// MinPrefixRunes is the shortest word that is searched as a prefix: "refun" finds
	// "refund", "re" finds "refund" and "return", while "a" finds only the word "a" (a
	// one-letter prefix would match a large share of every index and tells nothing).
	MinPrefixRunes = 2
)

// Term is one word or phrase of a query.
type Term struct {
	// Text is the word or the phrase's words as typed (cleaned of control characters).
	Text string
	// Phrase is set for text typed in double quotes, and for a typed word that FTS5 splits
	// into several ("e-mail"): its words must appear together, in order.
	Phrase bool
	// Prefix is set for words that also match longer words ("refun" finds "refund"), and for
	// a term cut at MaxTermRunes (its last word then matches as a prefix).
	Prefix bool
}

// Query is a parsed search.
type Query struct {
	// Terms are the words and phrases to find, all of them (in any order).
	Terms []Term
	// TicketID is the ticket number the input names ("#1042", or "1042" alone), 0 when it
	// names none. The caller may go straight to that ticket when it exists and the viewer may
	// see it; the number is also searched as a word.
	TicketID int64
	// Truncated reports that the input was longer than the bounds and only its beginning is
	// searched.
	Truncated bool
}

// Empty reports whether the query has nothing to search for.
func (q Query) Empty() bool { return len(q.Terms) == 0 }

// Match returns the FTS5 MATCH expression of q: each term as a quoted FTS5 string (a double
// quote inside doubled), words followed by * when they are prefixes, the terms joined by
// spaces (FTS5's implicit AND). It returns "" for an empty query, which must not be run.
func (q Query) Match() string {
	var b strings.Builder
	for i, t := range q.Terms {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(t.Text, `"`, `""`))
		b.WriteByte('"')
		if t.Prefix {
			b.WriteString(" *")
		}
	}
	return b.String()
}

// Parse turns what a person typed into a Query. Words may come in any order and all must be
// found; text in double quotes is a phrase (an unclosed quote runs to the end); characters
// that FTS5 does not index (punctuation, symbols) only separate words, so "e-mail" is the
// phrase "e mail" and "body:x" is "body x", never a column filter. Accents are not handled
// here: the index's tokenizer removes them from the query and the text alike.
func Parse(input string) Query {
	var q Query
	input = strings.ToValidUTF8(input, " ")
	if utf8.RuneCountInString(input) > MaxQueryRunes {
		input = string([]rune(input)[:MaxQueryRunes])
		q.Truncated = true
	}
	q.TicketID = ticketNumber(input)

	seen := map[Term]bool{}
	add := func(text string, phrase bool) {
		words := tokenWords(text)
		if len(words) == 0 {
			return // nothing FTS5 would index: it would match nothing
		}
		t := Term{Phrase: phrase || len(words) > 1}
		var cut bool
		// "e-mail" typed as one word is the phrase "e mail", as FTS5 tokenizes it.
		t.Text, cut = clip(strings.Join(words, " "))
		if cut {
			q.Truncated = true
			t.Prefix = true
		} else if !t.Phrase {
			t.Prefix = utf8.RuneCountInString(t.Text) >= MinPrefixRunes && !allDigits(t.Text)
		}
		if seen[t] {
			return
		}
		if len(q.Terms) == MaxTerms {
			q.Truncated = true
			return
		}
		seen[t] = true
		q.Terms = append(q.Terms, t)
	}

	rest := input
	for rest != "" {
		i := strings.IndexByte(rest, '"')
		if i < 0 {
			i = len(rest)
		}
		for _, w := range strings.FieldsFunc(rest[:i], isSpace) {
			add(w, false)
		}
		if i == len(rest) {
			break
		}
		rest = rest[i+1:]
		j := strings.IndexByte(rest, '"')
		if j < 0 {
			j = len(rest)
		}
		add(rest[:j], true)
		if j == len(rest) {
			break
		}
		rest = rest[j+1:]
	}
	return q
}

// clip cuts a term to MaxTermRunes and reports whether it did.
func clip(s string) (string, bool) {
	if utf8.RuneCountInString(s) <= MaxTermRunes {
		return s, false
	}
	return strings.TrimSpace(string([]rune(s)[:MaxTermRunes])), true
}

// tokenWords splits s into the runs of characters FTS5's unicode61 tokenizer keeps in tokens
// (letters, numbers and private-use characters; everything else separates tokens). Marks
// (accents written as combining characters) stay with their letters.
func tokenWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !isTokenRune(r) })
}

func isTokenRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r) || unicode.Is(unicode.Co, r)
}

func isSpace(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// ticketNumber returns the ticket id that input names as a whole: "#1042", "# 1042" or
// "1042" (surrounding spaces allowed), 0 otherwise. Ids are positive and fit an int64.
func ticketNumber(input string) int64 {
	s := strings.TrimSpace(input)
	if rest, ok := strings.CutPrefix(s, "#"); ok {
		s = strings.TrimSpace(rest)
	}
	if !allDigits(s) {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}
