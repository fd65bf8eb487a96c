package apitoken

import (
	"bytes"
	"strings"
	"testing"
)

var testKey = bytes.Repeat([]byte{9}, 32)

func TestNewParseValid(t *testing.T) {
	key, err := Key(testKey)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, org := range []int64{1, 42, 9223372036854775807} {
		s := New(key, org)
		if seen[s] || !strings.HasPrefix(s, Prefix) || len(s) > MaxLength {
			t.Fatalf("New(%d) = %q", org, s)
		}
		seen[s] = true
		tk, err := Parse(s)
		if err != nil || tk.OrgID != org || !tk.Valid(key) || tk.String() != s {
			t.Fatalf("Parse(%q) = %+v, %v", s, tk, err)
		}
		// Another key, another organization, a flipped bit: the tag fails.
		other, _ := Key(bytes.Repeat([]byte{8}, 32))
		moved := tk
		moved.OrgID = org%1000 + 1
		flipped := tk
		flipped.Random[3] ^= 1
		for name, bad := range map[string]bool{"other key": tk.Valid(other), "moved": moved.Valid(key), "flipped": flipped.Valid(key)} {
			if bad {
				t.Errorf("%s: token of %d still valid", name, org)
			}
		}
	}
	if _, err := Key([]byte("short")); err == nil {
		t.Error("Key accepted 5 bytes of key material")
	}
}

func TestParseRefuses(t *testing.T) {
	good := New(testKey, 7)
	secret := good[len("tdk_7_"):]
	for _, s := range []string{
		"", "tdk_", "tdk_7", "tdk_7_", "TDK_7_" + secret, "tdk_07_" + secret, "tdk_0_" + secret, "tdk_-7_" + secret,
		"tdk_+7_" + secret, "tdk_7__" + secret, "tdk_7_" + secret[1:], "tdk_7_" + secret + "A", "tdk_7_" + secret[:53] + "=",
		"tdk_7_" + secret[:53] + ".", "tdk_99999999999999999999_" + secret, "Bearer " + good, good + "\n", " " + good,
		"tdk_7 _" + secret, "tdk_١_" + secret,
	} {
		if tk, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %+v", s, tk)
		}
	}
	// The last character carries 2 spare bits: a non-canonical spelling of the same bytes is
	// refused, so one token has one spelling.
	last := secret[len(secret)-1]
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		if byte(c) == last {
			continue
		}
		s := good[:len(good)-1] + string(c)
		if tk, err := Parse(s); err == nil && tk.String() != s {
			t.Errorf("Parse(%q) accepted a second spelling of %q", s, tk.String())
		}
	}
}

// FuzzParse: accepted ⇒ valid (a token of the documented shape that formats back to the same
// string); valid ⇒ accepted (a token made from any organization id and bytes parses to them).
func FuzzParse(f *testing.F) {
	f.Add(New(testKey, 1), int64(1), []byte("0123456789abcdef0123456789abcdef01234567"))
	f.Add("tdk_12_"+strings.Repeat("A", 54), int64(12), []byte{})
	f.Add("tdk_012_"+strings.Repeat("A", 54), int64(-3), []byte{1, 2, 3})
	f.Add("tdk_9223372036854775808_"+strings.Repeat("A", 54), int64(9223372036854775807), bytes.Repeat([]byte{255}, 40))
	f.Fuzz(func(t *testing.T, s string, org int64, b []byte) {
		if tk, err := Parse(s); err == nil {
			if tk.OrgID <= 0 || tk.String() != s || len(s) > MaxLength || !strings.HasPrefix(s, Prefix) {
				t.Fatalf("Parse(%q) = %+v, which formats as %q", s, tk, tk.String())
			}
		} else if err != ErrMalformed {
			t.Fatalf("Parse(%q) error %v", s, err)
		}
		if org <= 0 {
			return
		}
		var want Token
		want.OrgID = org
		b = append(b, make([]byte, 40)...)
		copy(want.Random[:], b)
		copy(want.Tag[:], b[randomSize:])
		got, err := Parse(want.String())
		if err != nil || got != want {
			t.Fatalf("Parse(%q) = %+v, %v; want %+v", want.String(), got, err, want)
		}
	})
}
