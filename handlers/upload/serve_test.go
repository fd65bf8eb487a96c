package upload

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
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

func TestContentDisposition(t *testing.T) {
	cases := []struct {
		name   string
		inline bool
		want   string
	}{
		{"report.pdf", true, `inline; filename="report.pdf"`},
		{"a b.txt", false, `attachment; filename="a b.txt"`},
		{"Résumé.pdf", false, `attachment; filename="R_sum_.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf`},
		{`quo"te\.txt`, false, `attachment; filename="quo_te_.txt"; filename*=UTF-8''quo%22te%5C.txt`},
		{"50% off;x=1.txt", false, `attachment; filename="50% off;x=1.txt"`},
	}
	for _, c := range cases {
		got := ContentDisposition(c.name, c.inline)
		if got != c.want {
			t.Errorf("ContentDisposition(%q) = %s, want %s", c.name, got, c.want)
		}
	}
}

// FuzzContentDisposition: a client parsing the header gets the exact clean name back.
func FuzzContentDisposition(f *testing.F) {
	for _, s := range []string{"report.pdf", "Résumé.pdf", `a"b\c`, "50% off;x=1", "中文.txt", "\x00", "a\r\nX-Evil: 1"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, inline bool) {
		name := CleanName(raw)
		v := ContentDisposition(name, inline)
		if strings.ContainsAny(v, "\r\n\x00") {
			t.Fatalf("header value %q holds a line break or NUL", v)
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] >= 0x7f {
				t.Fatalf("header value %q is not printable ASCII", v)
			}
		}
		disp, got, ok, err := parseDisposition(v)
		want := map[bool]string{true: "inline", false: "attachment"}[inline]
		if err != nil || !ok || disp != want || got != name {
			t.Fatalf("ContentDisposition(%q) = %s parses as %q %q %v %v", name, v, disp, got, ok, err)
		}
	})
}

func TestSniffAndServe(t *testing.T) {
	cases := []struct {
		name   string
		data   []byte
		sniff  string
		inline bool
	}{
		{"png", samplePNG, "image/png", true},
		{"jpeg", sampleJPEG, "image/jpeg", true},
		{"gif", sampleGIF, "image/gif", true},
		{"webp", sampleWEBP, "image/webp", true},
		{"pdf", samplePDF, "application/pdf", true},
		{"svg", sampleSVG, "image/svg+xml", false},
		{"html", sampleHTML, "text/html", false},
		{"text", sampleText, "text/plain", false},
		{"zip", sampleZIP, "application/zip", false},
		{"binary", []byte{0, 1, 2, 3, 0xff, 0xfe}, "application/octet-stream", false},
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	for _, c := range cases {
		got := Sniff(c.data)
		if got != c.sniff {
			t.Errorf("%s: Sniff = %q, want %q", c.name, got, c.sniff)
		}
		if Inline(got) != c.inline {
			t.Errorf("%s: Inline(%q) = %v", c.name, got, !c.inline)
		}
		data := c.data
		app.Get("/"+c.name, func(ctx *fiber.Ctx) error {
			SetDownloadHeaders(ctx, "f‮name."+c.name, Sniff(data))
			return ctx.Send(data)
		})
	}
	for _, c := range cases {
		resp, err := app.Test(httptest.NewRequest("GET", "/"+c.name, nil))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		h := resp.Header
		wantType, wantDisp := "application/octet-stream", "attachment;"
		if c.inline {
			wantType, wantDisp = c.sniff, "inline;"
		}
		if h.Get("Content-Type") != wantType {
			t.Errorf("%s: Content-Type %q, want %q", c.name, h.Get("Content-Type"), wantType)
		}
		if !strings.HasPrefix(h.Get("Content-Disposition"), wantDisp) {
			t.Errorf("%s: Content-Disposition %q, want %s…", c.name, h.Get("Content-Disposition"), wantDisp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", c.name)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", c.name, csp)
		}
	}
	// The sniffer reads only the head: an HTML document with a PNG signature is a PNG.
	if got := Sniff(append(append([]byte{}, samplePNG...), sampleHTML...)); got != "image/png" {
		t.Errorf("Sniff(PNG then HTML) = %q", got)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{10 << 20: "10 MB", 1536 << 10: "1.5 MB", 512 << 10: "512 KB", 100: "100 bytes", 1000: "1000 bytes"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
