package fleet

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// isTerminal reports whether w is a terminal (a progress bar then redraws in place).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress reports a walk over the fleet on w: a bar on a terminal (done / total, failures,
// rate, time left), otherwise a plain line every plainEvery and one at the end, so that logs
// of a long run stay readable. Failures are printed as their own lines in both cases.
type progress struct {
	label string
	total int
	w     io.Writer
	start time.Time

	mu        sync.Mutex
	done      int
	failed    int
	bar       *progressbar.ProgressBar
	lastPrint time.Time
}

// plainEvery is how often a progress line is printed when w is not a terminal.
const plainEvery = 2 * time.Second

func newProgress(w io.Writer, label string, total int) *progress {
	p := &progress{label: label, total: total, w: w, start: time.Now(), lastPrint: time.Now()}
	if isTerminal(w) && total > 0 {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("tenants"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	return p
}

// fail prints a failure line (above the bar on a terminal).
func (p *progress) fail(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintf(p.w, "%s: "+format+"\n", append([]any{p.label}, args...)...)
}

// step records one tenant finished, failed or not.
func (p *progress) step(failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if failed {
		p.failed++
	}
	if p.bar != nil {
		if failed {
			p.bar.Describe(fmt.Sprintf("%s (%d failed)", p.label, p.failed))
		}
		_ = p.bar.Add(1)
		return
	}
	if now := time.Now(); now.Sub(p.lastPrint) >= plainEvery && p.done < p.total {
		p.lastPrint = now
		fmt.Fprintln(p.w, p.line())
	}
}

// line is the plain progress line: done/total, failures, rate and time left.
func (p *progress) line() string {
	elapsed := time.Since(p.start)
	rate := float64(p.done) / max(elapsed.Seconds(), 1e-9)
	left := ""
	if p.done < p.total && rate > 0 {
		left = fmt.Sprintf(", about %s left", (time.Duration(float64(p.total-p.done) / rate * float64(time.Second))).Round(time.Second))
	}
	return fmt.Sprintf("%s: %d/%d tenants, %d failed, %.1f tenants/s%s", p.label, p.done, p.total, p.failed, rate, left)
}

// finish ends the bar, or prints the last plain line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
		return
	}
	if p.total > 0 {
		fmt.Fprintln(p.w, p.line())
	}
}

// each runs fn for every organization on at most concurrency goroutines and waits for them.
// Once ctx is cancelled no new organization is started; those not started are reported to
// fn's caller by the returned count.
func each(ctx context.Context, orgs []catalog.Organization, concurrency int, fn func(catalog.Organization)) (notStarted int) {
	concurrency = max(1, min(concurrency, len(orgs)))
	work := make(chan catalog.Organization)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for org := range work {
				fn(org)
			}
		}()
	}
	for i, org := range orgs {
		select {
		case <-ctx.Done():
			notStarted = len(orgs) - i
		case work <- org:
			continue
		}
		break
	}
	close(work)
	wg.Wait()
	return notStarted
}
