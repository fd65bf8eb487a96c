package handlers_test

// Benchmarks of the HTTP hot paths, run by `make bench` (never by `make test`: no test here
// is timed). Each request goes through the whole Fiber app — every middleware, the session,
// the registry, the store and the templates — but not through a socket: the fasthttp handler
// is called directly with a reused RequestCtx, so ns/op is the server's own CPU per request.
// cpu-µs/op adds what other goroutines (the GC) spent meanwhile, from getrusage.
//
//	go test -tags libsqlite3 -run '^$' -bench . -benchtime 2s ./handlers/

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// fastReq is one request, replayed against the app's handler without a socket.
type fastReq struct {
	h   fasthttp.RequestHandler
	ctx fasthttp.RequestCtx
	req fasthttp.Request
}

func newFastReq(app *fiber.App, method, path string, cookies map[string]string, hdr map[string]string, body string) *fastReq {
	r := &fastReq{h: app.Handler()}
	r.req.Header.SetMethod(method)
	r.req.SetRequestURI(path)
	r.req.Header.SetHost("bench.local")
	for k, v := range cookies {
		r.req.Header.SetCookie(k, v)
	}
	for k, v := range hdr {
		r.req.Header.Set(k, v)
	}
	if body != "" {
		r.req.Header.SetContentType("application/x-www-form-urlencoded")
		r.req.SetBodyString(body)
	}
	r.ctx.Init(&r.req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	return r
}

// do serves the request once and returns the status.
func (r *fastReq) do() int {
	r.req.CopyTo(&r.ctx.Request)
	r.ctx.Response.Reset()
	r.h(&r.ctx)
	return r.ctx.Response.StatusCode()
}

func (r *fastReq) body() string { return string(r.ctx.Response.Body()) }

// run benchmarks the request, failing on any other status than want.
func (r *fastReq) run(b *testing.B, want int) {
	b.Helper()
	if got := r.do(); got != want {
		b.Fatalf("status %d, want %d; body:\n%.800s", got, want, r.body())
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if got := r.do(); got != want {
			b.Fatalf("status %d, want %d; body:\n%.800s", got, want, r.body())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchChat is one tenant with an agent, a ticket it took with n messages, and every browser's
// cookies.
type benchChat struct {
	e       *env
	org     org
	agent   agent
	cust    customer
	talk    string // the agent's conversation page
	conv    string // the conversation id
	lastID  int64
	firstID int64
}

// newBenchEnv starts a test server that logs at Info, as the binary does.
func newBenchEnv(b *testing.B) *env {
	b.Helper()
	testLogLevel = slog.LevelInfo
	return newEnv(b)
}

func newBenchChat(b *testing.B, messages int) *benchChat {
	b.Helper()
	e := newBenchEnv(b)
	acme := e.register("acme")
	ann := e.onboard(acme, "Ann Agent")
	cust := e.openTicket("acme", "My printer prints only in Comic Sans since this morning.")
	talk := e.engage(ann)
	for i := 1; i < messages; i++ {
		who := ann.browser
		path := talk + "/messages"
		if i%2 == 0 {
			who, path = cust.browser, cust.page+"/messages"
		}
		r := who.post(path, form("message", fmt.Sprintf("Message %d: a sentence of typical chat length, with a date 2024-01-02 in it.", i)), htmx)
		wantStatus(b, r, http.StatusOK)
	}
	ids := messageIDs(ann.browser.get(talk).body)
	if len(ids) != messages+1 { // and the take's activity line
		b.Fatalf("conversation has %d messages, want %d and an activity line", len(ids), messages)
	}
	first, _ := strconv.ParseInt(ids[0], 10, 64)
	last, _ := strconv.ParseInt(ids[len(ids)-1], 10, 64)
	return &benchChat{e: e, org: acme, agent: ann, cust: cust, talk: talk,
		conv: strings.TrimPrefix(talk, "/agent/acme/talk/"), firstID: first, lastID: last}
}

var staticFragment = strings.Repeat(`<li class="msg" data-sender="agent"><p>static fragment</p></li>`+"\n", 22)[:1400]

// BenchmarkStaticFiber is the reference: a plain Fiber app answering a 1.4 KB fragment.
func BenchmarkStaticFiber(b *testing.B) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/fragment", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.SendString(staticFragment)
	})
	newFastReq(app, "GET", "/fragment", nil, nil, "").run(b, http.StatusOK)
}

// BenchmarkPollEmpty is a message poll with nothing new: 204.
func BenchmarkPollEmpty(b *testing.B) {
	bc := newBenchChat(b, 3)
	after := "/messages?after=" + strconv.FormatInt(bc.lastID, 10)
	b.Run("customer", func(b *testing.B) {
		newFastReq(bc.e.app, "GET", bc.cust.page+after, bc.cust.browser.cookies, htmx, "").run(b, http.StatusNoContent)
	})
	b.Run("agent", func(b *testing.B) {
		newFastReq(bc.e.app, "GET", bc.talk+after, bc.agent.browser.cookies, htmx, "").run(b, http.StatusNoContent)
	})
	b.Run("org", func(b *testing.B) {
		newFastReq(bc.e.app, "GET", "/conversation/"+bc.conv+after, bc.org.browser.cookies, htmx, "").run(b, http.StatusNoContent)
	})
}

// BenchmarkPollOne is a message poll that returns one new message.
func BenchmarkPollOne(b *testing.B) {
	bc := newBenchChat(b, 3)
	after := "/messages?after=" + strconv.FormatInt(bc.lastID-1, 10)
	b.Run("customer", func(b *testing.B) {
		newFastReq(bc.e.app, "GET", bc.cust.page+after, bc.cust.browser.cookies, htmx, "").run(b, http.StatusOK)
	})
	b.Run("agent", func(b *testing.B) {
		newFastReq(bc.e.app, "GET", bc.talk+after, bc.agent.browser.cookies, htmx, "").run(b, http.StatusOK)
	})
}

// BenchmarkConversationPage50 renders a whole conversation page of 50 messages.
func BenchmarkConversationPage50(b *testing.B) {
	bc := newBenchChat(b, 50)
	b.Run("customer", func(b *testing.B) {
		newFastReq(bc.e.app, "GET", bc.cust.page, bc.cust.browser.cookies, nil, "").run(b, http.StatusOK)
	})
	b.Run("agent", func(b *testing.B) {
		newFastReq(bc.e.app, "GET", bc.talk, bc.agent.browser.cookies, nil, "").run(b, http.StatusOK)
	})
}

// BenchmarkSend stores a message (htmx: the answer is the new message), one sender at a time.
func BenchmarkSend(b *testing.B) {
	bc := newBenchChat(b, 3)
	bc.agent.browser.get(bc.talk) // a fresh CSRF token
	hdr := map[string]string{"HX-Request": "true", "X-CSRF-Token": bc.agent.browser.csrf}
	newFastReq(bc.e.app, "POST", bc.talk+"/messages", bc.agent.browser.cookies, hdr,
		"message=Thanks+for+waiting%2C+I+am+looking+into+it.").run(b, http.StatusOK)
}

// BenchmarkDashboards renders the owner's and an agent's dashboard (counts of every view and
// the first 50 rows) of an organization with n tickets, a third of them taken, and the
// dashboard's live region poll when nothing changed (204, which must cost less than a page of
// 20 tickets).
func BenchmarkDashboards(b *testing.B) {
	for _, n := range []int{20, 1000} {
		e := newBenchEnv(b)
		acme := e.register("acme")
		ann := e.onboard(acme, "Ann Agent")
		for i := range n {
			e.openTicket("acme", fmt.Sprintf("Question %d about the product", i))
			if i%3 == 0 {
				e.engage(ann)
			}
		}
		b.Run(fmt.Sprintf("org-%d", n), func(b *testing.B) {
			newFastReq(e.app, "GET", "/dash", acme.browser.cookies, nil, "").run(b, http.StatusOK)
		})
		b.Run(fmt.Sprintf("agent-%d", n), func(b *testing.B) {
			newFastReq(e.app, "GET", "/agent/acme/dash", ann.browser.cookies, nil, "").run(b, http.StatusOK)
		})
		live := liveURL(b, ann.browser.get("/agent/acme/dash").body)
		b.Run(fmt.Sprintf("queue-poll-unchanged-%d", n), func(b *testing.B) {
			newFastReq(e.app, "GET", live, ann.browser.cookies, htmx, "").run(b, http.StatusNoContent)
		})
	}
}

// BenchmarkRegisterTenant creates and migrates a tenant database and its catalog row through
// the registry (what POST /register does after hashing the password).
func BenchmarkRegisterTenant(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		u := "tenant" + strconv.Itoa(i)
		org := catalog.Organization{Name: u, Username: u, Email: u + "@example.com", PasswordHash: "x",
			DBName: "tenantdesk-" + u}
		if err := e.reg.Register(ctx, &org); err != nil {
			b.Fatal(err)
		}
	}
}
