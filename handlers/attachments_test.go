package handlers_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/desk"
)

var (
	pngBytes  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"), bytes.Repeat([]byte{0}, 64)...)
	htmlBytes = []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
	svgBytes  = []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`)
	pdfBytes  = []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
)

var attachmentRE = regexp.MustCompile(`<a data-attachment href="([^"]+)"`)

func attachmentLinks(body string) []string {
	var out []string
	for _, m := range attachmentRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// storage returns an organization's storage figures from the desk.
func (e *env) storage(username string) desk.Storage {
	e.t.Helper()
	org, err := e.cat.ByUsername(context.Background(), username)
	if err != nil {
		e.t.Fatal(err)
	}
	st, err := e.desk.Storage(context.Background(), &org, desk.AsSystem())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// TestAttachmentsFlow: a customer and an agent send files with a message (and files alone),
// without JavaScript and with htmx; each side's page lists them as a[data-attachment] links;
// downloads carry the sniffed type, inline only for raster images, nosniff and a sandbox CSP,
// answer ranges and revalidate by ETag; the owner's dashboard shows the storage figure.
func TestAttachmentsFlow(t *testing.T) {
	e := newEnv(t)
	acme := e.register("acme")
	ag := e.onboard(acme, "Fay Files")
	cust := e.openTicket("acme", "Please see the attached photos")
	cust.browser.get(cust.page)
	r := cust.browser.postFiles(cust.page+"/messages", form("message", "Two files"), []upFile{
		{"../../photo\u202Egnp.exe", pngBytes},
		{"invoice.png", htmlBytes},
	})
	wantStatus(t, r, http.StatusSeeOther)
	page := cust.browser.get(cust.page)
	links := attachmentLinks(page.body)
	if len(links) != 2 || !strings.HasPrefix(links[0], cust.page+"/files/") {
		t.Fatalf("the customer's page lists %v\n%.3000s", links, page.body)
	}
	if !page.has("photognp.exe") || page.has("\u202E") || !page.has(`<img class="msg-image"`) {
		t.Errorf("the file names or the image preview:\n%.3000s", page.body)
	}

	talk := e.engage(ag)
	r = ag.browser.get(talk)
	teamLinks := attachmentLinks(r.body)
	if len(teamLinks) != 2 || !strings.HasPrefix(teamLinks[0], talk+"/files/") {
		t.Fatalf("the agent's page lists %v", teamLinks)
	}
	// The agent answers with files alone, through htmx: the fragment holds the link.
	r = ag.browser.postFiles(talk+"/messages", nil, []upFile{{"label.pdf", pdfBytes}, {"logo.svg", svgBytes}}, htmx)
	wantStatus(t, r, http.StatusOK)
	if got := attachmentLinks(r.body); len(got) != 2 || r.has("<html") || r.has(`class="msg-body"`) {
		t.Fatalf("htmx answer with files alone: %v\n%s", got, r.body)
	}
	custLinks := attachmentLinks(cust.browser.get(cust.page).body)
	if len(custLinks) != 4 {
		t.Fatalf("the customer sees %d files, want 4", len(custLinks))
	}
	// The customer's poll carries the agent's files too.
	if r := cust.browser.get(cust.page+"/messages?after=0", htmx); len(attachmentLinks(r.body)) != 4 {
		t.Errorf("the customer's poll lists %d files", len(attachmentLinks(r.body)))
	}

	type want struct {
		typ, disp string
		content   []byte
	}
	for i, w := range []want{
		{"image/png", "inline", pngBytes},
		{"application/octet-stream", "attachment", htmlBytes},
		{"application/octet-stream", "attachment", pdfBytes},
		{"application/octet-stream", "attachment", svgBytes},
	} {
		for _, who := range []struct {
			name string
			c    *client
			url  string
		}{{"customer", cust.browser, custLinks[i]}, {"agent", ag.browser, strings.Replace(custLinks[i], cust.page, talk, 1)},
			{"owner", acme.browser, strings.Replace(custLinks[i], cust.page, strings.Replace(talk, "/agent/acme/talk/", "/conversation/", 1), 1)}} {
			r := who.c.get(who.url)
			if r.status != http.StatusOK || r.body != string(w.content) {
				t.Errorf("%s file %d: status %d, %d bytes", who.name, i, r.status, len(r.body))
				continue
			}
			h := r.header
			if h.Get("Content-Type") != w.typ || !strings.HasPrefix(h.Get("Content-Disposition"), w.disp+";") ||
				h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") ||
				h.Get("ETag") == "" || h.Get("Accept-Ranges") != "bytes" {
				t.Errorf("%s file %d headers: %v", who.name, i, h)
			}
		}
	}
	// Ranges and ETags.
	u := custLinks[0]
	r = cust.browser.get(u, map[string]string{"Range": "bytes=1-3"})
	if r.status != http.StatusPartialContent || r.body != string(pngBytes[1:4]) ||
		r.header.Get("Content-Range") != fmt.Sprintf("bytes 1-3/%d", len(pngBytes)) {
		t.Errorf("range: %d %q %q", r.status, r.body, r.header.Get("Content-Range"))
	}
	etag := r.header.Get("ETag")
	if r := cust.browser.get(u, map[string]string{"If-None-Match": etag}); r.status != http.StatusNotModified || r.body != "" {
		t.Errorf("If-None-Match: %d", r.status)
	}
	if r := cust.browser.get(u, map[string]string{"Range": "bytes=5000-"}); r.status != http.StatusRequestedRangeNotSatisfiable ||
		r.header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(pngBytes)) {
		t.Errorf("unsatisfiable range: %d %q", r.status, r.header.Get("Content-Range"))
	}
	if r := cust.browser.get(u, map[string]string{"Range": "bytes=0-1,4-5"}); r.status != http.StatusOK || r.body != string(pngBytes) {
		t.Errorf("several ranges: %d", r.status)
	}
	if r := cust.browser.get(u, map[string]string{"Range": "bytes=0-1", "If-Range": `"stale"`}); r.status != http.StatusOK {
		t.Errorf("If-Range of another version: %d", r.status)
	}

	st := e.storage("acme")
	if st.Files != 4 || st.FileBytes != int64(len(pngBytes)+len(htmlBytes)+len(pdfBytes)+len(svgBytes)) {
		t.Errorf("storage = %+v", st)
	}
	if r := acme.browser.get("/dash"); !r.has(`id="storage"`) || !r.has("4 files") {
		t.Errorf("the dashboard's storage figure:\n%.500s", r.body[strings.Index(r.body, "data-heading"):])
	}
}

// TestAttachmentRefusals: over the size limit 413 naming it, over the quota 413 with the
// figure, too many files 422, an empty file 422, neither text nor file 422, no CSRF token (or
// a file before it) 403, a closed ticket 409 — and nothing is stored by any of them.
func TestAttachmentRefusals(t *testing.T) {
	e := newEnvFiles(t, desk.FileLimits{MaxFileBytes: 300 << 10, MaxFiles: 3, QuotaBytes: 700 << 10})
	acme := e.register("acme")
	cust := e.openTicket("acme", "question")
	cust.browser.get(cust.page)
	big := make([]byte, 300<<10+1)
	cases := []struct {
		name   string
		fields url.Values
		files  []upFile
		hdr    map[string]string
		status int
		says   string
	}{
		{"over the limit", form("message", "x"), []upFile{{"small.txt", []byte("ok")}, {"big.bin", big}}, nil, 413, "at most 300 KB"},
		{"over the limit (htmx)", form("message", "x"), []upFile{{"big.bin", big}}, htmx, 413, "at most 300 KB"},
		{"too many files", form("message", "x"), []upFile{{"1", []byte("1")}, {"2", []byte("2")}, {"3", []byte("3")}, {"4", []byte("4")}}, nil, 422, "at most 3 files"},
		{"an empty file", form("message", "x"), []upFile{{"empty.txt", nil}}, nil, 422, "is empty"},
		{"nothing", form("message", "  "), nil, nil, 422, "Write a message or attach a file"},
		{"no token", form("_csrf", "", "message", "x"), []upFile{{"a.txt", []byte("a")}}, nil, 403, ""},
		{"a wrong token", form("_csrf", "forged", "message", "x"), []upFile{{"a.txt", []byte("a")}}, nil, 403, ""},
	}
	for _, c := range cases {
		r := cust.browser.postFiles(cust.page+"/messages", c.fields, c.files, c.hdr)
		if r.status != c.status || !r.has(c.says) {
			t.Errorf("%s: status %d, want %d saying %q:\n%.600s", c.name, r.status, c.status, c.says, r.body)
		}
		if st := e.storage("acme"); st.Files != 0 {
			t.Fatalf("%s left %d files", c.name, st.Files)
		}
	}
	// A file part before the token: refused before it is read.
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile("attachment", "early.txt")
	fw.Write([]byte("early"))
	w.WriteField("_csrf", cust.browser.csrf)
	w.Close()
	if r := cust.browser.do(http.MethodPost, cust.page+"/messages", &buf, map[string]string{"Content-Type": w.FormDataContentType()}); r.status != 403 {
		t.Errorf("a file before the token: %d", r.status)
	}
	// The token in the header (as the page's script sends it) needs no field.
	if r := cust.browser.postFiles(cust.page+"/messages", form("_csrf", "", "message", "header token"), []upFile{{"a.txt", []byte("a")}},
		map[string]string{"X-CSRF-Token": cust.browser.csrf}); r.status != http.StatusSeeOther {
		t.Errorf("the token in the header: %d", r.status)
	}
	// The quota: 700 KB, one small file stored; two of 300 KB fit, a third does not.
	wantStatus(t, cust.browser.postFiles(cust.page+"/messages", form("message", "two"),
		[]upFile{{"a.bin", big[:300<<10]}, {"b.bin", big[:300<<10]}}), http.StatusSeeOther)
	r := cust.browser.postFiles(cust.page+"/messages", form("message", "one more"), []upFile{{"c.bin", big[:200<<10]}})
	if r.status != 413 || !r.has("storage for files is full") || !r.has("of 700 KB used") {
		t.Errorf("over the quota: %d\n%.600s", r.status, r.body)
	}
	if st := e.storage("acme"); st.Files != 3 {
		t.Errorf("after the refusals: %+v", st)
	}
	// A closed ticket takes no files: refused before the body is read.
	acme.browser.get("/dash")
	wantStatus(t, acme.browser.post("/dash/tickets/1/close", nil), http.StatusSeeOther)
	r = cust.browser.postFiles(cust.page+"/messages", form("message", "late"), []upFile{{"late.txt", []byte("late")}})
	if r.status != http.StatusConflict || !r.closed {
		t.Errorf("a file to a closed ticket: %d, connection closed %v", r.status, r.closed)
	}
	if st := e.storage("acme"); st.Files != 3 {
		t.Errorf("after the closed ticket: %+v", st)
	}
}

// TestUploadCutOff: an upload whose connection breaks midway stores nothing — not even the
// chunks already written while it arrived.
func TestUploadCutOff(t *testing.T) {
	e := newEnv(t)
	e.register("acme")
	cust := e.openTicket("acme", "question")
	cust.browser.get(cust.page)
	base := e.listen()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	mw.WriteField("_csrf", cust.browser.csrf)
	mw.WriteField("message", "cut off")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="attachment"; filename="big.bin"`)
	mw.CreatePart(h)
	var cookies []string
	for k, v := range cust.browser.cookies {
		cookies = append(cookies, k+"="+v)
	}
	fmt.Fprintf(conn, "POST %s/messages HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		cust.page, strings.TrimPrefix(base, "http://"), strings.Join(cookies, "; "), mw.FormDataContentType(), 5<<20)
	conn.Write(head.Bytes())
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	// Send until the server has staged the file (a chunk stored), then break off.
	deadline := time.Now().Add(20 * time.Second)
	sent := 0
	for e.storage("acme").Files == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after %d bytes nothing was staged", sent)
		}
		if sent < 4<<20 {
			conn.Write(chunk)
			sent += len(chunk)
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	conn.Close()
	for e.storage("acme").Files != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the cut-off upload left %+v", e.storage("acme"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := cust.browser.get(cust.page); r.has("cut off") || len(attachmentLinks(r.body)) != 0 {
		t.Error("the cut-off message was stored")
	}
}

// TestUploadMemory: ten 10 MB uploads at once into one tenant's database, streamed through
// the real server over sockets, grow the Go heap by a few MB each at most; RSS is logged.
// (Under the race detector every allocation costs shadow memory: the figures to quote come
// from a run without -race.)
func TestUploadMemory(t *testing.T) {
	const (
		uploads   = 10
		fileBytes = 10 << 20
		perUpload = 3 << 20
	)
	e := newEnv(t)
	e.register("acme")
	var custs []customer
	for range uploads {
		c := e.openTicket("acme", "memory")
		c.browser.get(c.page)
		custs = append(custs, c)
	}
	base := e.listen()
	runtime.GC()
	runtime.GC()
	idleHeap, idleRSS := heapInUse(), rssBytes()
	var peakHeap, peakRSS atomic.Int64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if h := heapInUse(); h > peakHeap.Load() {
					peakHeap.Store(h)
				}
				if r := rssBytes(); r > peakRSS.Load() {
					peakRSS.Store(r)
				}
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range custs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, ct, n := generatedForm(c.browser.csrf, uint64(i), fileBytes)
			req, _ := http.NewRequest(http.MethodPost, base+c.page+"/messages", body)
			req.ContentLength = n
			req.Header.Set("Content-Type", ct)
			for k, v := range c.browser.cookies {
				req.AddCookie(&http.Cookie{Name: k, Value: v})
			}
			res, err := (&http.Transport{}).RoundTrip(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Errorf("upload %d: status %d", i, res.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	elapsed := time.Since(start)
	if st := e.storage("acme"); st.Files != uploads || st.FileBytes != uploads*fileBytes {
		t.Fatalf("stored %+v", st)
	}
	heap, rss := peakHeap.Load()-idleHeap, peakRSS.Load()-idleRSS
	t.Logf("%d uploads of %d MB at once into one tenant in %v: Go heap in use +%.1f MB over idle (%.2f MB per upload), RSS +%.1f MB (%.2f MB per upload)",
		uploads, fileBytes>>20, elapsed.Round(time.Millisecond), mb(heap), mb(heap)/uploads, mb(rss), mb(rss)/uploads)
	if heap > uploads*perUpload {
		t.Errorf("the uploads grew the heap by %.1f MB, over %d × %.0f MB", mb(heap), uploads, mb(perUpload))
	}
}

// generatedForm is a multipart body with the CSRF token and one file of n pseudo-random bytes,
// generated as it is read; it returns the body, its Content-Type and its length.
func generatedForm(csrf string, seed uint64, n int64) (io.Reader, string, int64) {
	var head, tail bytes.Buffer
	w := multipart.NewWriter(&head)
	w.WriteField("_csrf", csrf)
	w.WriteField("message", "memory test")
	w.CreateFormFile("attachment", "data-"+strconv.FormatUint(seed, 10)+".bin")
	tail.WriteString("\r\n--" + w.Boundary() + "--\r\n")
	block := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range block {
		block[i] = byte(r.Uint32())
	}
	content := io.LimitReader(&repeating{block: block}, n)
	return io.MultiReader(&head, content, &tail), w.FormDataContentType(), int64(head.Len()) + n + int64(tail.Len())
}

type repeating struct {
	block []byte
	off   int
}

func (r *repeating) Read(p []byte) (int, error) {
	k := copy(p, r.block[r.off:])
	r.off = (r.off + k) % len(r.block)
	return k, nil
}

func heapInUse() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// rssBytes is the process's resident set size (0 where /proc is missing).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

// TestExportHoldsAttachments: the owner's export of a tenant with files is an SQLite file the
// sqlite3 shell opens: sound, every file there whole (its chunks in order give its bytes back),
// and the search index readable.
func TestExportHoldsAttachments(t *testing.T) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatal("the sqlite3 shell is missing: apt-get install sqlite3")
	}
	e := newEnv(t)
	acme := e.register("acme")
	cust := e.openTicket("acme", "Photos of the broken vase")
	cust.browser.get(cust.page)
	big := make([]byte, desk.ChunkSize*2+321)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	files := []upFile{{"vase.png", pngBytes}, {"scan.bin", big}}
	wantStatus(t, cust.browser.postFiles(cust.page+"/messages", form("message", "here are the photos"), files), http.StatusSeeOther)

	acme.browser.get("/dash")
	r := acme.browser.get("/dash/export")
	wantStatus(t, r, http.StatusOK)
	path := filepath.Join(t.TempDir(), "export.sqlite")
	if err := os.WriteFile(path, []byte(r.body), 0o600); err != nil {
		t.Fatal(err)
	}
	query := func(sql string) string {
		t.Helper()
		out, err := exec.Command(shell, "-readonly", path, sql).CombinedOutput()
		if err != nil {
			t.Fatalf("sqlite3 %q: %v\n%s", sql, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := query("PRAGMA integrity_check"); got != "ok" {
		t.Fatalf("integrity_check: %s", got)
	}
	if got := query("SELECT name || ':' || type || ':' || size FROM attachments ORDER BY id"); got !=
		fmt.Sprintf("vase.png:image/png:%d\nscan.bin:application/octet-stream:%d", len(pngBytes), len(big)) {
		t.Errorf("attachments in the export:\n%s", got)
	}
	for i, f := range files {
		got := query(fmt.Sprintf("SELECT group_concat(h, '') FROM (SELECT hex(data) AS h FROM attachment_chunks WHERE attachment_id = %d ORDER BY seq)", i+1))
		if got != strings.ToUpper(hex.EncodeToString(f.content)) {
			t.Errorf("%s in the export: %d hex digits, differently", f.name, len(got))
		}
	}
	if got := query("SELECT count(*) FROM ticket_search WHERE ticket_search MATCH 'photos'"); got != "2" { // the question and the message
		t.Errorf("the export's search index finds %s documents", got)
	}
}
