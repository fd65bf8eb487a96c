package upload

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/files"
)

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
		name := files.CleanName(raw)
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
		{"pdf", samplePDF, "application/pdf", false}, // an attachment: PDF viewers refuse the sandbox
		{"svg", sampleSVG, "image/svg+xml", false},
		{"html", sampleHTML, "text/html", false},
		{"text", sampleText, "text/plain", false},
		{"zip", sampleZIP, "application/zip", false},
		{"binary", []byte{0, 1, 2, 3, 0xff, 0xfe}, "application/octet-stream", false},
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	for _, c := range cases {
		got := files.Sniff(c.data)
		if got != c.sniff {
			t.Errorf("%s: Sniff = %q, want %q", c.name, got, c.sniff)
		}
		if files.Inline(got) != c.inline {
			t.Errorf("%s: files.Inline(%q) = %v", c.name, got, !c.inline)
		}
		data := c.data
		app.Get("/"+c.name, func(ctx *fiber.Ctx) error {
			SetDownloadHeaders(ctx, "f‮name."+c.name, files.Sniff(data))
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
	if got := files.Sniff(append(append([]byte{}, samplePNG...), sampleHTML...)); got != "image/png" {
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
