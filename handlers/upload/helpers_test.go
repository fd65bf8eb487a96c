package upload

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Samples of the file types the serving policy knows (their signatures are what Sniff reads).
var (
	samplePNG  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"), bytes.Repeat([]byte{0}, 64)...)
	sampleJPEG = append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), bytes.Repeat([]byte{1}, 64)...)
	sampleGIF  = []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	sampleWEBP = []byte("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00" + "0123456789abcdef01234567")
	samplePDF  = []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
	sampleSVG  = []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`)
	sampleHTML = []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
	sampleText = []byte("just some notes\nline two\n")
	sampleZIP  = []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00" + "rest of a zip file")
)

// gotFile is what the test consumer saw of a file.
type gotFile struct {
	Field, Name, Type, SHA string
	Size                   int64
}

// outcome is what one upload request did in the test consumer: the parts it received, and
// whether it kept them (Stream returned nil) or was told to discard them.
type outcome struct {
	Fields    map[string]string
	Files     []gotFile
	Committed bool
	Err       error
}

// testApp is a small Fiber app configured as the real server must be for streaming uploads:
// StreamRequestBody and DisablePreParseMultipartForm; /upload streams, every route
// registered after LimitBody gets a 256 KiB limit.
type testApp struct {
	app      *fiber.App
	mu       sync.Mutex
	outcomes []outcome
	hits     map[string]int
	// consume, when set, replaces the default consumer's handling of a file.
	consume func(p *Part) error
}

const smallLimit = 256 << 10

func newTestApp(tb testing.TB, lim Limits, streaming bool) *testApp {
	tb.Helper()
	ta := &testApp{hits: map[string]int{}}
	ta.app = fiber.New(fiber.Config{
		StreamRequestBody:            streaming,
		DisablePreParseMultipartForm: streaming,
		BodyLimit:                    smallLimit,
		ReadTimeout:                  15 * time.Second,
		DisableStartupMessage:        true,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			var ue *Error
			if errors.As(err, &ue) {
				return c.Status(ue.Status()).SendString(ue.Error())
			}
			var fe *fiber.Error
			if errors.As(err, &fe) {
				return c.Status(fe.Code).SendString(fe.Message)
			}
			return c.Status(500).SendString(err.Error())
		},
	})
	ta.app.Use(func(c *fiber.Ctx) error {
		ta.mu.Lock()
		ta.hits[c.Method()+" "+c.Path()]++
		ta.mu.Unlock()
		return c.Next()
	})
	ta.app.Post("/upload", func(c *fiber.Ctx) error {
		out := outcome{Fields: map[string]string{}}
		err := Stream(c, lim, func(p *Part) error {
			if !p.IsFile() {
				out.Fields[p.Field] = p.Value
				return nil
			}
			if ta.consume != nil {
				return ta.consume(p)
			}
			h := sha256.New()
			n, err := io.Copy(h, p)
			if err != nil {
				return err // told to abort: the transaction would roll back
			}
			out.Files = append(out.Files, gotFile{p.Field, p.FileName, p.Type, hex.EncodeToString(h.Sum(nil)), n})
			return nil
		})
		out.Committed = err == nil
		out.Err = err
		ta.mu.Lock()
		ta.outcomes = append(ta.outcomes, out)
		ta.mu.Unlock()
		if err != nil {
			return err
		}
		return c.JSON(out)
	})
	ta.app.Use(LimitBody(smallLimit, nil))
	ta.app.Post("/form", func(c *fiber.Ctx) error {
		ta.mu.Lock()
		ta.hits["handler /form"]++
		ta.mu.Unlock()
		return c.SendString("message=" + c.FormValue("message") + fmt.Sprintf(" len=%d", len(c.Body())))
	})
	ta.app.Get("/", func(c *fiber.Ctx) error { return c.SendString("home") })
	return ta
}

func (ta *testApp) last(tb testing.TB) outcome {
	tb.Helper()
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if len(ta.outcomes) == 0 {
		tb.Fatal("the upload handler did not run")
	}
	return ta.outcomes[len(ta.outcomes)-1]
}

func (ta *testApp) hitCount(key string) int {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return ta.hits[key]
}

// listen serves ta on a loopback port until the test ends and returns its address.
func (ta *testApp) listen(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ta.app.Listener(ln)
	}()
	tb.Cleanup(func() {
		if err := ta.app.ShutdownWithTimeout(5 * time.Second); err != nil {
			tb.Error(err)
		}
		<-done
	})
	return ln.Addr().String()
}

// formPart is one part of a test form.
type formPart struct {
	field, filename string
	file            bool
	contentType     string // the client's claim, never believed
	data            []byte
}

func field(name, value string) formPart { return formPart{field: name, data: []byte(value)} }

func file(fieldName, filename, contentType string, data []byte) formPart {
	return formPart{field: fieldName, filename: filename, file: true, contentType: contentType, data: data}
}

// buildForm encodes parts as multipart/form-data.
func buildForm(tb testing.TB, parts ...formPart) (body []byte, contentType string) {
	tb.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.file {
			// As browsers write it: the name's bytes as they are, quotes and line breaks
			// percent-encoded.
			fn := strings.NewReplacer(`"`, "%22", "\r", "%0D", "\n", "%0A").Replace(p.filename)
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename="%s"`, p.field, fn))
			ct := p.contentType
			if ct == "" {
				ct = "application/octet-stream"
			}
			h.Set("Content-Type", ct)
		} else {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, p.field))
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := pw.Write(p.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

// post sends body to path through app.Test (the in-memory connection) and returns the
// status and answer.
func (ta *testApp) post(tb testing.TB, path, contentType string, body []byte) (int, string, http.Header) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://example.com"+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := ta.app.Test(req, 10_000)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func decodeOutcome(tb testing.TB, body string) outcome {
	tb.Helper()
	var out outcome
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		tb.Fatalf("answer %q: %v", body, err)
	}
	return out
}
