package sqlite

import (
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// go-libsql binds a string argument through C.CString: SQLite sees it only up to its first NUL
// byte, so "visible\x00HIDDEN" would be stored as "visible" without an error, and a lookup by
// "a@x.example\x00zz" would find a@x.example. Every string bound through a pool this package
// opens is checked here, on the connection database/sql consults before any statement runs
// (checked.go).

// refuseNUL converts an argument as database/sql's default converter does and refuses a string
// that holds a NUL byte.
func refuseNUL(nv *driver.NamedValue) error {
	v, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
	if err != nil {
		return err
	}
	if s, ok := v.(string); ok && strings.IndexByte(s, 0) >= 0 {
		return &NULError{Ordinal: nv.Ordinal}
	}
	nv.Value = v
	return nil
}

// NULError is a string argument with a NUL byte in it: an Invalid error (input that should
// have been refused before it reached the database).
type NULError struct {
	Ordinal int // the argument's position, from 1
}

func (e *NULError) Error() string {
	return fmt.Sprintf("sqlite: argument %d holds a NUL byte, which SQLite would cut the string at", e.Ordinal)
}

// nulKind carries the Invalid kind through errors.As for the HTTP layer.
var nulKind = apperr.New(apperr.Invalid, apperr.CodeInvalid)

// Unwrap exposes the apperr kind.
func (e *NULError) Unwrap() error { return nulKind }
