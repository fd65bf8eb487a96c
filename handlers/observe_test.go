package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// scrape reads the server's Prometheus metrics.
func (e *env) scrape() string {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		e.t.Fatalf("metrics: status %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestRequestLog: one structured line per request with its request id, route pattern, status
// and tenant; the customer token is redacted from the path, and no message body, password or
// query string reaches the log (ASVS 16.2.x, 16.3.1).
func TestRequestLog(t *testing.T) {
	e := newEnv(t)
	o := e.register("logsco")
	a := e.onboard(o, "Lena Logs")
	c := e.openTicket("logsco", "question-body-never-logged")
	c.browser.get(c.page)
	talk := e.engage(a)
	wantStatus(t, a.browser.post(talk+"/messages", form("message", "agent-body-never-logged"), htmx), http.StatusOK)
	wantStatus(t, c.browser.post(c.page+"/messages", form("message", "customer-body-never-logged")), http.StatusSeeOther)
	c.browser.get(c.page + "/messages?after=0&secret-query=never-logged")
	c.browser.get(strings.Replace(c.page, "/customer/", "/CUSTOMER/", 1)) // Fiber routes any case
	token := strings.TrimPrefix(c.page, "/customer/logsco/t/")

	logs := e.logs.String()
	for _, secret := range []string{token, "body-never-logged", "secret-query", a.password, o.password} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
	line := regexp.MustCompile(`(?m)^.*msg=request .*route=/customer/:org/t/:token/messages .*$`).FindString(logs)
	if line == "" {
		t.Fatalf("no request line for the customer's message post:\n%.3000s", logs)
	}
	for _, want := range []string{"method=POST", "path=/customer/logsco/t/[token]/messages", "status=303", "tenant=logsco", "request_id="} {
		if !strings.Contains(line, want) {
			t.Errorf("request line lacks %q: %s", want, line)
		}
	}
	if m := regexp.MustCompile(`request_id=(\S+)`).FindStringSubmatch(line); m == nil || len(m[1]) < 8 {
		t.Errorf("request line has no request id: %s", line)
	}
	if !regexp.MustCompile(`msg=request .*route=/agent/:org/talk/:conversationId/messages .*status=200 .*tenant=logsco`).MatchString(logs) {
		t.Error("no request line for the agent's message with its tenant")
	}
	// Polls are logged at debug level only (the test logger shows them): with the route.
	if !regexp.MustCompile(`level=DEBUG msg=request method=GET route=/customer/:org/t/:token/messages`).MatchString(logs) {
		t.Error("the poll is not logged at debug level")
	}
}

// TestMetrics: request counts and latency by route pattern (never a raw path or token), open
// tenant databases and evictions, from the server's own registry; the public app has no
// /metrics (main serves it on METRICS_ADDR only).
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	o := e.register("metco")
	c := e.openTicket("metco", "metrics question")
	c.browser.get(c.page)
	c.browser.get(c.page + "/messages?after=0")
	o.browser.get("/conversation/424242")
	o.browser.get("/no/such/page")
	token := strings.TrimPrefix(c.page, "/customer/metco/t/")

	m := e.scrape()
	for _, want := range []string{
		`tenantdesk_http_requests_total{method="GET",route="/customer/:org/t/:token",status="200"} 1`,
		`tenantdesk_http_requests_total{method="POST",route="/:org/open-ticket",status="303"} 1`,
		`tenantdesk_http_requests_total{method="GET",route="/conversation/:conversationId",status="404"} 1`,
		`tenantdesk_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`tenantdesk_http_request_duration_seconds_bucket{method="GET",route="/customer/:org/t/:token/messages",le="+Inf"} 1`,
		"tenantdesk_tenant_databases_open 1",
		"tenantdesk_tenant_database_opens_total 1",
		"tenantdesk_tenant_database_evictions_total 0",
		"go_goroutines",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, leak := range []string{token, "424242", "/no/such/page", "metco"} {
		if strings.Contains(m, leak) {
			t.Errorf("metrics contain %q", leak)
		}
	}
	// The replica hook is off on local files.
	if strings.Contains(m, "tenantdesk_replica_sync") {
		t.Error("replica metrics without replicas")
	}
	if r := o.browser.get("/metrics"); r.status != http.StatusNotFound || strings.Contains(r.body, "go_goroutines") {
		t.Errorf("the public app answers /metrics: %d", r.status)
	}
}

// TestMetricsEvictions: the eviction counter follows the registry (8 tenants open at most in
// tests).
func TestMetricsEvictions(t *testing.T) {
	e := newEnv(t)
	for i := range 10 {
		name := "evict" + string(rune('a'+i)) + "co"
		e.register(name)
		e.openTicket(name, "opens the tenant database")
	}
	m := e.scrape()
	if !strings.Contains(m, "tenantdesk_tenant_databases_open 8") || !strings.Contains(m, "tenantdesk_tenant_database_opens_total 10") ||
		!strings.Contains(m, "tenantdesk_tenant_database_evictions_total 2") {
		t.Errorf("after 10 registrations with room for 8:\n%s", grepLines(m, "tenantdesk_tenant"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
