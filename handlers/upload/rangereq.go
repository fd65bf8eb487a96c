package upload

import (
	"errors"
	"strconv"
	"strings"
)

// ErrUnsatisfiable is ParseRange's answer to a range that starts past the end of the file
// (answered 416 with Content-Range: bytes */size).
var ErrUnsatisfiable = errors.New("range not satisfiable")

// errIgnoredRange is ParseRange's answer to a Range header it does not serve: malformed, of
// another unit, or several ranges. The whole file is sent instead, as RFC 9110 allows.
var errIgnoredRange = errors.New("range ignored")

// maxRangeHeader bounds the Range header read (a browser sends one short range).
const maxRangeHeader = 200

// ParseRange reads a Range header for a file of size bytes and returns the one range it asks
// for as an offset and a length: "bytes=first-last" (last clipped to the end), "bytes=first-"
// (to the end), "bytes=-suffix" (the last suffix bytes, the whole file when longer). A range
// that starts at or past the end is ErrUnsatisfiable; any other header it does not serve
// (malformed, another unit, several ranges) is another error, and the whole file is sent.
func ParseRange(h string, size int64) (off, n int64, err error) {
	if len(h) > maxRangeHeader || size <= 0 {
		return 0, 0, errIgnoredRange
	}
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, errIgnoredRange
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, errIgnoredRange
	}
	if first == "" {
		suffix, ok := parseDigits(last)
		if !ok || suffix == 0 {
			if ok {
				return 0, 0, ErrUnsatisfiable
			}
			return 0, 0, errIgnoredRange
		}
		suffix = min(suffix, size)
		return size - suffix, suffix, nil
	}
	start, ok := parseDigits(first)
	if !ok {
		return 0, 0, errIgnoredRange
	}
	end := size - 1
	if last != "" {
		e, ok := parseDigits(last)
		if !ok || e < start {
			return 0, 0, errIgnoredRange
		}
		end = min(e, size-1)
	}
	if start >= size {
		return 0, 0, ErrUnsatisfiable
	}
	return start, end - start + 1, nil
}

// parseDigits reads a non-negative decimal of at most 18 digits (no sign, no spaces).
func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// ETagMatch reports whether an If-None-Match header names etag (or is "*"), comparing
// weakly as RFC 9110 asks for If-None-Match.
func ETagMatch(header, etag string) bool {
	if header == "" || len(header) > 4096 {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}
