package e2e

import (
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWebhookToLoopbackRefusedByTheBinary: the binary, without WEBHOOK_ALLOW_PRIVATE, accepts
// an endpoint named by a host name, shows its secret once, and when an event happens refuses to
// connect to the loopback address the name resolves to: the delivery log says so and the
// listener never sees a connection.
func TestWebhookToLoopbackRefusedByTheBinary(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	org := seedOrg(t, "Hooked", "hooked", "org password hooked")
	_, body := org.mustPost("/dash/webhooks", "/dash/webhooks", http.StatusOK,
		"url", "http://localhost:"+port+"/hook", "events", "ticket.created")
	m := regexp.MustCompile(`id="webhook-secret"[^>]*>(whsec_[A-Za-z0-9_-]{43})<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no signing secret on the page:\n%.2000s", body)
	}
	if _, again := org.get("/dash/webhooks"); strings.Contains(again, m[1]) {
		t.Fatal("the webhooks page shows the secret again")
	}
	// A loopback address by number is refused when registered.
	org.mustPost("/dash/webhooks", "/dash/webhooks", http.StatusUnprocessableEntity,
		"url", "http://127.0.0.1:"+port+"/hook", "events", "ticket.created")

	seedTicket(t, "hooked", "Lou Loopback", "lou@customer.example", "Will you call my server?")
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, log := org.get("/dash/webhooks/1")
		if strings.Contains(log, `data-state="failed"`) {
			if !strings.Contains(log, "refused") || !strings.Contains(log, "ticket.created") {
				t.Fatalf("the failed delivery does not say it was refused:\n%.2000s", log)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivery did not fail:\n%.2000s\nserver log:\n%s", log, serverLogTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("the loopback listener got %d connections", n)
	}
	// The audit log records the endpoint, not its secret.
	if _, audit := org.get("/dash/audit"); !strings.Contains(audit, "webhook.created") || strings.Contains(audit, m[1]) {
		t.Fatalf("audit log:\n%.2000s", audit)
	}
}
