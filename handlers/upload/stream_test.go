package upload

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStreamParts(t *testing.T) {
	ta := newTestApp(t, Limits{}, true)
	big := bytes.Repeat([]byte("0123456789"), 300_000) // 3 MB, over every buffer
	body, ct := buildForm(t,
		field("_csrf", "token"),
		field("message", "Here are the files"),
		file("attachment", "shot.png", "image/png", samplePNG),
		// A lying Content-Type: the type comes from the content.
		file("attachment", "invoice.pdf", "image/png", sampleHTML),
		file("attachment", "/etc/../report\u202efdp.exe", "application/pdf", samplePDF),
		file("attachment", "", "application/octet-stream", nil), // a file input left empty
		file("attachment", "", "", sampleGIF),                   // no name: named after its type
		file("attachment", "big.txt", "text/plain", big),
	)
	status, answer, _ := ta.post(t, "/upload", ct, body)
	if status != 200 {
		t.Fatalf("status %d: %s", status, answer)
	}
	out := decodeOutcome(t, answer)
	if out.Fields["message"] != "Here are the files" || out.Fields["_csrf"] != "token" {
		t.Errorf("fields %v", out.Fields)
	}
	want := []gotFile{
		{"attachment", "shot.png", "image/png", sha(samplePNG), int64(len(samplePNG))},
		{"attachment", "invoice.pdf", "text/html", sha(sampleHTML), int64(len(sampleHTML))},
		{"attachment", "reportfdp.exe", "application/pdf", sha(samplePDF), int64(len(samplePDF))},
		{"attachment", "file.gif", "image/gif", sha(sampleGIF), int64(len(sampleGIF))},
		{"attachment", "big.txt", "text/plain", sha(big), int64(len(big))},
	}
	if len(out.Files) != len(want) {
		t.Fatalf("files %+v, want %+v", out.Files, want)
	}
	for i := range want {
		if out.Files[i] != want[i] {
			t.Errorf("file %d: %+v, want %+v", i, out.Files[i], want[i])
		}
	}
	if !out.Committed {
		t.Errorf("a good upload was not kept")
	}
}

func TestStreamRefusals(t *testing.T) {
	lim := Limits{MaxFiles: 2, MaxFileBytes: 1000, MaxFields: 3, MaxFieldBytes: 100}
	ta := newTestApp(t, lim, true)
	over := bytes.Repeat([]byte("x"), 1001)
	cases := []struct {
		name   string
		parts  []formPart
		status int
		kind   Kind
		says   string
	}{
		{"file over the limit", []formPart{field("message", "hi"), file("attachment", "a.txt", "", over)},
			413, TooLarge, "1000 bytes limit"},
		{"file at the limit", []formPart{file("attachment", "a.txt", "", over[:1000])}, 200, 0, ""},
		{"too many files", []formPart{file("attachment", "a", "", sampleText), file("attachment", "b", "", sampleText),
			file("attachment", "c", "", sampleText)}, 422, TooManyFiles, "more than 2 files"},
		{"zero-byte file", []formPart{file("attachment", "empty.txt", "", nil)}, 422, EmptyFile, "empty file"},
		{"file in another field", []formPart{file("avatar", "a.png", "", samplePNG)}, 422, UnexpectedFile, ""},
		{"field over the limit", []formPart{field("message", strings.Repeat("m", 101))}, 413, FieldTooLarge, "100 bytes limit"},
		{"too many fields", []formPart{field("a", "1"), field("b", "2"), field("c", "3"), field("d", "4")},
			422, TooManyFields, "more than 3 form fields"},
		{"empty form", nil, 200, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, ct := buildForm(t, c.parts...)
			status, answer, _ := ta.post(t, "/upload", ct, body)
			if status != c.status {
				t.Fatalf("status %d (%s), want %d", status, answer, c.status)
			}
			out := ta.last(t)
			if c.status == 200 {
				if !out.Committed {
					t.Errorf("not kept: %v", out.Err)
				}
				return
			}
			if out.Committed {
				t.Errorf("a refused upload was kept")
			}
			var ue *Error
			if !errors.As(out.Err, &ue) || ue.Kind != c.kind {
				t.Errorf("error %v, want kind %d", out.Err, c.kind)
			}
			if !strings.Contains(answer, c.says) {
				t.Errorf("answer %q does not say %q", answer, c.says)
			}
		})
	}

	t.Run("not multipart", func(t *testing.T) {
		for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data", "multipart/mixed; boundary=x", "text/plain; boundary=x", ""} {
			status, answer, _ := ta.post(t, "/upload", ct, []byte("message=hi"))
			if status != 415 {
				t.Errorf("Content-Type %q: status %d (%s), want 415", ct, status, answer)
			}
		}
	})
	t.Run("malformed", func(t *testing.T) {
		for name, body := range map[string]string{
			"no closing boundary": "--b\r\nContent-Disposition: form-data; name=\"m\"\r\n\r\nhi",
			"garbage":             "this is not a multipart body at all",
			"no name":             "--b\r\nContent-Disposition: form-data\r\n\r\nhi\r\n--b--\r\n",
			"not form-data":       "--b\r\nContent-Disposition: attachment; name=\"m\"\r\n\r\nhi\r\n--b--\r\n",
			"huge header":         "--b\r\nContent-Disposition: form-data; name=\"m\"\r\nX: " + strings.Repeat("h", 40<<10) + "\r\n\r\nhi\r\n--b--\r\n",
		} {
			status, answer, _ := ta.post(t, "/upload", "multipart/form-data; boundary=b", []byte(body))
			if status != 400 {
				t.Errorf("%s: status %d (%s), want 400", name, status, answer)
			}
			if ta.last(t).Committed {
				t.Errorf("%s: kept", name)
			}
		}
	})
	t.Run("body over the total refused before reading", func(t *testing.T) {
		addr := ta.listen(t)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// The headers and the first 8 KiB (fasthttp reads that far ahead before any handler
		// runs): the answer must come without the rest of the body.
		fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n", lim.MaxBody()+1)
		conn.Write(bytes.Repeat([]byte("-"), 8<<10))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 413 || !resp.Close {
			t.Errorf("status %d, close %v; want 413 and the connection closed", resp.StatusCode, resp.Close)
		}
	})
}

// TestStreamConsumer: a consumer that stops reading early still gets the limit enforced; an
// error of its own aborts the upload and is returned as it is.
func TestStreamConsumer(t *testing.T) {
	ta := newTestApp(t, Limits{MaxFileBytes: 1000}, true)
	ta.consume = func(p *Part) error { return nil } // reads nothing
	body, ct := buildForm(t, file("attachment", "a.txt", "", bytes.Repeat([]byte("y"), 5000)))
	if status, answer, _ := ta.post(t, "/upload", ct, body); status != 413 {
		t.Errorf("unread oversized file: status %d (%s), want 413", status, answer)
	}
	body, ct = buildForm(t, file("attachment", "a.txt", "", bytes.Repeat([]byte("y"), 900)), field("message", "after"))
	status, answer, _ := ta.post(t, "/upload", ct, body)
	if status != 200 || decodeOutcome(t, answer).Fields["message"] != "after" {
		t.Errorf("unread file within the limit: status %d (%s); the field after it must arrive", status, answer)
	}

	quota := errors.New("tenant over quota")
	ta.consume = func(p *Part) error {
		buf := make([]byte, 10)
		if _, err := p.Read(buf); err != nil {
			return err
		}
		return fmt.Errorf("store: %w", quota)
	}
	body, ct = buildForm(t, file("attachment", "a.txt", "", sampleText))
	if status, _, _ := ta.post(t, "/upload", ct, body); status != 500 {
		t.Errorf("consumer error: status %d, want the app's 500", status)
	}
	if out := ta.last(t); out.Committed || !errors.Is(out.Err, quota) {
		t.Errorf("consumer error: committed %v, error %v", out.Committed, out.Err)
	}
}

// TestStreamCutOff: a client that stops sending midway, by closing or by going quiet,
// leaves nothing kept, and the consumer's reader reports it.
func TestStreamCutOff(t *testing.T) {
	ta := newTestApp(t, Limits{IdleTimeout: 300 * time.Millisecond}, true)
	addr := ta.listen(t)
	payload := bytes.Repeat([]byte("z"), 200_000)
	body, ct := buildForm(t, field("message", "hi"), file("attachment", "a.bin", "", payload))

	for _, how := range []string{"closed", "quiet"} {
		t.Run(how, func(t *testing.T) {
			before := len(ta.outcomes)
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", ct, len(body))
			if _, err := conn.Write(body[:len(body)/2]); err != nil {
				t.Fatal(err)
			}
			if how == "closed" {
				conn.(*net.TCPConn).CloseWrite()
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, rerr := http.ReadResponse(bufio.NewReader(conn), nil)
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) && ta.outcomesLen() == before {
				time.Sleep(10 * time.Millisecond)
			}
			out := ta.last(t)
			if ta.outcomesLen() == before || out.Committed {
				t.Fatalf("an upload cut off was kept (or the handler did not finish)")
			}
			var ue *Error
			want := map[string]Kind{"closed": CutOff, "quiet": TimedOut}[how]
			if !errors.As(out.Err, &ue) || ue.Kind != want {
				t.Errorf("error %v, want kind %d", out.Err, want)
			}
			if len(out.Files) != 0 {
				t.Errorf("the consumer finished a file: %+v", out.Files)
			}
			if how == "quiet" {
				if rerr != nil || resp.StatusCode != 408 {
					t.Errorf("quiet client: %v, %v; want 408", resp, rerr)
				}
			}
		})
	}
}

func (ta *testApp) outcomesLen() int {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return len(ta.outcomes)
}

// TestStreamKeepAlive: after a good upload the connection serves the next request; after a
// refused one it is closed, so the unread rest of the body is never parsed as a request.
func TestStreamKeepAlive(t *testing.T) {
	ta := newTestApp(t, Limits{MaxFileBytes: 1000}, true)
	addr := ta.listen(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	send := func(body []byte, ct string) *http.Response {
		t.Helper()
		fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", ct, len(body))
		conn.Write(body)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	ok, ct := buildForm(t, file("attachment", "a.txt", "", sampleText))
	for i := range 2 {
		if resp := send(ok, ct); resp.StatusCode != 200 || resp.Close {
			t.Fatalf("upload %d: status %d, close %v", i, resp.StatusCode, resp.Close)
		}
	}
	// A smuggled request inside the refused file's content.
	smuggle := []byte("GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
	bad, ct := buildForm(t, file("attachment", "a.txt", "", append(bytes.Repeat([]byte("x"), 2000), smuggle...)))
	if resp := send(bad, ct); resp.StatusCode != 413 || !resp.Close {
		t.Errorf("refused upload: status %d, close %v; want 413 and close", resp.StatusCode, resp.Close)
	}
	time.Sleep(50 * time.Millisecond)
	if n := ta.hitCount("GET /smuggled"); n != 0 {
		t.Errorf("the rest of a refused body was served as a request (%d times)", n)
	}
}

// TestStreamChunked: a body sent without a length (chunked) streams the same way.
func TestStreamChunked(t *testing.T) {
	ta := newTestApp(t, Limits{MaxFileBytes: 1 << 20}, true)
	addr := ta.listen(t)
	body, ct, _ := streamingForm(7, 600_000)
	var sent bytes.Buffer
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/upload", io.TeeReader(body, &sent))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	out := ta.last(t)
	if resp.StatusCode != 200 || !out.Committed || len(out.Files) != 1 || out.Files[0].Size != 600_000 {
		t.Fatalf("status %d, outcome %+v", resp.StatusCode, out)
	}
	if got := ta.app.Server().StreamRequestBody; !got {
		t.Fatal("the test app does not stream")
	}
	// And a chunked body over the limits is cut off at them.
	big, ct, _ := streamingForm(8, 3<<20)
	req, _ = http.NewRequest(http.MethodPost, "http://"+addr+"/upload", big)
	req.Header.Set("Content-Type", ct)
	req.ContentLength = -1
	resp, err = http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Errorf("chunked file over the limit: status %d, want 413", resp.StatusCode)
		}
	} // else: the server closed the connection while the client was still sending
	if ta.last(t).Committed {
		t.Errorf("a chunked file over the limit was kept")
	}
}

// TestStreamOutlivesReadTimeout: an upload slower than the server's ReadTimeout (sized for
// small bodies) completes while it keeps sending within IdleTimeout.
func TestStreamOutlivesReadTimeout(t *testing.T) {
	ta := newTestApp(t, Limits{IdleTimeout: 2 * time.Second}, true)
	ta.app.Server().ReadTimeout = 400 * time.Millisecond
	addr := ta.listen(t)
	body, ct := buildForm(t, field("message", "slow"), file("attachment", "a.txt", "", bytes.Repeat([]byte("s"), 50_000)))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", ct, len(body))
	start := time.Now()
	for off := 0; off < len(body); off += len(body) / 8 {
		conn.Write(body[off:min(off+len(body)/8, len(body))])
		time.Sleep(150 * time.Millisecond)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != 200 || took < 800*time.Millisecond {
		t.Errorf("status %d after %v; want 200 after more than twice the ReadTimeout", resp.StatusCode, took)
	}
}
