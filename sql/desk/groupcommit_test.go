package desk

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// Concurrent sends share commits, but each keeps its own outcome: a message to a closed
// ticket is refused while the others in the same batch are stored, and the Service's hook hears
// of each stored one in commit order.
func TestGroupCommitKeepsEachOutcome(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustAgent(t, s, "a@example.com")
	open := mustEngage(t, s, mustTicket(t, s, "open", "q").ID, a.ID)
	closedTicket := mustTicket(t, s, "closed", "q")
	closed := mustEngage(t, s, closedTicket.ID, a.ID)
	if err := s.CloseTicket(ctx, closedTicket.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	// The hook the Service keeps its caches with hears of every stored message, in commit
	// order, and of nothing else.
	var hmu sync.Mutex
	var heard []int64
	s.adds.added = func(m Message, _ Actor) {
		hmu.Lock()
		heard = append(heard, m.ID)
		hmu.Unlock()
	}

	const senders, each = 32, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored, refused := 0, 0
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				conv := open
				if (i+j)%5 == 0 {
					conv = closed
				}
				m, err := s.AddMessage(ctx, 0, conv, SenderAgent, a.ID, fmt.Sprintf("s%d-%d", i, j), AsSystem())
				mu.Lock()
				switch {
				case conv == closed && apperr.Is(err, apperr.Conflict):
					refused++
				case conv == open && err == nil && m.ID > 0:
					stored++
				default:
					t.Errorf("AddMessage to %d: %+v, %v", conv, m, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got := count(t, s, "SELECT count(*) FROM messages WHERE conversation_id = ?", open); got != stored+1 {
		t.Errorf("%d messages stored in the open conversation, %d acknowledged (+1 question)", got, stored)
	}
	if got := count(t, s, "SELECT count(*) FROM messages WHERE conversation_id = ?", closed); got != 1 {
		t.Errorf("%d messages in the closed conversation, want only its question", got)
	}
	if stored+refused != senders*each {
		t.Errorf("%d stored + %d refused, want %d", stored, refused, senders*each)
	}
	if len(heard) != stored {
		t.Errorf("the hook heard of %d messages, %d were stored", len(heard), stored)
	}
	for i := 1; i < len(heard); i++ {
		if heard[i] <= heard[i-1] {
			t.Fatalf("the hook heard message %d after %d: not in commit order", heard[i], heard[i-1])
		}
	}
}

// A batch that fails for another reason than a closed ticket is retried one insert at a time,
// so a closed database fails every caller, and nothing hangs.
func TestGroupCommitOnAClosedDatabase(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(db)
	db.Close()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.AddMessage(context.Background(), 0, 1, SenderCustomer, 0, "x", AsSystem()); err == nil {
				t.Error("AddMessage on a closed database succeeded")
			}
		}()
	}
	wg.Wait()
}

func BenchmarkAddMessage(b *testing.B) {
	s := openStore(b)
	a := mustAgent(b, s, "a@example.com")
	conv := mustEngage(b, s, mustTicket(b, s, "tok", "q").ID, a.ID)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.AddMessage(ctx, 0, conv, SenderAgent, a.ID, "A message of ordinary length.", AsSystem()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("64-concurrent", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32) // × GOMAXPROCS goroutines
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.AddMessage(ctx, 0, conv, SenderAgent, a.ID, "A message of ordinary length.", AsSystem()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkLastMessages50(b *testing.B) {
	s := openStore(b)
	ctx := context.Background()
	a := mustAgent(b, s, "a@example.com")
	conv := mustEngage(b, s, mustTicket(b, s, "tok", "q").ID, a.ID)
	for i := range 49 {
		mustMessage(b, s, conv, SenderAgent, a.ID, fmt.Sprintf("Message %d: a sentence of typical chat length, 2024-01-02.", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		ms, err := s.LastMessages(ctx, conv, 50)
		if err != nil || len(ms) != 50 {
			b.Fatal(len(ms), err)
		}
	}
}
