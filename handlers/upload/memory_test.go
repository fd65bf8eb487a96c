package upload

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStreamMemory proves the memory bound: ten 10 MB uploads at once add at most
// perUpload bytes each to the Go heap in use over idle, on a server configured for
// streaming; uploads on a server that buffers bodies (the control) add more than their
// size, which shows the measurement would see buffering.
func TestStreamMemory(t *testing.T) {
	const (
		uploads   = 10
		fileBytes = 10 << 20
		perUpload = 2 << 20
	)
	run := func(t *testing.T, streaming bool, uploads int) (peakHeap, peakRSS int64) {
		ta := newTestApp(t, Limits{MaxFileBytes: fileBytes}, streaming)
		if !streaming {
			ta.app.Server().MaxRequestBodySize = 2 * fileBytes
		}
		addr := ta.listen(t)
		client := &http.Client{Timeout: time.Minute}

		runtime.GC()
		runtime.GC()
		idleHeap, idleRSS := heapInUse(), rss()
		var peak, peakR atomic.Int64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if h := heapInUse(); h > peak.Load() {
						peak.Store(h)
					}
					if r := rss(); r > peakR.Load() {
						peakR.Store(r)
					}
				}
			}
		}()

		var wg sync.WaitGroup
		errs := make(chan error, uploads)
		for i := range uploads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body, ct, n := streamingForm(uint64(i), fileBytes)
				req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/upload", body)
				if err != nil {
					errs <- err
					return
				}
				req.ContentLength = n
				req.Header.Set("Content-Type", ct)
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(answer), fmt.Sprintf(`"Size":%d`, fileBytes)) {
					errs <- fmt.Errorf("upload %d: status %d: %.200s", i, resp.StatusCode, answer)
				}
			}()
		}
		wg.Wait()
		close(stop)
		<-sampled
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		return peak.Load() - idleHeap, peakR.Load() - idleRSS
	}

	heap, rssGrowth := run(t, true, uploads)
	t.Logf("streaming: %d uploads of %d MB at once: heap in use +%.1f MB over idle (%.2f MB per upload), RSS +%.1f MB",
		uploads, fileBytes>>20, mb(heap), mb(heap)/uploads, mb(rssGrowth))
	if heap > uploads*perUpload {
		t.Errorf("streaming uploads grew the heap by %.1f MB, over %d × %.0f MB", mb(heap), uploads, mb(perUpload))
	}
	// Three uploads are enough for the control (and spare the race detector 1.5 GB).
	const ctlUploads = 3
	ctlHeap, ctlRSS := run(t, false, ctlUploads)
	t.Logf("control without streaming: %d uploads: heap in use +%.1f MB over idle, RSS +%.1f MB", ctlUploads, mb(ctlHeap), mb(ctlRSS))
	if ctlHeap < ctlUploads*fileBytes/2 {
		t.Errorf("the control grew the heap by only %.1f MB: the measurement does not see buffered bodies", mb(ctlHeap))
	}
}

// streamingForm returns a multipart body with one file of n pseudo-random bytes (seeded),
// generated as it is read, its Content-Type and its length.
func streamingForm(seed uint64, n int64) (io.Reader, string, int64) {
	var head, tail bytes.Buffer
	w := multipart.NewWriter(&head)
	w.WriteField("message", "memory test")
	w.CreateFormFile("attachment", "data-"+strconv.FormatUint(seed, 10)+".bin")
	tail.WriteString("\r\n--" + w.Boundary() + "--\r\n")
	block := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range block {
		block[i] = byte(r.Uint32())
	}
	content := io.LimitReader(&repeat{block: block}, n)
	total := int64(head.Len()) + n + int64(tail.Len())
	return io.MultiReader(&head, content, &tail), w.FormDataContentType(), total
}

// repeat reads its block over and over.
type repeat struct {
	block []byte
	off   int
}

func (r *repeat) Read(p []byte) (int, error) {
	n := copy(p, r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	return n, nil
}

func heapInUse() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// rss returns the process's resident set size from /proc (0 where there is none).
func rss() int64 {
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
