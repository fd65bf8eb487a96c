package imapin

import (
	"context"
	"sync"
)

// Job is one mailbox to poll in a sweep.
type Job struct {
	// ID names the mailbox in the results (the desk's own key: a tenant, a mailbox id).
	ID       string
	Settings Settings
	State    State
	Mailbox  Mailbox
}

// JobResult is one job's outcome.
type JobResult struct {
	ID     string
	Result Result
	Err    error
}

// Sweep polls every job, at most concurrency at once (default 4), each under its own
// Options.Timeout: a hanging or slow mailbox holds one slot until its deadline and never the
// others. Results come back in the order of jobs.
func Sweep(ctx context.Context, jobs []Job, concurrency int, opts Options) []JobResult {
	if concurrency <= 0 {
		concurrency = 4
	}
	out := make([]JobResult, len(jobs))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, j := range jobs {
		out[i].ID = j.ID
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			out[i].Err = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i].Result, out[i].Err = Poll(ctx, j.Settings, j.State, j.Mailbox, opts)
		}()
	}
	wg.Wait()
	return out
}
