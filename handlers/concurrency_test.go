package handlers_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// tenantQuery runs fn on an organization's tenant database as the registry lends it.
func (e *env) tenantQuery(orgUser string, fn func(db *sql.DB)) {
	e.t.Helper()
	org, err := e.cat.ByUsername(e.t.Context(), orgUser)
	if err != nil {
		e.t.Fatal(err)
	}
	h, err := e.reg.Acquire(e.t.Context(), org)
	if err != nil {
		e.t.Fatal(err)
	}
	defer h.Release()
	fn(h.DB)
}

// burstTenant is one organization with agents, engaged customers, and what the burst sent.
type burstTenant struct {
	org       string
	agents    []agent
	talks     [][]string // talks[i]: agent i's talk pages
	customers []customer
	// acked[sender] lists the bodies acknowledged (200/303) to that sender, in send order.
	mu    sync.Mutex
	acked map[string][]string
}

// newBurstTenant registers org with nAgents agents and nCustomers customers, each customer's
// ticket engaged by agent i%nAgents.
func newBurstTenant(e *env, org string, nAgents, nCustomers int) *burstTenant {
	e.t.Helper()
	bt := &burstTenant{org: org, acked: map[string][]string{}}
	o := e.register(org)
	for i := range nAgents {
		bt.agents = append(bt.agents, e.onboard(o, fmt.Sprintf("Agent %s%02d", org, i)))
	}
	bt.talks = make([][]string, nAgents)
	for i := range nCustomers {
		c := isoOpenTicket(e, org, fmt.Sprintf("Customer %s%02d", org, i), fmt.Sprintf("question %s %d", org, i))
		bt.customers = append(bt.customers, c)
		a := i % nAgents
		bt.talks[a] = append(bt.talks[a], e.engage(bt.agents[a]))
		c.browser.get(c.page) // the page with the composer, and its CSRF token
	}
	for _, a := range bt.agents {
		a.browser.get("/agent/" + org + "/dash")
	}
	return bt
}

// run sends rounds messages from every agent (to each of its conversations, htmx) and every
// customer (plain form posts), all at once, and records what was acknowledged. Anything but
// 200/303 is reported.
func (bt *burstTenant) run(t *testing.T, rounds int, start <-chan struct{}, errs chan<- string) *sync.WaitGroup {
	var wg sync.WaitGroup
	ack := func(sender, body string) {
		bt.mu.Lock()
		bt.acked[sender] = append(bt.acked[sender], body)
		bt.mu.Unlock()
	}
	check := func(who, body string, r response, want int) bool {
		if r.status != want || strings.Contains(strings.ToLower(r.body), "locked") {
			errs <- fmt.Sprintf("%s sending %q: status %d (want %d): %.200s", who, body, r.status, want, r.body)
			return false
		}
		return true
	}
	for i, a := range bt.agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			sender := fmt.Sprintf("%s-a%02d", bt.org, i)
			for k := range rounds {
				for j, talk := range bt.talks[i] {
					body := fmt.Sprintf("%s-c%d-m%d", sender, j, k)
					if check(sender, body, a.browser.post(talk+"/messages", form("message", body), htmx), http.StatusOK) {
						ack(sender, body)
					}
				}
			}
		}()
	}
	for i, c := range bt.customers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			sender := fmt.Sprintf("%s-k%02d", bt.org, i)
			for k := range rounds {
				body := fmt.Sprintf("%s-m%d", sender, k)
				if check(sender, body, c.browser.post(c.page+"/messages", form("message", body)), http.StatusSeeOther) {
					ack(sender, body)
				}
			}
		}()
	}
	return &wg
}

// verify checks that every acknowledged message is stored exactly once and that each sender's
// messages are stored in the order it sent them.
func (bt *burstTenant) verify(t *testing.T, e *env) int {
	t.Helper()
	ids := map[string]int64{}
	e.tenantQuery(bt.org, func(db *sql.DB) {
		rows, err := db.QueryContext(t.Context(), "SELECT id, CAST(body AS BLOB) FROM messages ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var body string
			if err := rows.Scan(&id, &body); err != nil {
				t.Fatal(err)
			}
			if _, dup := ids[body]; dup && strings.HasPrefix(body, bt.org+"-") {
				t.Errorf("%s: message %q stored twice", bt.org, body)
			}
			ids[body] = id
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	})
	n := 0
	for sender, bodies := range bt.acked {
		// An agent's bodies go to several conversations: order is per conversation.
		last := map[string]int64{}
		for _, body := range bodies {
			id, ok := ids[body]
			if !ok {
				t.Errorf("%s: acknowledged message %q is missing", sender, body)
				continue
			}
			conv := body[:strings.LastIndex(body, "-m")]
			if id <= last[conv] {
				t.Errorf("%s: %q stored as %d, before an earlier message (%d)", sender, body, id, last[conv])
			}
			last[conv] = id
			n++
		}
	}
	return n
}

// TestConcurrentWriters: 16 agents and 50 customers post to one tenant at once while three
// other tenants do the same: no error status and no "database is locked" reaches anyone, no
// acknowledged message is lost or doubled, and each sender's messages keep their order.
func TestConcurrentWriters(t *testing.T) {
	e := newEnv(t)
	const rounds = 4
	tenants := []*burstTenant{newBurstTenant(e, "busyco", 16, 50)}
	for _, name := range []string{"sideone", "sidetwo", "sidethree"} {
		tenants = append(tenants, newBurstTenant(e, name, 2, 6))
	}
	start := make(chan struct{})
	errs := make(chan string, 10000)
	var groups []*sync.WaitGroup
	for _, bt := range tenants {
		groups = append(groups, bt.run(t, rounds, start, errs))
	}
	close(start)
	for _, g := range groups {
		g.Wait()
	}
	close(errs)
	failures := 0
	for msg := range errs {
		if failures++; failures <= 10 {
			t.Error(msg)
		}
	}
	if failures > 10 {
		t.Errorf("... and %d more failed sends", failures-10)
	}
	total := 0
	for _, bt := range tenants {
		total += bt.verify(t, e)
	}
	// 16 agents × their conversations + 50 customers, and 3 × (2 agents × 3 + 6 customers).
	if want := rounds * (50 + 50 + 3*(6+6)); total != want {
		t.Errorf("%d messages acknowledged and stored, want %d", total, want)
	}
	if logs := e.logs.String(); strings.Contains(logs, "locked") || strings.Contains(logs, "status=5") {
		t.Errorf("the logs report lock errors or 5xx:\n%.3000s", logs)
	}
}
