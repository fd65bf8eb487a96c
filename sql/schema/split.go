package schema

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/antlr4-go/antlr/v4"
	"github.com/libsql/sqlite-antlr4-parser/sqliteparser"
	"github.com/libsql/sqlite-antlr4-parser/sqliteparserutils"
)

// statement is one piece of a migration file, ready to execute.
type statement struct {
	sql string
	// query is set for statements that return rows (SELECT, most PRAGMAs, … RETURNING):
	// go-libsql's Exec refuses them ("Execute returned rows"), so they are run as queries and
	// their rows discarded.
	query bool
}

// splits caches splitStatements by file content: a fleet migration splits the same few files
// once per tenant, and the parser costs about as much as running a small file. The files ship
// with the binary, so the cache stays small; it is bounded all the same.
var splits = struct {
	sync.Mutex
	m map[[32]byte][]statement
}{m: map[[32]byte][]statement{}}

const maxCachedSplits = 256

// splitCached is splitStatements, remembered for files it accepted.
func splitCached(src string) ([]statement, error) {
	key := sha256.Sum256([]byte(src))
	splits.Lock()
	stmts, ok := splits.m[key]
	splits.Unlock()
	if ok {
		return stmts, nil
	}
	stmts, err := splitStatements(src)
	if err != nil {
		return nil, err
	}
	splits.Lock()
	if len(splits.m) >= maxCachedSplits {
		clear(splits.m)
	}
	splits.m[key] = stmts
	splits.Unlock()
	return stmts, nil
}

// splitStatements splits a migration file into the statements go-libsql must be given one at a
// time (a multi-statement string runs only its first statement on a local file).
//
// It uses sqliteparserutils.SplitStatement — the splitter go-libsql itself uses — and repairs
// the two cases it gets wrong:
//   - a CASE … END inside a trigger body: SplitStatement takes that END for the trigger's end
//     and cuts the trigger at the next ";". The pieces are joined again until the trigger's own
//     END is reached.
//   - CREATE TEMP <anything>: SplitStatement mistakes it for CREATE TEMP TRIGGER and swallows
//     the rest of the file into one statement (so only that statement would run). Such a
//     statement is rejected.
//
// Transaction control (BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT, RELEASE) is rejected too: Run
// wraps the whole file in its own transaction.
func splitStatements(src string) ([]statement, error) {
	pieces, info := sqliteparserutils.SplitStatement(src)
	if info.IncompleteMultilineComment {
		return nil, errors.New("unterminated /* comment")
	}
	var out []statement
	for i := 0; i < len(pieces); i++ {
		text := pieces[i]
		toks := lex(text)
		if len(toks) == 0 {
			continue // comment-only or empty piece: go-libsql would fail with "not an error"
		}
		n := len(out) + 1
		switch first := toks[0].GetTokenType(); {
		case isCreateTrigger(toks):
			for !triggerComplete(toks) {
				i++
				if i == len(pieces) {
					return nil, fmt.Errorf("statement %d: CREATE TRIGGER has no END", n)
				}
				text += ";\n" + pieces[i]
				toks = lex(text)
			}
		case first == sqliteparser.SQLiteLexerCREATE_ && len(toks) > 1 &&
			toks[1].GetTokenType() == sqliteparser.SQLiteLexerTEMP_:
			return nil, fmt.Errorf("statement %d: CREATE TEMP is not supported: the statement "+
				"splitter takes it for a trigger and would merge the rest of the file into it "+
				"(write CREATE TEMPORARY instead)", n)
		case first == sqliteparser.SQLiteLexerBEGIN_ || first == sqliteparser.SQLiteLexerCOMMIT_ ||
			first == sqliteparser.SQLiteLexerEND_ || first == sqliteparser.SQLiteLexerROLLBACK_ ||
			first == sqliteparser.SQLiteLexerSAVEPOINT_ || first == sqliteparser.SQLiteLexerRELEASE_:
			return nil, fmt.Errorf("statement %d: %q: migrations must not control transactions "+
				"(each file already runs in one transaction)", n, toks[0].GetText())
		}
		out = append(out, statement{sql: text, query: returnsRows(toks)})
	}
	return out, nil
}

// lex returns the default-channel tokens of sql (no spaces or comments).
func lex(sql string) []antlr.Token {
	lexer := sqliteparser.NewSQLiteLexer(antlr.NewInputStream(sql))
	lexer.RemoveErrorListeners() // the default listener prints to stderr; SQLite reports errors
	var toks []antlr.Token
	for _, t := range lexer.GetAllTokens() {
		if t.GetChannel() == antlr.TokenDefaultChannel {
			toks = append(toks, t)
		}
	}
	return toks
}

// isCreateTrigger reports whether toks start CREATE [TEMP|TEMPORARY] TRIGGER.
func isCreateTrigger(toks []antlr.Token) bool {
	if len(toks) < 2 || toks[0].GetTokenType() != sqliteparser.SQLiteLexerCREATE_ {
		return false
	}
	i := 1
	if t := toks[i].GetTokenType(); t == sqliteparser.SQLiteLexerTEMP_ || t == sqliteparser.SQLiteLexerTEMPORARY_ {
		i++
	}
	return i < len(toks) && toks[i].GetTokenType() == sqliteparser.SQLiteLexerTRIGGER_
}

// triggerComplete reports whether a CREATE TRIGGER statement has reached the END of its body,
// counting CASE … END pairs (in the WHEN clause or the body) so that their END does not count.
func triggerComplete(toks []antlr.Token) bool {
	depth, body := 0, false
	for _, t := range toks {
		switch t.GetTokenType() {
		case sqliteparser.SQLiteLexerBEGIN_:
			body = true
		case sqliteparser.SQLiteLexerCASE_:
			depth++
		case sqliteparser.SQLiteLexerEND_:
			if depth > 0 {
				depth--
			} else if body {
				return true
			}
		}
	}
	return false
}

// returnsRows reports whether a statement may produce rows, which go-libsql's Exec refuses.
func returnsRows(toks []antlr.Token) bool {
	switch toks[0].GetTokenType() {
	case sqliteparser.SQLiteLexerSELECT_, sqliteparser.SQLiteLexerPRAGMA_,
		sqliteparser.SQLiteLexerVALUES_, sqliteparser.SQLiteLexerEXPLAIN_:
		return true
	}
	if isCreateTrigger(toks) {
		return false // a RETURNING or SELECT inside a trigger body returns nothing to us
	}
	for _, t := range toks {
		if t.GetTokenType() == sqliteparser.SQLiteLexerRETURNING_ {
			return true
		}
	}
	// WITH … SELECT returns rows, WITH … INSERT/UPDATE/DELETE does not; a query handles both.
	return toks[0].GetTokenType() == sqliteparser.SQLiteLexerWITH_
}

// Canonical returns a schema statement's text in a form that two spellings of the same
// statement share: its tokens, separated by single spaces, in lower case except for string
// literals, comments and spacing gone. sqld stores a CREATE TRIGGER or CREATE VIRTUAL TABLE
// respelled ("REPLACE (x, …)" for "replace(x, …)"), so schemas read from different backends
// are compared in this form.
func Canonical(sql string) string {
	toks := lex(sql)
	parts := make([]string, 0, len(toks))
	for _, t := range toks {
		text := t.GetText()
		if t.GetTokenType() != sqliteparser.SQLiteLexerSTRING_LITERAL {
			text = strings.ToLower(text)
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, " ")
}
