package lru

import (
	"fmt"
	"sync"
	"testing"
)

func TestBoundedByCount(t *testing.T) {
	c := New[int, int](shards * 4)
	for i := range 10000 {
		c.Add(i, i)
	}
	if n := c.Len(); n > shards*4 || n < shards {
		t.Fatalf("Len = %d after 10000 adds, want at most %d", n, shards*4)
	}
	// The most recently added are kept.
	if v, ok := c.Get(9999); !ok || v != 9999 {
		t.Errorf("Get(9999) = %d, %v; want the newest entry kept", v, ok)
	}
}

func TestBoundedByCost(t *testing.T) {
	const budget = shards * 100
	c := NewWeighted[string, []byte](1<<20, budget, func(v []byte) int { return len(v) })
	spent := func() int {
		n := 0
		for i := range c.shards {
			s := &c.shards[i]
			s.mu.Lock()
			if s.spent < 0 || s.spent > s.limit {
				t.Errorf("shard %d spent %d of %d", i, s.spent, s.limit)
			}
			n += s.spent
			s.mu.Unlock()
		}
		return n
	}
	for i := range 1000 {
		c.Add(fmt.Sprint(i), make([]byte, 30))
	}
	if got := spent(); got > budget {
		t.Fatalf("cost %d over the budget %d", got, budget)
	}
	// Replacing a value replaces its cost; removing one returns it.
	c.Add("x", make([]byte, 10))
	c.Add("x", make([]byte, 20))
	before := spent()
	c.Remove("x")
	if after := spent(); before-after != 20 {
		t.Errorf("removing a value of cost 20 returned %d", before-after)
	}
	// A value over a shard's part of the budget is not kept.
	c.Add("huge", make([]byte, budget))
	if _, ok := c.Get("huge"); ok {
		t.Error("a value over the budget was kept")
	}
}

func TestUpdateAndRemoveIf(t *testing.T) {
	c := New[int, int](1024)
	c.Update(1, func(old int, ok bool) (int, bool) {
		if ok {
			t.Error("Update of a missing key saw a value")
		}
		return 10, true
	})
	c.Update(1, func(old int, ok bool) (int, bool) { return old + 1, ok })
	if v, _ := c.Get(1); v != 11 {
		t.Errorf("after two updates: %d, want 11", v)
	}
	c.Update(1, func(int, bool) (int, bool) { return 0, false })
	if _, ok := c.Get(1); ok {
		t.Error("Update returning false kept the key")
	}
	for i := range 100 {
		c.Add(i, i)
	}
	c.RemoveIf(func(k int) bool { return k%2 == 0 })
	for i := range 100 {
		if _, ok := c.Get(i); ok != (i%2 == 1) {
			t.Fatalf("after RemoveIf(even): key %d present = %v", i, ok)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	c := NewWeighted[int, []byte](4096, 1<<16, func(v []byte) int { return len(v) })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := (g*2000 + i) % 3000
				c.Add(k, make([]byte, i%64))
				c.Get(k / 2)
				c.Update(k, func(v []byte, ok bool) ([]byte, bool) { return v, ok })
			}
		}()
	}
	wg.Wait()
	if c.Len() > 4096 {
		t.Errorf("Len = %d, over the bound", c.Len())
	}
}
