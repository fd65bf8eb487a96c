package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
)

// oas checks requests and answers against the served OpenAPI document and records which
// documented operations answered which statuses.
type oas struct {
	t      *testing.T
	e      *env
	v      validator.Validator
	ops    map[string]bool           // "GET /tickets/{ticketId}" for every documented operation
	called map[string]map[int]bool   // operation → statuses seen
	tmpl   map[*regexp.Regexp]string // path pattern → template
}

func newOAS(t *testing.T, e *env) *oas {
	t.Helper()
	r := e.apiCall("", "GET", "/api/v1/openapi.json", nil)
	wantStatus(t, r, http.StatusOK)
	doc, err := libopenapi.NewDocument([]byte(r.body))
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions(), config.WithContentAssertions())
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, ve := range verrs {
			t.Errorf("the document is not valid OpenAPI 3.1: %s (%s)", ve.Message, ve.Reason)
		}
		t.FailNow()
	}
	o := &oas{t: t, e: e, v: v, ops: map[string]bool{}, called: map[string]map[int]bool{}, tmpl: map[*regexp.Regexp]string{}}
	var raw struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(r.body), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", raw.OpenAPI)
	}
	for path, item := range raw.Paths {
		re := regexp.MustCompile("^" + regexp.MustCompile(`\{[a-zA-Z]+\}`).ReplaceAllString(path, `[^/]+`) + "$")
		o.tmpl[re] = path
		for m := range item {
			if m != "parameters" {
				o.ops[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	return o
}

// op names the documented operation a request goes to ("" when none).
func (o *oas) op(method, path string) string {
	path, _, _ = strings.Cut(strings.TrimPrefix(path, "/api/v1"), "?")
	for re, tmpl := range o.tmpl {
		if re.MatchString(path) && o.ops[method+" "+tmpl] {
			return method + " " + tmpl
		}
	}
	return ""
}

// call makes a request (validated against the document too, unless it is meant to be
// invalid), validates the answer and returns it.
func (o *oas) call(token, method, path string, body any, validRequest bool) response {
	o.t.Helper()
	r := o.e.apiCall(token, method, path, body)
	op := o.op(method, path)
	if op == "" {
		o.t.Fatalf("%s %s is not a documented operation", method, path)
	}
	if o.called[op] == nil {
		o.called[op] = map[int]bool{}
	}
	o.called[op][r.status] = true

	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd, ctype = bytes.NewReader(b), "text/plain"
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if validRequest {
		if ok, errs := o.v.ValidateHttpRequest(req); !ok {
			for _, e := range errs {
				o.t.Errorf("%s %s: request invalid: %s (%s)", method, path, e.Message, e.Reason)
			}
		}
	}
	res := &http.Response{StatusCode: r.status, Header: r.header, Body: io.NopCloser(strings.NewReader(r.body)), Request: req}
	if ok, errs := o.v.ValidateHttpResponse(req, res); !ok {
		for _, e := range errs {
			o.t.Errorf("%s %s → %d: answer invalid: %s (%s)\n%.800s", method, path, r.status, e.Message, e.Reason, r.body)
		}
	}
	return r
}

// TestAPIMatchesOpenAPI calls every documented operation, with successes and the documented
// failures, and validates every request and answer against the served OpenAPI 3.1 document;
// every API route is documented and every documented operation was called with success.
func TestAPIMatchesOpenAPI(t *testing.T) {
	cfg := testConfig()
	cfg.APIRateLimit = 1000
	e := newEnv(t, cfg)
	o := e.register("acme")
	e.onboard(o, "Maria Agent")
	thomas := e.onboard(o, "Thomas Agent")
	tok := e.apiToken(o.browser, "conformance", "")
	thomasTok := e.apiToken(o.browser, "thomas", "2")
	api := newOAS(t, e)

	valid, invalid := true, false
	var tk struct {
		ID int64 `json:"id"`
	}
	decode(t, api.call(tok, "POST", "/api/v1/tickets", map[string]string{"customer_name": "Ann", "customer_email": "ann@example.net",
		"query": "Printer on fire"}, valid), &tk)
	id := "/api/v1/tickets/" + itoa(tk.ID)
	api.call(tok, "POST", "/api/v1/tickets", map[string]string{"customer_name": "Bob", "customer_email": "bob@example.net", "query": "Hello"}, valid)
	api.call(tok, "POST", "/api/v1/tickets", `{"customer_name":"Ann"}`, invalid)
	api.call(tok, "POST", "/api/v1/tickets", `{"x":`, invalid)
	api.call(tok, "POST", "/api/v1/tickets", `[]`, invalid)
	api.call(tok, "POST", "/api/v1/tickets", []byte(`{"customer_name":"Ann"}`), invalid)
	api.call("", "POST", "/api/v1/tickets", map[string]string{}, invalid)

	api.call(tok, "GET", "/api/v1/tickets", nil, valid)
	api.call(tok, "GET", "/api/v1/tickets?status=open&priority=normal&assignee_id=none&tag=x&contact_id=1&limit=1", nil, valid)
	api.call(tok, "GET", "/api/v1/tickets?limit=1", nil, valid)
	api.call(tok, "GET", "/api/v1/tickets?status=nope", nil, invalid)
	api.call("", "GET", "/api/v1/tickets", nil, invalid)
	api.call("tdk_1_"+strings.Repeat("A", 54), "GET", "/api/v1/tickets", nil, invalid)

	api.call(tok, "GET", id, nil, valid)
	api.call(tok, "GET", "/api/v1/tickets/999", nil, valid)

	api.call(thomasTok, "POST", id+"/messages", map[string]string{"body": "On it"}, valid)
	api.call(tok, "POST", id+"/messages", map[string]string{"body": "Thanks!", "as": "customer"}, valid)
	api.call(tok, "POST", id+"/messages", map[string]string{"body": ""}, invalid)
	api.call(tok, "POST", "/api/v1/tickets/999/messages", map[string]string{"body": "x"}, valid)
	api.call(tok, "POST", id+"/notes", map[string]string{"body": "@maria.agent look"}, valid)
	api.call(tok, "POST", id+"/notes", map[string]string{"body": "x", "as": "agent"}, invalid)
	api.call(tok, "POST", id+"/priority", map[string]string{"priority": "high"}, valid)
	api.call(tok, "POST", id+"/priority", map[string]string{"priority": "meh"}, invalid)
	api.call(tok, "POST", id+"/tags", map[string]any{"tags": []string{"billing", "vip"}}, valid)
	api.call(tok, "POST", id+"/tags", map[string]any{"tags": []string{"a,b"}}, invalid)
	api.call(tok, "POST", id+"/assignment", map[string]any{"assignee_id": 1}, valid)
	api.call(thomasTok, "POST", id+"/assignment", map[string]any{"assignee_id": 2}, valid) // 403: Maria's
	api.call(tok, "POST", id+"/assignment", map[string]any{"assignee_id": nil}, valid)
	api.call(tok, "POST", id+"/assignment", map[string]any{"assignee_id": 77}, valid)
	api.call(tok, "POST", id+"/status", map[string]any{"status": "snoozed", "snooze_until": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, valid)
	api.call(tok, "POST", id+"/status", map[string]any{"status": "snoozed"}, valid)
	api.call(tok, "POST", id+"/status", "no json", invalid)
	api.call(tok, "GET", id+"/messages", nil, valid)
	api.call(tok, "GET", id+"/messages?limit=2&after=1", nil, valid)
	api.call(tok, "GET", id+"/messages?after=x", nil, invalid)
	api.call(tok, "POST", id+"/status", map[string]any{"status": "closed"}, valid)
	api.call(tok, "POST", id+"/messages", map[string]string{"body": "too late"}, valid) // 409

	var contacts struct {
		Data []struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	decode(t, api.call(tok, "GET", "/api/v1/contacts", nil, valid), &contacts)
	api.call(tok, "GET", "/api/v1/contacts?email=ann@example.net&limit=1", nil, valid)
	api.call(tok, "GET", "/api/v1/contacts?email=nope", nil, invalid)
	api.call(tok, "GET", "/api/v1/contacts/"+itoa(contacts.Data[0].ID), nil, valid)
	api.call(tok, "GET", "/api/v1/contacts/999", nil, valid)
	api.call(tok, "GET", "/api/v1/agents", nil, valid)
	api.call(tok, "GET", "/api/v1/openapi.json", nil, valid)
	_ = thomas

	// The checks have teeth: answers that break the document are found invalid.
	for _, bad := range []struct{ path, body string }{
		{"/api/v1/tickets", `{"data":[{"id":"1"}],"next_cursor":null}`},
		{"/api/v1/tickets", `{"data":[]}`},
		{id, `{"id":1}`},
		{"/api/v1/agents", `{"data":[],"next_cursor":null,"extra":1}`},
	} {
		req := httptest.NewRequest("GET", bad.path, nil)
		res := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(bad.body)), Request: req}
		if ok, _ := api.v.ValidateHttpResponse(req, res); ok {
			t.Errorf("the validator accepts %s for GET %s", bad.body, bad.path)
		}
	}

	// Every documented operation answered with success at least once, and every API route is
	// documented.
	var missing []string
	for op := range api.ops {
		ok := false
		for st := range api.called[op] {
			ok = ok || st < 300
		}
		if !ok {
			missing = append(missing, op)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented operations never answered with success: %v (called: %v)", missing, api.called)
	}
	for _, r := range e.app.GetRoutes(true) {
		if strings.HasPrefix(r.Path, "/api/") && r.Method != http.MethodHead {
			p := regexp.MustCompile(`:([a-zA-Z]+)`).ReplaceAllString(strings.TrimPrefix(r.Path, "/api/v1"), "{$1}")
			if !api.ops[r.Method+" "+p] {
				t.Errorf("route %s %s is not documented", r.Method, r.Path)
			}
		}
	}
	seen := map[int]bool{}
	for _, sts := range api.called {
		for st := range sts {
			seen[st] = true
		}
	}
	for _, st := range []int{200, 201, 400, 401, 403, 404, 409, 415, 422} {
		if !seen[st] {
			t.Errorf("no answer %d was checked against the document", st)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
