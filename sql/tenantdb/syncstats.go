package tenantdb

import (
	"sync"
	"sync/atomic"
	"time"
)

// SyncStats counts the syncs of one set of embedded replicas (a backend's tenants, or the
// catalog), for metrics: frames pulled from the primary, syncs that failed, and when each open
// replica last synced. Its methods may be called on a nil *SyncStats (nothing is counted).
type SyncStats struct {
	label          string
	frames, errors atomic.Int64
	mu             sync.Mutex
	last           map[*replica]time.Time // open replicas → their last successful sync
}

// NewSyncStats returns counters reported under label (the backend: "sqld", "turso", "catalog").
func NewSyncStats(label string) *SyncStats {
	return &SyncStats{label: label, last: map[*replica]time.Time{}}
}

// SyncReport is what SyncStats has counted since start.
type SyncReport struct {
	Backend      string
	FramesPulled int64
	Errors       int64
	// OpenReplicas is how many replicas are open now; SinceLastSync is the longest time any
	// of them has gone without a successful sync (opening one syncs it), 0 with none open.
	OpenReplicas  int
	SinceLastSync time.Duration
}

// Report returns the counts now.
func (s *SyncStats) Report() SyncReport {
	r := SyncReport{Backend: s.label, FramesPulled: s.frames.Load(), Errors: s.errors.Load()}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r.OpenReplicas = len(s.last)
	for _, at := range s.last {
		r.SinceLastSync = max(r.SinceLastSync, now.Sub(at))
	}
	return r
}

// ReplicaSyncStats reports s alone (the HTTP layer's metrics source; nil reports nothing).
func (s *SyncStats) ReplicaSyncStats() []SyncReport {
	if s == nil {
		return nil
	}
	return []SyncReport{s.Report()}
}

func (s *SyncStats) opened(r *replica) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.last[r] = time.Now()
	s.mu.Unlock()
}

func (s *SyncStats) synced(r *replica, frames int64, err error) {
	if s == nil {
		return
	}
	if err != nil {
		s.errors.Add(1)
		return
	}
	s.frames.Add(frames)
	s.mu.Lock()
	if _, open := s.last[r]; open {
		s.last[r] = time.Now()
	}
	s.mu.Unlock()
}

func (s *SyncStats) closed(r *replica) {
	if s == nil {
		return
	}
	s.mu.Lock()
	delete(s.last, r)
	s.mu.Unlock()
}

// ReplicaSyncStats reports the sync counts of the Registry's replicas: none for local files.
func (r *Registry) ReplicaSyncStats() []SyncReport {
	if p, ok := r.backend.(interface{ SyncStats() *SyncStats }); ok {
		return p.SyncStats().ReplicaSyncStats()
	}
	return nil
}

// SyncStats returns the counts of the sqld backend's replicas.
func (s *Sqld) SyncStats() *SyncStats { return s.cfg.Replicas.Stats }

// SyncStats returns the counts of the Turso backend's replicas.
func (t *Turso) SyncStats() *SyncStats { return t.cfg.Replicas.Stats }
