package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// client is a plain HTTP client with its own cookies: it prepares data through the public
// forms (as a browser without JavaScript would) when a test is not about those steps.
type client struct {
	t    *testing.T
	http *http.Client
}

func newClient(t *testing.T) *client {
	t.Helper()
	requireSetup(t)
	jar, _ := cookiejar.New(nil)
	return &client{t: t, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var (
	csrfMetaRE        = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)"`)
	initialPasswordRE = regexp.MustCompile(`id="agent-initial-password"[^>]*>([^<]+)<`)
	takeRE            = regexp.MustCompile(`/agent/[a-z0-9]+/tickets/(\d+)/engage`)
)

// get fetches path and returns the status and the body.
func (c *client) get(path string) (int, string) {
	c.t.Helper()
	res, err := c.http.Get(baseURL + path)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// post submits a form from page (whose CSRF token it uses) to action and returns the status,
// the Location and the body.
func (c *client) post(page, action string, form url.Values) (int, string, string) {
	c.t.Helper()
	_, body := c.get(page)
	m := csrfMetaRE.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s", page)
	}
	form.Set("_csrf", m[1])
	res, err := c.http.PostForm(baseURL+action, form)
	if err != nil {
		c.t.Fatalf("POST %s: %v", action, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

// mustPost is post that must answer want (and, for a 303, returns where it leads).
func (c *client) mustPost(page, action string, want int, kv ...string) (string, string) {
	c.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	status, loc, body := c.post(page, action, form)
	if status != want {
		c.t.Fatalf("POST %s = %d, want %d\n%.1500s\nserver log:\n%s", action, status, want, body, serverLogTail())
	}
	return loc, body
}

// seedOrg registers an organization and returns its logged-in client.
func seedOrg(t *testing.T, name, user, password string) *client {
	t.Helper()
	c := newClient(t)
	c.mustPost("/register", "/register", http.StatusSeeOther, "name", name, "website", "https://"+user+".example",
		"username", user, "email", "owner@"+user+".example", "password", password, "password_repeat", password)
	return c
}

// seedAgent onboards an agent, logs it in and sets its password; it returns the agent's client.
func seedAgent(t *testing.T, org *client, user, fullName, email, password string) *client {
	t.Helper()
	_, body := org.mustPost("/dash", "/agents", http.StatusOK, "full_name", fullName, "email", email)
	m := initialPasswordRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no initial password shown")
	}
	a := newClient(t)
	a.mustPost("/agent/"+user+"/login", "/agent/"+user+"/login", http.StatusSeeOther, "email", email, "password", m[1])
	a.mustPost("/agent/"+user+"/password", "/agent/"+user+"/password", http.StatusSeeOther,
		"password", password, "password_repeat", password)
	return a
}

// seedTicket opens a ticket as a new customer and returns the customer's client and page.
func seedTicket(t *testing.T, user, name, email, question string) (*client, string) {
	t.Helper()
	c := newClient(t)
	loc, _ := c.mustPost("/"+user+"/open-ticket", "/"+user+"/open-ticket", http.StatusSeeOther,
		"customer_name", name, "customer_email", email, "query", question)
	return c, loc
}

// seedTake makes the agent take the ticket that has waited longest in its Unassigned queue
// (the queue's first row) and returns the ticket's page.
func seedTake(t *testing.T, agent *client, user string) string {
	t.Helper()
	_, body := agent.get("/agent/" + user + "/dash?view=unassigned")
	first := takeRE.FindString(body)
	if first == "" {
		t.Fatalf("no unassigned ticket for %s", user)
	}
	loc, _ := agent.mustPost("/agent/"+user+"/dash", first, http.StatusSeeOther)
	return loc
}

// seedSay sends a message from a conversation page (talk page or customer page).
func seedSay(t *testing.T, c *client, page, message string) {
	t.Helper()
	c.mustPost(page, page+"/messages", http.StatusSeeOther, "message", message)
}

// ticketIDOf is the ticket id in a talk page's close form.
func ticketIDOf(t *testing.T, c *client, talk string) string {
	t.Helper()
	_, body := c.get(talk)
	m := regexp.MustCompile(`/tickets/(\d+)/close`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no close form on %s", talk)
	}
	return m[1]
}

// seedClose closes the ticket of a talk page.
func seedClose(t *testing.T, agent *client, user, talk string) {
	t.Helper()
	agent.mustPost(talk, "/agent/"+user+"/tickets/"+ticketIDOf(t, agent, talk)+"/close", http.StatusSeeOther)
}

// seedRate rates a closed ticket from the customer's page.
func seedRate(t *testing.T, c *client, page, rating string) {
	t.Helper()
	c.mustPost(page, page+"/rating", http.StatusSeeOther, "rating", rating)
}

// seedNote adds an internal note from a ticket's page (an agent's or the owner's).
func seedNote(t *testing.T, c *client, page, note string) {
	t.Helper()
	c.mustPost(page, page+"/notes", http.StatusSeeOther, "note", note)
}

// seedTicketAction posts one of the ticket's side forms (assign, status, priority, tags) from
// its page talk; the action URL is the one the page's form names.
func seedTicketAction(t *testing.T, c *client, talk, action string, kv ...string) {
	t.Helper()
	_, body := c.get(talk)
	m := regexp.MustCompile(`action="([^"]*/tickets/\d+/` + action + `)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s form on %s", action, talk)
	}
	c.mustPost(talk, m[1], http.StatusSeeOther, kv...)
}

// seedCanned saves a canned reply as the owner (or an admin agent).
func seedCanned(t *testing.T, manager *client, title, body string) {
	t.Helper()
	manager.mustPost("/dash/canned", "/dash/canned", http.StatusSeeOther, "title", title, "body", body)
}

// agentIDOf is the id of the agent named fullName, from the assignee list of a ticket's page.
func agentIDOf(t *testing.T, c *client, talk, fullName string) string {
	t.Helper()
	_, body := c.get(talk)
	m := regexp.MustCompile(`<option value="(\d+)"[^>]*>` + regexp.QuoteMeta(fullName) + `</option>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("%s is not in the assignee list of %s", fullName, talk)
	}
	return m[1]
}

// slug turns a name into an email local part.
func slug(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, " ", "."))
}
