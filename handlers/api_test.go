package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var apiTokenRE = regexp.MustCompile(`id="api-token"[^>]*>([^<]+)<`)

// apiToken makes an API token on who's /dash/api (an owner's or an admin's browser), acting as
// agent agentID ("" for the organization), and returns it.
func (e *env) apiToken(who *client, name, agentID string) string {
	e.t.Helper()
	who.get("/dash/api")
	r := who.post("/dash/api", form("name", name, "agent_id", agentID))
	wantStatus(e.t, r, http.StatusOK)
	m := apiTokenRE.FindStringSubmatch(r.body)
	if m == nil {
		e.t.Fatalf("no api-token in:\n%.2000s", r.body)
	}
	return m[1]
}

// apiCall is one request to the API with token (none when ""), body (JSON-encoded unless it
// is a string or nil; a []byte is sent as text/plain).
func (e *env) apiCall(token, method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte: // sent as text/plain
		rd, ctype = bytes.NewReader(b), "text/plain"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.app.Test(req, -1)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// decode reads a JSON answer into v.
func decode(t testing.TB, r response, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("answer is not JSON (%v):\n%.1000s", err, r.body)
	}
}

type apiTicketJSON struct {
	ID             int64    `json:"id"`
	ConversationID int64    `json:"conversation_id"`
	Status         string   `json:"status"`
	Priority       string   `json:"priority"`
	AssigneeID     *int64   `json:"assignee_id"`
	Tags           []string `json:"tags"`
	CreatedAt      string   `json:"created_at"`
	CustomerEmail  string   `json:"customer_email"`
}

type problemJSON struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Code   string `json:"code"`
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func wantProblem(t testing.TB, r response, status int, field string) problemJSON {
	t.Helper()
	if r.status != status || r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d (%s), want %d problem+json:\n%.1000s", r.status, r.header.Get("Content-Type"), status, r.body)
	}
	var p problemJSON
	decode(t, r, &p)
	if p.Status != status || p.Title == "" || p.Field != field {
		t.Fatalf("problem %+v, want status %d field %q", p, status, field)
	}
	return p
}

// TestAPIWorkflow walks the API as an integration would: tokens made on /dash/api, tickets
// created, listed with filters and cursors, answered, noted, assigned, tagged, closed; a
// customer's message on its behalf; revocation at once.
func TestAPIWorkflow(t *testing.T) {
	e := newEnv(t)
	o := e.register("acme")
	maria := e.onboard(o, "Maria Agent")
	orgToken := e.apiToken(o.browser, "CRM sync", "")
	mariaToken := e.apiToken(o.browser, "Maria's bot", "1")
	if !strings.HasPrefix(orgToken, "tdk_") || orgToken == mariaToken {
		t.Fatalf("tokens %q, %q", orgToken, mariaToken)
	}
	// The list shows both, never the tokens themselves.
	r := o.browser.get("/dash/api")
	if !r.has("CRM sync") || !r.has("Maria&#39;s bot") || r.has(orgToken) || r.has(mariaToken) || !r.has("never used") {
		t.Fatalf("token list:\n%.3000s", r.body)
	}

	// 401 without a token, with a bad one, with a token of an unknown organization.
	altered := orgToken[:len(orgToken)-3] + "AAA"
	if altered == orgToken {
		altered = orgToken[:len(orgToken)-3] + "BAA"
	}
	for _, tok := range []string{"", "nonsense", altered, "tdk_999_" + orgToken[len(orgToken)-54:]} {
		p := wantProblem(t, e.apiCall(tok, "GET", "/api/v1/tickets", nil), http.StatusUnauthorized, "")
		if p.Code != "unauthenticated" {
			t.Errorf("token %q: code %q", tok, p.Code)
		}
	}
	if r := e.apiCall("", "GET", "/api/v1/tickets", nil); !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Error("401 without WWW-Authenticate: Bearer")
	}

	// Create three tickets; list newest first, two per page.
	var ids []int64
	for i, email := range []string{"ann@example.net", "bob@example.net", "ann@example.net"} {
		r := e.apiCall(orgToken, "POST", "/api/v1/tickets", map[string]string{"customer_name": "Customer " + strconv.Itoa(i),
			"customer_email": email, "query": "Question " + strconv.Itoa(i)})
		wantStatus(t, r, http.StatusCreated)
		var tk apiTicketJSON
		decode(t, r, &tk)
		if tk.Status != "open" || tk.Priority != "normal" || tk.AssigneeID != nil || tk.Tags == nil || tk.CreatedAt == "" ||
			r.header.Get("Location") != "/api/v1/tickets/"+strconv.FormatInt(tk.ID, 10) {
			t.Fatalf("created %+v (Location %q)", tk, r.header.Get("Location"))
		}
		ids = append(ids, tk.ID)
	}
	var pg struct {
		Data       []apiTicketJSON `json:"data"`
		NextCursor *string         `json:"next_cursor"`
	}
	decode(t, e.apiCall(orgToken, "GET", "/api/v1/tickets?limit=2", nil), &pg)
	if len(pg.Data) != 2 || pg.Data[0].ID != ids[2] || pg.Data[1].ID != ids[1] || pg.NextCursor == nil {
		t.Fatalf("first page: %+v", pg)
	}
	decode(t, e.apiCall(orgToken, "GET", "/api/v1/tickets?limit=2&cursor="+*pg.NextCursor, nil), &pg)
	if len(pg.Data) != 1 || pg.Data[0].ID != ids[0] || pg.NextCursor != nil {
		t.Fatalf("second page: %+v", pg)
	}

	// Maria's token acts as Maria: her answer takes the ticket; the organization's token notes,
	// tags, sets priority; filters find it.
	tid := strconv.FormatInt(ids[0], 10)
	r = e.apiCall(mariaToken, "POST", "/api/v1/tickets/"+tid+"/messages", map[string]string{"body": "On it."})
	wantStatus(t, r, http.StatusCreated)
	var msg struct {
		ID        int64   `json:"id"`
		Sender    string  `json:"sender"`
		AgentName *string `json:"agent_name"`
	}
	decode(t, r, &msg)
	if msg.Sender != "agent" || msg.AgentName == nil || *msg.AgentName != "Maria Agent" {
		t.Fatalf("Maria's message: %+v", msg)
	}
	wantStatus(t, e.apiCall(orgToken, "POST", "/api/v1/tickets/"+tid+"/notes", map[string]string{"body": "VIP @maria.agent"}), http.StatusCreated)
	wantStatus(t, e.apiCall(orgToken, "POST", "/api/v1/tickets/"+tid+"/tags", map[string]any{"tags": []string{"VIP", "billing"}}), http.StatusOK)
	r = e.apiCall(orgToken, "POST", "/api/v1/tickets/"+tid+"/priority", map[string]string{"priority": "urgent"})
	var tk apiTicketJSON
	decode(t, r, &tk)
	if tk.Priority != "urgent" || strings.Join(tk.Tags, ",") != "billing,vip" || tk.AssigneeID == nil || *tk.AssigneeID != 1 {
		t.Fatalf("after Maria's answer, tags and priority: %+v", tk)
	}
	decode(t, e.apiCall(orgToken, "GET", "/api/v1/tickets?assignee_id=1&tag=VIP&priority=urgent&status=open", nil), &pg)
	if len(pg.Data) != 1 || pg.Data[0].ID != ids[0] {
		t.Fatalf("filtered: %+v", pg)
	}
	decode(t, e.apiCall(orgToken, "GET", "/api/v1/tickets?assignee_id=none", nil), &pg)
	if len(pg.Data) != 2 {
		t.Fatalf("unassigned: %+v", pg)
	}

	// On the customer's behalf; pending then the customer's message reopens it.
	wantStatus(t, e.apiCall(orgToken, "POST", "/api/v1/tickets/"+tid+"/status", map[string]string{"status": "pending"}), http.StatusOK)
	r = e.apiCall(orgToken, "POST", "/api/v1/tickets/"+tid+"/messages", map[string]string{"body": "Any news?", "as": "customer"})
	wantStatus(t, r, http.StatusCreated)
	decode(t, r, &msg)
	if msg.Sender != "customer" {
		t.Fatalf("customer's message: %+v", msg)
	}
	decode(t, e.apiCall(orgToken, "GET", "/api/v1/tickets/"+tid, nil), &tk)
	if tk.Status != "open" {
		t.Fatalf("after the customer's message: %+v", tk)
	}
	var msgs struct {
		Data []struct {
			ID     int64  `json:"id"`
			Sender string `json:"sender"`
		} `json:"data"`
		NextCursor *string `json:"next_cursor"`
	}
	decode(t, e.apiCall(mariaToken, "GET", "/api/v1/tickets/"+tid+"/messages", nil), &msgs)
	var senders []string
	for _, m := range msgs.Data {
		senders = append(senders, m.Sender)
	}
	if got := strings.Join(senders, ","); got != "customer,activity,agent,note,activity,activity,activity,customer,activity" {
		t.Fatalf("messages: %s", got)
	}
	decode(t, e.apiCall(mariaToken, "GET", "/api/v1/tickets/"+tid+"/messages?limit=2&after="+strconv.FormatInt(msgs.Data[6].ID, 10), nil), &msgs)
	if len(msgs.Data) != 2 || msgs.Data[0].Sender != "customer" || msgs.NextCursor == nil {
		t.Fatalf("messages after a cursor: %+v", msgs)
	}
	// The ticket and its messages show on the web page too.
	if r := maria.browser.get("/agent/acme/talk/" + strconv.FormatInt(tk.ConversationID, 10)); !r.has("Any news?") || !r.has("On it.") {
		t.Error("the talk page lacks the API's messages")
	}

	// Assignment: to nobody, to an unknown agent (422 on assignee_id).
	r = e.apiCall(orgToken, "POST", "/api/v1/tickets/"+tid+"/assignment", `{"assignee_id": null}`)
	decode(t, r, &tk)
	if tk.AssigneeID != nil {
		t.Fatalf("unassigned: %+v", tk)
	}
	wantProblem(t, e.apiCall(orgToken, "POST", "/api/v1/tickets/"+tid+"/assignment", `{"assignee_id": 99}`), 422, "assignee_id")

	// Contacts and agents.
	var contacts struct {
		Data []struct {
			ID    int64  `json:"id"`
			Email string `json:"email"`
		} `json:"data"`
	}
	decode(t, e.apiCall(orgToken, "GET", "/api/v1/contacts?email=ANN@example.net", nil), &contacts)
	if len(contacts.Data) != 1 || contacts.Data[0].Email != "ann@example.net" {
		t.Fatalf("contacts: %+v", contacts)
	}
	var contact struct {
		Tickets []apiTicketJSON `json:"tickets"`
	}
	decode(t, e.apiCall(orgToken, "GET", "/api/v1/contacts/"+strconv.FormatInt(contacts.Data[0].ID, 10), nil), &contact)
	if len(contact.Tickets) != 2 {
		t.Fatalf("Ann's tickets: %+v", contact)
	}
	if r := e.apiCall(orgToken, "GET", "/api/v1/agents", nil); r.status != 200 || !r.has(`"name":"Maria Agent"`) || r.has("password") {
		t.Fatalf("agents: %d %s", r.status, r.body)
	}

	// Close; a message to a closed ticket is a conflict.
	wantStatus(t, e.apiCall(orgToken, "POST", "/api/v1/tickets/"+tid+"/status", map[string]string{"status": "closed"}), http.StatusOK)
	wantProblem(t, e.apiCall(mariaToken, "POST", "/api/v1/tickets/"+tid+"/messages", map[string]string{"body": "late"}), 409, "")

	// Revocation is immediate; the list shows it used and revoked; the audit log has both.
	if r := o.browser.get("/dash/api"); !r.has("last used") {
		t.Error("the token list does not show a last use")
	}
	m := regexp.MustCompile(`/dash/api/(\d+)/revoke`).FindAllStringSubmatch(o.browser.get("/dash/api").body, -1)
	for _, id := range m {
		wantRedirect(t, o.browser.post("/dash/api/"+id[1]+"/revoke", nil), "/dash/api")
	}
	wantProblem(t, e.apiCall(orgToken, "GET", "/api/v1/tickets", nil), http.StatusUnauthorized, "")
	wantProblem(t, e.apiCall(mariaToken, "GET", "/api/v1/tickets", nil), http.StatusUnauthorized, "")
	r = o.browser.get("/dash/audit?event=api_token")
	if got := strings.Join(auditEvents(r.body), " "); got != "api_token.revoked api_token.revoked api_token.created api_token.created" {
		t.Fatalf("audit: %s", got)
	}
	// Changes through a token are audited as the token's actor.
	if r := o.browser.get("/dash/audit?event=ticket"); !r.has("through API token") {
		t.Error("the reassignment through the API is not attributed to its token")
	}
}

// TestAPIInput: strict JSON (unknown fields, trailing data, wrong types, wrong media type),
// 422 naming the field, 404 for unknown ids, and who may make which token.
func TestAPIInput(t *testing.T) {
	e := newEnv(t)
	o := e.register("acme")
	tok := e.apiToken(o.browser, "t", "")
	valid := `{"customer_name":"Ann","customer_email":"ann@example.net","query":"Hi"}`
	for _, tt := range []struct {
		body, ctype string
		status      int
		field       string
	}{
		{valid + `{}`, "application/json", 400, ""},
		{`[` + valid + `]`, "application/json", 400, ""},
		{`{"customer_name":"Ann"`, "application/json", 400, ""},
		{``, "application/json", 400, ""},
		{valid, "text/plain", 415, ""},
		{valid, "", 415, ""},
		{`{"customer_name":"Ann","customer_email":"ann@example.net","query":"Hi","sender":"agent"}`, "application/json", 422, "sender"},
		{`{"customer_name":7,"customer_email":"ann@example.net","query":"Hi"}`, "application/json", 422, "customer_name"},
		{`{"customer_name":"","customer_email":"ann@example.net","query":"Hi"}`, "application/json", 422, "customer_name"},
		{`{"customer_name":"Ann\u200b","customer_email":"ann@example.net","query":"Hi"}`, "application/json", 422, "customer_name"},
		{`{"customer_name":"Ann","customer_email":"ann","query":"Hi"}`, "application/json", 422, "customer_email"},
		{`{"customer_name":"Ann","customer_email":"ann@example.net","query":"Hi\u0000"}`, "application/json", 422, "query"},
		{`{"customer_name":"Ann","customer_email":"ann@example.net","query":"` + strings.Repeat("x", 5001) + `"}`, "application/json", 422, "query"},
		{valid, "application/json; charset=utf-8", 201, ""},
	} {
		req := httptest.NewRequest("POST", "/api/v1/tickets", strings.NewReader(tt.body))
		if tt.ctype != "" {
			req.Header.Set("Content-Type", tt.ctype)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := e.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		r := response{status: res.StatusCode, header: res.Header, body: string(b)}
		if tt.status == 201 {
			wantStatus(t, r, 201)
			continue
		}
		wantProblem(t, r, tt.status, tt.field)
	}
	for _, tt := range []struct{ method, path, body, field string }{
		{"GET", "/api/v1/tickets?status=later", "", "status"},
		{"GET", "/api/v1/tickets?priority=meh", "", "priority"},
		{"GET", "/api/v1/tickets?limit=0", "", "limit"},
		{"GET", "/api/v1/tickets?limit=101", "", "limit"},
		{"GET", "/api/v1/tickets?cursor=01", "", "cursor"},
		{"GET", "/api/v1/tickets?assignee_id=x", "", "assignee_id"},
		{"GET", "/api/v1/tickets?tag=a,b", "", "tag"},
		{"GET", "/api/v1/contacts?email=x", "", "email"},
		{"GET", "/api/v1/tickets/1/messages?after=-1", "", "after"},
		{"POST", "/api/v1/tickets/1/status", `{"status":"later"}`, "status"},
		{"POST", "/api/v1/tickets/1/status", `{"status":"snoozed"}`, "snooze_until"},
		{"POST", "/api/v1/tickets/1/status", `{"status":"snoozed","snooze_until":"tomorrow"}`, "snooze_until"},
		{"POST", "/api/v1/tickets/1/status", `{"status":"snoozed","snooze_until":"2001-01-01T00:00:00Z"}`, "snooze_until"},
		{"POST", "/api/v1/tickets/1/priority", `{"priority":"meh"}`, "priority"},
		{"POST", "/api/v1/tickets/1/tags", `{"tags":["a,b"]}`, "tags"},
		{"POST", "/api/v1/tickets/1/tags", `{}`, "tags"},
		{"POST", "/api/v1/tickets/1/assignment", `{"assignee_id":"1"}`, "assignee_id"},
		{"POST", "/api/v1/tickets/1/assignment", `{"assignee_id":-1}`, "assignee_id"},
		{"POST", "/api/v1/tickets/1/messages", `{"body":""}`, "body"},
		{"POST", "/api/v1/tickets/1/messages", `{"body":"x","as":"agent2"}`, "as"},
		{"POST", "/api/v1/tickets/1/notes", `{"body":"x","as":"customer"}`, "as"},
	} {
		var body any
		if tt.body != "" {
			body = tt.body
		}
		wantProblem(t, e.apiCall(tok, tt.method, tt.path, body), 422, tt.field)
	}
	for _, path := range []string{"/api/v1/tickets/999", "/api/v1/tickets/999/messages", "/api/v1/contacts/999", "/api/v1/tickets/x",
		"/api/v1/nope", "/api/v2/tickets"} {
		wantProblem(t, e.apiCall(tok, "GET", path, nil), 404, "")
	}
	wantProblem(t, e.apiCall(tok, "POST", "/api/v1/tickets/999/notes", `{"body":"x"}`), 404, "")

	// An admin makes tokens acting as agents, not as the organization.
	maria := e.onboard(o, "Maria Admin")
	o.browser.get("/dash")
	wantRedirect(t, o.browser.post("/agents/1/role", form("role", "admin")), "/dash")
	maria.browser.get("/dash/api")
	if r := maria.browser.post("/dash/api", form("name", "x", "agent_id", "")); r.status != 422 || !r.has("agent_id-error") {
		t.Fatalf("an admin's organization token: %d", r.status)
	}
	if r := maria.browser.post("/dash/api", form("name", "x", "agent_id", "77")); r.status != 422 {
		t.Fatalf("a token for an unknown agent: %d", r.status)
	}
	if r := maria.browser.post("/dash/api", form("name", "", "agent_id", "1")); r.status != 422 || !r.has("name-error") {
		t.Fatalf("a token without a name: %d", r.status)
	}
	mt := e.apiToken(maria.browser, "maria", "1")
	wantStatus(t, e.apiCall(mt, "GET", "/api/v1/agents", nil), 200)
	// Removing the agent ends its tokens.
	o.browser.get("/dash")
	wantRedirect(t, o.browser.post("/agents/1/remove", nil), "/dash")
	wantProblem(t, e.apiCall(mt, "GET", "/api/v1/agents", nil), 401, "")
}

// TestAPIRateLimit: a token past its budget gets 429 with Retry-After; another token of the
// same organization is not affected.
func TestAPIRateLimit(t *testing.T) {
	cfg := testConfig()
	cfg.APIRateLimit = 5
	cfg.RateWindow = time.Minute
	e := newEnv(t, cfg)
	o := e.register("acme")
	a, b := e.apiToken(o.browser, "a", ""), e.apiToken(o.browser, "b", "")
	for range 5 {
		wantStatus(t, e.apiCall(a, "GET", "/api/v1/agents", nil), 200)
	}
	r := e.apiCall(a, "GET", "/api/v1/agents", nil)
	wantProblem(t, r, http.StatusTooManyRequests, "")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	wantStatus(t, e.apiCall(b, "GET", "/api/v1/agents", nil), 200)
}
