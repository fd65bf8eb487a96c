package main

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// scenario is one HTTP load: conns closed-loop workers send requests built by prepare for d
// (or, with total > 0, until total requests were sent), and every answer must have status
// want (0: any 2xx).
type scenario struct {
	name    string
	conns   int
	d       time.Duration
	total   int64
	want    int
	prepare func(worker int, seq int64, req *fasthttp.Request)
}

// result is what a scenario measured.
type result struct {
	name     string
	conns    int
	n        int
	errs     int
	firstErr string
	elapsed  time.Duration
	lat      []time.Duration // sorted
}

func (r result) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }

// pct is the p-th percentile latency (p in [0, 100]).
func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat)-1) * p / 100)
	return r.lat[i]
}

// run drives addr with the scenario and returns what it measured.
func run(addr string, sc scenario) result {
	hc := &fasthttp.HostClient{
		Addr:                addr,
		MaxConns:            sc.conns,
		ReadTimeout:         30 * time.Second,
		WriteTimeout:        30 * time.Second,
		MaxIdleConnDuration: time.Minute,
	}
	defer hc.CloseIdleConnections()
	var (
		seq      atomic.Int64
		stop     atomic.Bool
		mu       sync.Mutex
		all      []time.Duration
		errs     int
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	if sc.d > 0 {
		time.AfterFunc(sc.d, func() { stop.Store(true) })
	}
	for w := 0; w < sc.conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			lat := make([]time.Duration, 0, 4096)
			var e int
			var fe string
			for !stop.Load() {
				i := seq.Add(1) - 1
				if sc.total > 0 && i >= sc.total {
					break
				}
				req.Reset()
				req.Header.SetHost(addr)
				sc.prepare(w, i, req)
				t0 := time.Now()
				err := hc.Do(req, resp)
				lat = append(lat, time.Since(t0))
				status := resp.StatusCode()
				bad := err != nil || (sc.want != 0 && status != sc.want) || (sc.want == 0 && (status < 200 || status > 299))
				if bad {
					e++
					if fe == "" {
						if err != nil {
							fe = err.Error()
						} else {
							fe = fmt.Sprintf("status %d: %.200s", status, resp.Body())
						}
					}
				}
			}
			mu.Lock()
			all = append(all, lat...)
			errs += e
			if firstErr == "" {
				firstErr = fe
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(all)
	return result{name: sc.name, conns: sc.conns, n: len(all), errs: errs, firstErr: firstErr, elapsed: elapsed, lat: all}
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000)
}
