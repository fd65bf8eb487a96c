package handlers

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Rules for characters in outside input. Every string bound for the database goes through
// one of them, whatever its length: go-libsql hands strings to SQLite as C strings, so a NUL
// would cut one short without an error (sql/sqlite refuses it too, as the last line), and
// the other control characters have no place in a helpdesk's text.

// forbiddenControl reports a control character text fields refuse: every C0 control but tab,
// line feed and carriage return (newlines are normalised or refused by the field), DEL, and
// the C1 controls.
func forbiddenControl(r rune) bool {
	return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
}

// hasForbiddenControl reports whether s holds a character forbiddenControl refuses.
func hasForbiddenControl(s string) bool { return strings.IndexFunc(s, forbiddenControl) >= 0 }

// nameRune reports whether r may appear in a name (of an organization, an agent, a customer).
// Names are shown to other people, side by side with look-alikes, so only visible characters
// of any script pass: letters, marks, digits, punctuation, symbols and spaces. Refused are
// controls and format characters (bidirectional overrides and isolates, zero-width spaces
// and joiners, the soft hyphen, tag characters), variation selectors, the other characters
// Unicode says to ignore when rendering (Hangul fillers, the combining grapheme joiner), the
// blank braille pattern, and line and paragraph separators.
func nameRune(r rune) bool {
	return unicode.IsGraphic(r) && r != '\u2800' &&
		!unicode.Is(unicode.Variation_Selector, r) &&
		!unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// checkName is a name field's rule on a trimmed value, as the message shown beside it ("" when
// acceptable): a single line of min–max characters that are all nameRune.
func checkName(v, label string, min, max int) string {
	if msg := checkText(v, label, min, max); msg != "" {
		return msg
	}
	if strings.IndexFunc(v, func(r rune) bool { return !nameRune(r) }) >= 0 {
		return label + " may only contain visible characters (no invisible, formatting or direction marks)."
	}
	return ""
}

// name returns a trimmed name field, checked by checkName.
func (f *form) name(field, label string, min, max int) string {
	v := strings.Clone(strings.TrimSpace(f.c.FormValue(field)))
	if msg := checkName(v, label, min, max); msg != "" {
		f.fail(field, msg)
	}
	return v
}

// loginEmail normalises an email typed into a login form as registration stored it (trimmed,
// lower case) and reports whether it is a valid address at all. Both the per-account limiter
// and the account lookup use the normalised value, and an invalid one reaches neither: a NUL
// or another control character could otherwise make the limiter count under one key while
// the lookup finds the account under another.
func loginEmail(raw string) (string, bool) {
	v := strings.ToLower(strings.TrimSpace(raw))
	if !utf8.ValidString(v) || checkText(v, "Email", 1, 254) != "" || checkEmail(v) != "" {
		return "", false
	}
	return v, true
}
