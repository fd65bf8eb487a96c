package handlers

import (
	"strings"
	"testing"
	"time"
)

// dueTexts is the wording of a due time at an offset from now; app.js's dueText words it the
// same (e2e/pages_test.go holds the same table).
var dueTexts = []struct {
	offset time.Duration
	want   string
}{
	{25*time.Minute + 30*time.Second, "due in 25 min"},
	{30 * time.Second, "due in less than a minute"},
	{3*time.Hour + 10*time.Minute, "due in 3 h"},
	{30 * time.Hour, "due in 1 day"},
	{50 * time.Hour, "due in 2 days"},
	{-30 * time.Second, "breached just now"},
	{-(2*time.Hour + 30*time.Minute), "breached 2 h ago"},
	{-(3*24*time.Hour + time.Hour), "breached 3 days ago"},
	{-40 * 24 * time.Hour, "breached on "},
}

func TestDueText(t *testing.T) {
	now := time.Now()
	for _, tc := range dueTexts {
		got := dueText(now.Add(tc.offset), now)
		if got != tc.want && !(strings.HasSuffix(tc.want, " ") && strings.HasPrefix(got, tc.want)) {
			t.Errorf("dueText(now%+v) = %q, want %q", tc.offset, got, tc.want)
		}
	}
	if got := dueText(now, now); got != "due in less than a minute" {
		t.Errorf("exactly at the due time: %q (a target met at its due time is not breached)", got)
	}
}
