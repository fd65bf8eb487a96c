package handlers

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/handlers/apitoken"
	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// FuzzParseNewTicket checks the API's JSON input both ways. Accepted ⇒ valid: what
// parseNewTicket returns passes the open-ticket form's own rules (a name, an email address, a
// message within the limit), trimmed; anything refused is an Invalid apperr. Valid ⇒ accepted:
// valid values, encoded as JSON, parse back to exactly themselves.
func FuzzParseNewTicket(f *testing.F) {
	for _, s := range []string{
		`{"customer_name":"Ann","customer_email":"ann@example.net","query":"Hi"}`,
		`{"customer_name":"Ann","customer_email":"ann@example.net","query":"Hi","sender":"agent"}`,
		`{"customer_name":"Ann","customer_name":"Bob","customer_email":"a@b.c","query":"x"}`,
		`{"customer_name":7}`, `[]`, `{}`, `{"query":"a\u0000b"}`, `{"customer_name":"  Ann  ","customer_email":" ANN@EXAMPLE.NET ","query":" q\r\n "}`,
		`{"customer_name":"Ann"} {}`, `null`, `"x"`, `{"customer_name":"\ud800"}`,
	} {
		f.Add([]byte(s), "Ann", "ann@example.net", "Where is my parcel?")
	}
	f.Add([]byte(`{}`), "Zoë Ω", "zoe@example.org", "line one\nline two")
	f.Fuzz(func(t *testing.T, body []byte, name, email, query string) {
		const limit = 200
		nt, err := parseNewTicket(body, limit)
		if err != nil {
			if e, ok := apperr.As(err); !ok || e.Kind != apperr.Invalid {
				t.Fatalf("parseNewTicket(%q) error %v", body, err)
			}
		} else {
			if checkName(nt.CustomerName, "n", 1, 100) != "" || checkEmail(nt.CustomerEmail) != "" ||
				strings.TrimSpace(nt.CustomerName) != nt.CustomerName {
				t.Fatalf("accepted %q as %+v", body, nt)
			}
			if body, fail := checkMessage(nt.Query, limit); fail != "" || body != nt.Query {
				t.Fatalf("accepted %q with query %q (%s)", body, nt.Query, fail)
			}
		}
		// Valid values round-trip.
		name, email, query = strings.TrimSpace(name), strings.ToLower(strings.TrimSpace(email)), strings.TrimSpace(query)
		if checkName(name, "n", 1, 100) != "" || checkText(email, "e", 1, 254) != "" || checkEmail(email) != "" {
			return
		}
		if q, fail := checkMessage(query, limit); fail != "" || q != query || !utf8.ValidString(query) {
			return
		}
		b, err := json.Marshal(newTicketInput{CustomerName: name, CustomerEmail: email, Query: query})
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseNewTicket(b, limit)
		if err != nil || got.CustomerName != name || got.CustomerEmail != email || got.Query != query {
			t.Fatalf("valid %s parsed as %+v, %v", b, got, err)
		}
	})
}

// FuzzBearer checks the Authorization header reader both ways. Accepted ⇒ valid: the token is
// non-empty visible ASCII no longer than a token, and the header is "Bearer" (any case), spaces
// and exactly it. Valid ⇒ accepted: any token apitoken makes, after "Bearer " in any case,
// comes back unchanged and parses to its organization.
func FuzzBearer(f *testing.F) {
	key, _ := apitoken.Key([]byte("0123456789abcdef0123456789abcdef"))
	for _, s := range []string{"Bearer abc", "bearer  abc", "Basic abc", "Bearer", "Bearer ", "Bearer a b", "BEARER tdk_1_x",
		"Bearer \x00", "Bearer tdk_1_" + strings.Repeat("A", 54)} {
		f.Add(s, int64(1), false)
	}
	f.Fuzz(func(t *testing.T, header string, org int64, upper bool) {
		if tok, ok := bearer(header); ok {
			if tok == "" || len(tok) > apitoken.MaxLength || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
				t.Fatalf("bearer(%q) = %q", header, tok)
			}
			scheme, rest, _ := strings.Cut(header, " ")
			if !strings.EqualFold(scheme, "bearer") || strings.TrimLeft(rest, " ") != tok {
				t.Fatalf("bearer(%q) = %q", header, tok)
			}
		}
		if org <= 0 {
			return
		}
		tok := apitoken.New(key, org)
		scheme := "Bearer"
		if upper {
			scheme = "BEARER"
		}
		got, ok := bearer(scheme + " " + tok)
		parsed, err := apitoken.Parse(got)
		if !ok || got != tok || err != nil || parsed.OrgID != org || !parsed.Valid(key) {
			t.Fatalf("bearer(%q) = %q, %v; parsed %+v, %v", scheme+" "+tok, got, ok, parsed, err)
		}
	})
}
