package imapin

import (
	"errors"
	"io"
	"net"
	"testing"
)

// A server that sends more than the budget is cut off at the budget, whatever literal size
// it announced.
func TestBudgetConnStopsAtTheBudget(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		_, _ = server.Write(make([]byte, 1000))
	}()
	b := &budgetConn{Conn: client, budget: 100}
	n, err := io.ReadFull(b, make([]byte, 1000))
	if n != 100 || !errors.Is(err, errBudget) {
		t.Fatalf("read %d bytes, %v; want 100 and errBudget", n, err)
	}
	b.setBudget(50)
	if n, err := io.ReadFull(b, make([]byte, 50)); n != 50 || err != nil {
		t.Fatalf("after a new budget: %d, %v", n, err)
	}
}
