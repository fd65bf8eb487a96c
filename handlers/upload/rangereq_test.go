package upload

import (
	"errors"
	"fmt"
	"testing"
)

func TestParseRange(t *testing.T) {
	const size = 1000
	cases := []struct {
		h      string
		off, n int64
		err    error
	}{
		{"bytes=0-0", 0, 1, nil},
		{"bytes=0-999", 0, 1000, nil},
		{"bytes=10-", 10, 990, nil},
		{"bytes=990-5000", 990, 10, nil},
		{"bytes=-10", 990, 10, nil},
		{"bytes=-5000", 0, 1000, nil},
		{" bytes=5-6 ", 5, 2, nil},
		{"bytes=1000-", 0, 0, ErrUnsatisfiable},
		{"bytes=1000-2000", 0, 0, ErrUnsatisfiable},
		{"bytes=-0", 0, 0, ErrUnsatisfiable},
		{"bytes=5-4", 0, 0, errIgnoredRange},
		{"bytes=0-1,5-6", 0, 0, errIgnoredRange},
		{"items=0-1", 0, 0, errIgnoredRange},
		{"bytes=", 0, 0, errIgnoredRange},
		{"bytes=-", 0, 0, errIgnoredRange},
		{"bytes=+1-2", 0, 0, errIgnoredRange},
		{"bytes=1 - 2", 0, 0, errIgnoredRange},
		{"bytes=99999999999999999999-", 0, 0, errIgnoredRange},
	}
	for _, c := range cases {
		off, n, err := ParseRange(c.h, size)
		if !errors.Is(err, c.err) || (err == nil && (off != c.off || n != c.n)) {
			t.Errorf("ParseRange(%q) = %d, %d, %v; want %d, %d, %v", c.h, off, n, err, c.off, c.n, c.err)
		}
	}
}

// FuzzParseRange: whatever the header, a range served lies inside the file; and (the other
// direction) every range inside the file, written as a browser writes it, is served exactly.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=0-1,2-3", "bytes=9-1", "bytes=--1", "bytes=1-2-3"} {
		f.Add(s, int64(100), int64(3), int64(7))
	}
	f.Fuzz(func(t *testing.T, h string, size, a, b int64) {
		if size <= 0 || size > 1<<40 {
			return
		}
		off, n, err := ParseRange(h, size)
		if err == nil && (off < 0 || n <= 0 || off+n > size) {
			t.Fatalf("ParseRange(%q, %d) = %d, %d outside the file", h, size, off, n)
		}
		// The other direction.
		a, b = abs(a)%size, abs(b)%size
		if a > b {
			a, b = b, a
		}
		for _, c := range []struct {
			h      string
			off, n int64
		}{
			{fmt.Sprintf("bytes=%d-%d", a, b), a, b - a + 1},
			{fmt.Sprintf("bytes=%d-", a), a, size - a},
			{fmt.Sprintf("bytes=-%d", b+1), size - b - 1, b + 1},
		} {
			off, n, err := ParseRange(c.h, size)
			if err != nil || off != c.off || n != c.n {
				t.Fatalf("ParseRange(%q, %d) = %d, %d, %v; want %d, %d", c.h, size, off, n, err, c.off, c.n)
			}
		}
	})
}

func abs(x int64) int64 {
	if x < 0 {
		if x == -x {
			return 0
		}
		return -x
	}
	return x
}

func TestETagMatch(t *testing.T) {
	for h, want := range map[string]bool{`"abc"`: true, `W/"abc"`: true, `"x", "abc"`: true, `*`: true, `"abcd"`: false, ``: false, `abc`: false} {
		if got := ETagMatch(h, `"abc"`); got != want {
			t.Errorf("ETagMatch(%q) = %v", h, got)
		}
	}
}
