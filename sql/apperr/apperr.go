// Package apperr defines the one error type that crosses tenantdesk's layers. Stores return it
// for outcomes a user can act on; the HTTP error handler maps its Kind to a status code and a
// page. Any other error is unexpected: it is logged and the user sees a generic message.
package apperr

import (
	"errors"
	"fmt"
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
)

// Error is an expected failure with a message fit for the user. Field names the form field the
// message belongs to, when there is one.
type Error struct {
	Kind    Kind
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// New returns an Error of the given kind.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Field returns an Invalid error attached to a form field.
func Field(field, message string) *Error {
	return &Error{Kind: Invalid, Field: field, Message: message}
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

// As returns the *Error that err wraps, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
