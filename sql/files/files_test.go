package files

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanName(t *testing.T) {
	long := strings.Repeat("é", 200) + ".pdf"
	cases := map[string]string{
		"report.pdf":                    "report.pdf",
		"Résumé 2024 (final).docx":      "Résumé 2024 (final).docx",
		"../../etc/passwd":              "passwd",
		`C:\Users\me\Desktop\photo.jpg`: "photo.jpg",
		"..":                            DefaultName,
		"":                              DefaultName,
		"   ":                           DefaultName,
		".htaccess":                     "htaccess",
		"name.":                         "name",
		"a/":                            DefaultName,
		"invoice\u202Efdp.exe":          "invoicefdp.exe", // right-to-left override
		"a\u2066b\u2069c\u200Bd\uFEFFe": "abcde",          // isolates, zero-width space, BOM
		"soft\u00ADhyphen":              "softhyphen",
		"tab\tand\nnewline\r.txt":       "tab and newline .txt",
		"nul\x00byte\x7f.txt":           "nulbyte.txt",
		"  many   spaces  .txt":         "many spaces .txt",
		`what?<is>:"this"|*.txt`:        "what__is___this___.txt",
		"bad\xffutf8.txt":               "badutf8.txt",
		"private\uE000use.txt":          "privateuse.txt",
		"emoji 📎.png":                   "emoji 📎.png",
		"e\u0301t\u00e9.txt":            "e\u0301t\u00e9.txt",
		long:                            strings.Repeat("é", (MaxNameBytes-4)/2) + ".pdf",
		strings.Repeat("x", 300):        strings.Repeat("x", MaxNameBytes),
		strings.Repeat("x", 300) + ".verylongextension": strings.Repeat("x", MaxNameBytes),
	}
	for in, want := range cases {
		if got := CleanName(in); got != want {
			t.Errorf("CleanName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzCleanName: any input gives a name within the bounds with none of the removed
// characters, cleaning twice changes nothing, and (the other direction) a name that is
// already clean comes back unchanged.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"report.pdf", "../../x", `C:\a\b.txt`, "a\u202Eb", "..", "", " . ",
		strings.Repeat("é", 300) + ".tar.gz", "\x00", "\xff", "a\u2028b", "CON", "x" + strings.Repeat(".", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := CleanName(in)
		if got == "" || len(got) > MaxNameBytes || !utf8.ValidString(got) {
			t.Fatalf("CleanName(%q) = %q", in, got)
		}
		for _, r := range got {
			if r == '/' || r == '\\' || (r != ' ' && dropRune(r)) || strings.ContainsRune(`<>:"|?*`, r) || (r != ' ' && isSpaceRune(r)) {
				t.Fatalf("CleanName(%q) = %q holds %U", in, got, r)
			}
		}
		if strings.Contains(got, "  ") || strings.Trim(got, " .") != got {
			t.Fatalf("CleanName(%q) = %q: doubled or edge spaces or dots", in, got)
		}
		if again := CleanName(got); again != got {
			t.Fatalf("CleanName not idempotent: %q → %q → %q", in, got, again)
		}
		// A plain name made from the input comes back as it is.
		plain := plainName(in)
		if plain != "" {
			if back := CleanName(plain); back != plain {
				t.Fatalf("clean name %q changed to %q", plain, back)
			}
		}
	})
}

func isSpaceRune(r rune) bool {
	return strings.ContainsRune("\t\n\v\f\r\u0085\u00a0\u2028\u2029\u3000\u1680\u2000", r)
}

// plainName keeps the letters, digits, single spaces, dashes, underscores and one inner dot
// of s, within the length bound: a name CleanName must accept as it is.
func plainName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == 'é', r == '中':
			b.WriteRune(r)
		case r == ' ' && b.Len() > 0 && !strings.HasSuffix(b.String(), " "):
			b.WriteRune(r)
		}
		if b.Len() >= MaxNameBytes-8 {
			break
		}
	}
	name := strings.TrimSpace(b.String())
	if name == "" {
		return ""
	}
	return name + ".txt"
}
