// Package apperr defines the one error type that crosses tenantdesk's layers. The data layer
// returns it for outcomes a caller can act on: a Kind (what class of failure, which the HTTP
// layer maps to a status code), a Code (exactly what happened, stable and machine-readable)
// and, for input problems and conflicts, the Field it is about. It never carries text meant
// for people: the HTTP layer words each Code. Any other error is unexpected: it is logged and
// the user sees a generic message.
package apperr

import (
	"errors"
)

// Kind classifies an Error for the HTTP layer.
type Kind int

// The kinds of expected failure.
const (
	Internal     Kind = iota // not expected; never shown to the user
	NotFound                 // unknown id, token or another tenant's resource: 404
	Invalid                  // input failed validation: 422
	Conflict                 // the state forbids the action (taken name, closed ticket): 409
	Unauthorized             // wrong credentials: 401
	Unavailable              // a database cannot be reached: 503
	Forbidden                // the actor may see the resource but not do this: 403
	TooLarge                 // a file or the organization's storage is over its limit: 413
)

var kindNames = [...]string{"internal", "not found", "invalid", "conflict", "unauthorized", "unavailable", "forbidden", "too large"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind?"
}

// Code says exactly what went wrong, in lower_snake_case; the packages that return an Error
// declare the codes they use.
type Code string

// Codes shared by several packages.
const (
	CodeRequired Code = "required" // a required value is missing
	CodeInvalid  Code = "invalid"  // a value has the wrong form
	CodeTooLong  Code = "too_long" // a value is longer than allowed
	CodeTaken    Code = "taken"    // a unique value (username, email) belongs to someone else
)

// Error is an expected failure.
type Error struct {
	Kind Kind
	// Code says what happened; the HTTP layer words it.
	Code Code
	// Field names the input the error is about, when there is one.
	Field string
	// Err is the cause, for logs only.
	Err error
}

func (e *Error) Error() string {
	s := e.Kind.String()
	if e.Code != "" {
		s += ": " + string(e.Code)
	}
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an Error of the given kind and code.
func New(kind Kind, code Code) *Error { return &Error{Kind: kind, Code: code} }

// Wrap returns an Error of the given kind and code whose cause is err.
func Wrap(kind Kind, code Code, err error) *Error { return &Error{Kind: kind, Code: code, Err: err} }

// Field returns an error of the given kind about one input field.
func Field(kind Kind, field string, code Code) *Error {
	return &Error{Kind: kind, Code: code, Field: field}
}

// KindOf reports the Kind of err: Internal unless err wraps an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err wraps an *Error of the given kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }

// CodeOf reports the Code of the *Error err wraps, or "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// As returns the *Error that err wraps, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
