package desk

// Group commit: concurrent message writes (messages, notes) on one tenant database share one
// transaction, so one fsync (synchronous=FULL, ~0.5–1 ms here) acknowledges many messages. A
// tenant database has one connection, so without it writes queue for one commit each: about
// 1,300 per second at most on this machine, whatever the CPU. With it, 64 concurrent senders
// reach several thousand per second and every acknowledged message is still durable when its
// call returns.
//
// There is no goroutine of its own: the first caller that finds no batch in progress leads —
// it takes every waiting write (up to maxBatch), runs them in one transaction in arrival
// order, each in a savepoint of its own (a write refused by the ticket's state rolls back
// alone), tells the Service of each stored message in commit order, answers each caller, and
// passes the lead to the oldest write that arrived meanwhile. Every message of a tenant is
// written here, so the Service learns of them in the order they were committed.

import (
	"context"
	"database/sql"
	"sync"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// maxBatch bounds the writes of one transaction (and so the wait of the last of them).
const maxBatch = 128

// writeFn is one message write: it runs its statements on tx and returns the message stored
// and whether it changed the ticket too (status, assignee). An apperr refuses the write (it is
// rolled back alone); any other error fails the batch, which is then retried write by write.
type writeFn func(ctx context.Context, tx querier) (msg Message, ticketChanged bool, err error)

type groupCommit struct {
	mu      sync.Mutex
	pending []*writeReq
	busy    bool // a leader is running a batch
	// added, when set, is told of every message stored, in commit order, before the
	// writers are answered (the Service keeps its caches current with it).
	added func(m Message, ticketChanged bool, by Actor)
}

type writeReq struct {
	fn      writeFn
	by      Actor
	msg     Message
	changed bool
	err     error
	// done receives true when this write must lead the next batch, false when msg and err
	// are set.
	done chan bool
}

// write runs fn, batched with concurrent writes, and returns what it stored.
func (s *store) write(ctx context.Context, by Actor, fn writeFn) (Message, error) {
	g := s.adds
	r := &writeReq{fn: fn, by: by, done: make(chan bool, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, r)
	if g.busy {
		g.mu.Unlock()
		if lead := <-r.done; !lead {
			return r.msg, r.err
		}
		g.mu.Lock() // this write leads now, and is first in pending
	} else {
		g.busy = true
	}
	n := min(len(g.pending), maxBatch)
	batch := g.pending[:n:n]
	g.pending = append([]*writeReq(nil), g.pending[n:]...)
	g.mu.Unlock()

	s.runBatch(context.WithoutCancel(ctx), batch)
	if g.added != nil {
		for _, r := range batch {
			if r.err == nil {
				g.added(r.msg, r.changed, r.by)
			}
		}
	}
	for _, r := range batch {
		r.done <- false
	}

	g.mu.Lock()
	if len(g.pending) > 0 {
		g.pending[0].done <- true
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	return r.msg, r.err
}

// runBatch stores the batch's writes and sets each one's result.
func (s *store) runBatch(ctx context.Context, batch []*writeReq) {
	if len(batch) == 1 {
		s.runOne(ctx, batch[0])
		return
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range batch {
			r.err = err
		}
		return
	}
	for _, r := range batch {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			s.oneByOne(ctx, tx, batch)
			return
		}
		r.msg, r.changed, r.err = r.fn(ctx, tx)
		switch {
		case r.err == nil:
			_, err = tx.ExecContext(ctx, "RELEASE w")
		case isRefusal(r.err):
			if _, err = tx.ExecContext(ctx, "ROLLBACK TO w"); err == nil {
				_, err = tx.ExecContext(ctx, "RELEASE w")
			}
		default:
			err = r.err
		}
		if err != nil {
			// Something else than the ticket's state: give every write a transaction of its
			// own, so that one failure fails only its own write.
			s.oneByOne(ctx, tx, batch)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		for _, r := range batch {
			r.msg, r.changed, r.err = Message{}, false, err
		}
	}
}

func (s *store) oneByOne(ctx context.Context, tx *sql.Tx, batch []*writeReq) {
	tx.Rollback()
	for _, r := range batch {
		s.runOne(ctx, r)
	}
}

// runOne runs one write in a transaction of its own.
func (s *store) runOne(ctx context.Context, r *writeReq) {
	r.msg, r.changed, r.err = Message{}, false, nil
	r.err = s.inTx(ctx, "write", func(tx *sql.Tx) error {
		var err error
		r.msg, r.changed, err = r.fn(ctx, tx)
		return err
	})
	if r.err != nil {
		r.msg, r.changed = Message{}, false
	}
}

// isRefusal reports an error a write returns about the ticket's state or the input, which
// leaves the rest of its batch alone.
func isRefusal(err error) bool {
	_, ok := apperr.As(err)
	return ok
}
