package sla

import (
	"strings"
	"unicode/utf8"
)

// Kind names what is wrong with a value, so that the caller can pick the words. The values are
// stable identifiers, never text meant for people.
type Kind string

// The kinds of error the package returns.
const (
	// Validation of a Config or of settings-form text.
	KindRequired        Kind = "required"         // the value is missing
	KindTooLong         Kind = "too_long"         // the text is longer than the field allows
	KindSyntax          Kind = "syntax"           // the text is not of the expected form
	KindRange           Kind = "range"            // a time, date or year outside its range, or no such date
	KindUnknownZone     Kind = "unknown_zone"     // not an IANA time zone name known to this system
	KindEmptyInterval   Kind = "empty_interval"   // an interval that ends when it starts
	KindCrossesMidnight Kind = "crosses_midnight" // an interval that ends before it starts; split it at 24:00
	KindReversed        Kind = "reversed"         // a holiday range or a pause that ends before it starts
	KindOverlap         Kind = "overlap"          // an interval starts before the previous one of the day ends
	KindTooMany         Kind = "too_many"         // more intervals or holidays than allowed
	KindDuplicate       Kind = "duplicate"        // a holiday given twice
	KindEmptyWeek       Kind = "empty_week"       // business hours set, but no day has any: nothing would ever be due

	// Computation.
	KindHorizon  Kind = "horizon"  // the answer lies further away than Horizon, or an instant outside MinYear–MaxYear
	KindPaused   Kind = "paused"   // a pause with no end stops the clock before the target is reached
	KindNegative Kind = "negative" // a negative target
)

// Field names used in errors. Weekday fields are "hours." followed by the lower-case English
// weekday name ("hours.monday").
const (
	FieldZone     = "zone"
	FieldHours    = "hours"
	FieldHolidays = "holidays"
)

// Error is the one error type of the package. Field is the settings field at fault (empty for
// errors of a computation); Value is the offending part of the input as given, with invalid
// UTF-8 replaced, cut to at most 64 bytes.
type Error struct {
	Field string
	Kind  Kind
	Value string
}

// Error returns "sla: <field>: <kind>" for logs.
func (e *Error) Error() string {
	if e.Field == "" {
		return "sla: " + string(e.Kind)
	}
	return "sla: " + e.Field + ": " + string(e.Kind)
}

func fieldErr(field string, kind Kind, value string) *Error {
	value = strings.ToValidUTF8(value, "\uFFFD")
	if len(value) > 64 {
		cut := 64
		for !utf8.RuneStart(value[cut]) {
			cut--
		}
		value = value[:cut]
	}
	return &Error{Field: field, Kind: kind, Value: value}
}
