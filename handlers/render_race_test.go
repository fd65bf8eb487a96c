package handlers_test

import (
	"net/http"
	"sync"
	"testing"
)

// TestFragmentsRenderBesidePages: htmx fragments (a poll with new messages, an error partial)
// rendered while full pages render never fail. The template engine resets its shared layout
// function on a render without a layout, and a page render that was calling it failed with
// "call of nil function" (500); and two first renders of one template at once raced on its
// lazy escaping (caught under -race: the error partial is first rendered here by two workers).
func TestFragmentsRenderBesidePages(t *testing.T) {
	e := newEnv(t)
	o := e.register("renderco")
	a := e.onboard(o, "Ren Agent")
	cust := e.openTicket("renderco", "render question")
	talk := e.engage(a)
	wantStatus(t, a.browser.post(talk+"/messages", form("message", "a reply")), http.StatusSeeOther)
	var wg sync.WaitGroup
	statuses := make(chan int, 5*150)
	for w := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.client()
			for k, v := range cust.browser.cookies {
				c.cookies[k] = v
			}
			for range 150 {
				switch w {
				case 0: // a poll answering a fragment of messages
					statuses <- c.do(http.MethodGet, cust.page+"/messages?after=0", nil, htmx).status
				case 1, 2: // an htmx error partial
					statuses <- c.do(http.MethodGet, "/renderco/open-ticket/nothing", nil, htmx).status
				default: // full pages
					statuses <- c.do(http.MethodGet, cust.page, nil, nil).status
				}
			}
		}()
	}
	wg.Wait()
	close(statuses)
	seen := map[int]int{}
	for s := range statuses {
		seen[s]++
	}
	if seen[http.StatusOK]+seen[http.StatusNotFound] != 750 {
		t.Fatalf("statuses %v, want 750 answers of 200 (pages, polls) or 404 (the error partial)", seen)
	}
}
