package desk

// Group commit: concurrent AddMessage calls on one tenant database share one transaction, so
// one fsync (synchronous=FULL, ~0.5–1 ms here) acknowledges many messages. A tenant database
// has one connection, so without it sends queue for one commit each: about 1,300 per second
// at most on this machine, whatever the CPU. With it, 64 concurrent senders reach several
// thousand per second and every acknowledged message is still durable when AddMessage
// returns.
//
// There is no goroutine of its own: the first caller that finds no batch in progress leads —
// it takes every waiting insert (up to maxBatch), runs them in one transaction in arrival
// order, hands each its result, and passes the lead to the oldest insert that arrived
// meanwhile. A lone call runs as a plain statement.

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// maxBatch bounds the inserts of one transaction (and so the wait of the last of them).
const maxBatch = 128

const insertMessageSQL = `INSERT INTO messages (conversation_id, sender, agent_id, body, created_at)
	SELECT c.id, ?, ?, ?, ? FROM conversations c JOIN tickets t ON t.id = c.ticket_id
	WHERE c.id = ? AND t.status = 'engaged' RETURNING id`

type groupCommit struct {
	mu      sync.Mutex
	pending []*insertReq
	busy    bool // a leader is running a batch
	// added, when set, is told of every message stored, in commit order, before the
	// senders are answered (the Service keeps its caches current with it).
	added func(m Message, by Actor)
}

type insertReq struct {
	msg Message // everything but the id
	by  Actor
	id  int64
	err error // sql.ErrNoRows: the conversation is not engaged (or does not exist)
	// done receives true when this insert must lead the next batch, false when id and err
	// are set.
	done chan bool
}

// insertMessage stores m (its id is ignored) with insertMessageSQL, batched with concurrent
// calls, and returns its id.
func (s *store) insertMessage(ctx context.Context, m Message, by Actor) (int64, error) {
	g := s.adds
	r := &insertReq{msg: m, by: by, done: make(chan bool, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, r)
	if g.busy {
		g.mu.Unlock()
		if lead := <-r.done; !lead {
			return r.id, r.err
		}
		g.mu.Lock() // this insert leads now, and is first in pending
	} else {
		g.busy = true
	}
	n := min(len(g.pending), maxBatch)
	batch := g.pending[:n:n]
	g.pending = append([]*insertReq(nil), g.pending[n:]...)
	g.mu.Unlock()

	s.runBatch(context.WithoutCancel(ctx), batch)
	if g.added != nil {
		for _, r := range batch {
			if r.err == nil {
				m := r.msg
				m.ID = r.id
				g.added(m, r.by)
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
	return r.id, r.err
}

// runBatch stores the batch's messages and sets each one's result.
func (s *store) runBatch(ctx context.Context, batch []*insertReq) {
	if len(batch) == 1 {
		s.insertOne(ctx, batch[0])
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
		r.err = tx.QueryRowContext(ctx, insertMessageSQL, r.args()...).Scan(&r.id)
		if r.err != nil && !errors.Is(r.err, sql.ErrNoRows) {
			// Something else than a closed ticket: give every insert its own statement, so
			// that one failure fails only its own message.
			tx.Rollback()
			for _, r := range batch {
				s.insertOne(ctx, r)
			}
			return
		}
	}
	if err := tx.Commit(); err != nil {
		for _, r := range batch {
			r.id, r.err = 0, err
		}
	}
}

func (s *store) insertOne(ctx context.Context, r *insertReq) {
	r.id = 0
	r.err = s.db.QueryRowContext(ctx, insertMessageSQL, r.args()...).Scan(&r.id)
}

// args are insertMessageSQL's arguments for the request's message.
func (r *insertReq) args() []any {
	var agent any
	if r.msg.Sender == SenderAgent {
		agent = r.msg.AgentID
	}
	return []any{r.msg.Sender, agent, r.msg.Body, r.msg.CreatedAt.Unix(), r.msg.ConversationID}
}

// now is the time a message is stored with: whole seconds, as the column holds.
func stamp(now func() time.Time) time.Time { return now().UTC().Truncate(time.Second) }
