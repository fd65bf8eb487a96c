package handlers

// The JSON API under /api/v1: its own kind of route (no cookies, no CSRF: a bearer token is
// the credential and is never sent by a browser on its own), the token check that chooses the
// tenant, per-token rate limits, strict JSON input and RFC 9457 problem answers.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/tenantdesk/tenantdesk/handlers/apitoken"
	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// problemType is the media type of error answers (RFC 9457).
const problemType = "application/problem+json"

// Codes of the API's own errors.
const (
	codeUnauthenticated apperr.Code = "unauthenticated"
	codeBadJSON         apperr.Code = "bad_json"
	codeUnknownField    apperr.Code = "unknown_field"
	codeMediaType       apperr.Code = "unsupported_media_type"
)

// problem is an RFC 9457 problem detail, with the apperr code and, for invalid input, the
// field it is about.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code,omitempty"`
	Field  string `json:"field,omitempty"`
}

// isAPI reports whether a request is the API's: its route is of the api kind, or, when no
// route matched, its path is under /api/.
func isAPI(c *fiber.Ctx) bool {
	return routeKind(c).api || strings.HasPrefix(c.Path(), "/api/")
}

// problemAnswer answers status with a problem body: detail words it, and err (an apperr, or
// nil) gives the code and field.
func (s *Server) problemAnswer(c *fiber.Ctx, status int, detail string, err error) error {
	p := problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
	if e, ok := apperr.As(err); ok {
		p.Code, p.Field = string(e.Code), e.Field
	}
	if status == fiber.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="tenantdesk API"`)
	}
	b, merr := json.Marshal(p)
	if merr != nil {
		return merr
	}
	c.Set(fiber.HeaderContentType, problemType)
	return c.Status(status).Send(b)
}

// sendJSON answers status with v as JSON.
func sendJSON(c *fiber.Ctx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(status).Send(b)
}

// bearer reads an Authorization header of the Bearer scheme (RFC 6750: the scheme name in any
// case, one or more spaces, the token) and returns the token; ok is false for anything else.
func bearer(header string) (token string, ok bool) {
	scheme, rest, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(rest, " ")
	if token == "" || len(token) > apitoken.MaxLength {
		return "", false
	}
	for i := 0; i < len(token); i++ {
		if token[i] <= ' ' || token[i] >= 0x7f {
			return "", false
		}
	}
	return token, true
}

// requireAPIToken lets through requests with a valid API token and makes its organization the
// request's tenant and its actor (the organization or an agent) the request's actor. A token
// this server did not make (tag check), of an organization that is gone, unknown, revoked or
// of a removed agent is 401; only a token with a valid tag costs a database lookup, in its own
// organization's database.
func (s *Server) requireAPIToken(c *fiber.Ctx) error {
	unauthorized := apperr.New(apperr.Unauthorized, codeUnauthenticated)
	raw, ok := bearer(c.Get(fiber.HeaderAuthorization))
	if !ok {
		return unauthorized
	}
	t, err := apitoken.Parse(raw)
	if err != nil || !t.Valid(s.apiKey) {
		return unauthorized
	}
	org, err := s.catalog.LookupID(c.UserContext(), t.OrgID)
	if apperr.Is(err, apperr.NotFound) {
		return unauthorized
	}
	if err != nil {
		return err
	}
	a, err := s.desk.APIActor(c.UserContext(), org, apitoken.Hash(raw))
	if apperr.Is(err, apperr.Unauthorized) {
		return unauthorized
	}
	if err != nil {
		return err
	}
	c.Locals(orgLocal, org)
	c.Locals(actorLocal, a)
	return c.Next()
}

// apiLimit limits requests per token: APIRateLimit per RateWindow. The counters live in
// memory (an API client is not a login to protect across restarts), per instance.
func (s *Server) apiLimit() fiber.Handler {
	if s.cfg.APIRateLimit <= 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return limiter.New(limiter.Config{
		Max:               s.cfg.APIRateLimit,
		Expiration:        s.cfg.RateWindow,
		LimiterMiddleware: limiter.SlidingWindow{},
		KeyGenerator: func(c *fiber.Ctx) string {
			return "api:" + orgID(c) + ":" + strconv.FormatInt(actor(c).TokenID, 10)
		},
		LimitReached: s.tooMany,
	})
}

// decodeJSON reads body, which must be exactly one JSON object, into v (a pointer to a struct
// of the action's own fields): a syntax error, another JSON value or anything after the object
// is Invalid (codeBadJSON), a field v does not have is Invalid (codeUnknownField) on that
// field, a value of the wrong type Invalid on its field.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 || bytes.TrimSpace(body)[0] != '{' {
		return apperr.New(apperr.Invalid, codeBadJSON)
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return apperr.Field(apperr.Invalid, te.Field, apperr.CodeInvalid)
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return apperr.Field(apperr.Invalid, strings.Trim(name, `"`), codeUnknownField)
		}
		return apperr.New(apperr.Invalid, codeBadJSON)
	}
	if _, err := d.Token(); err != io.EOF {
		return apperr.New(apperr.Invalid, codeBadJSON)
	}
	return nil
}

// readJSON decodes the request body into v (decodeJSON) after checking that it is sent as
// application/json.
func readJSON(c *fiber.Ctx, v any) error {
	body, err := jsonBody(c)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// jsonBody returns the request body, which must be sent as application/json.
func jsonBody(c *fiber.Ctx) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != fiber.MIMEApplicationJSON {
		return nil, apperr.New(apperr.Invalid, codeMediaType)
	}
	return c.Body(), nil
}

// apiError answers an error on an API route as a problem.
func (s *Server) apiError(c *fiber.Ctx, status int, message string, err error) error {
	e, _ := apperr.As(err)
	switch {
	case e != nil && e.Code == codeMediaType:
		return s.problemAnswer(c, fiber.StatusUnsupportedMediaType, "Send the body as application/json.", err)
	case e != nil && e.Code == codeBadJSON:
		return s.problemAnswer(c, fiber.StatusBadRequest, "The body must be one JSON object.", err)
	case e != nil && e.Code == codeUnknownField:
		return s.problemAnswer(c, fiber.StatusUnprocessableEntity, "This field is not known here.", err)
	case e != nil && e.Code == codeUnauthenticated:
		return s.problemAnswer(c, fiber.StatusUnauthorized, "Send a valid API token: Authorization: Bearer <token>.", err)
	case e != nil && e.Field != "":
		message = actionWords(e)
		if w, ok := apiFieldWords[e.Field+"/"+string(e.Code)]; ok {
			message = w
		}
	}
	return s.problemAnswer(c, status, message, err)
}

// apiFieldWords word the field errors the pages word otherwise.
var apiFieldWords = map[string]string{
	"customer_name/invalid":  "customer_name must be 1–100 visible characters on one line.",
	"customer_email/invalid": "customer_email must be an email address, like name@example.com.",
	"query/invalid":          "query must be 1 to the message limit of characters, without control characters.",
	"body/invalid":           "body must be 1 to the message limit of characters, without control characters.",
	"as/invalid":             `as must be "agent" or "customer".`,
	"limit/invalid":          "limit must be a number from 1 to 100.",
	"cursor/invalid":         "cursor must be a next_cursor value from an earlier page.",
	"after/invalid":          "after must be a message id.",
	"assignee_id/invalid":    `assignee_id must be an agent's id or "none".`,
	"contact_id/invalid":     "contact_id must be a contact's id.",
	"email/invalid":          "email must be an email address.",
	"tag/invalid":            "tag must be a tag of at most 32 characters.",
	"name/invalid":           "name must be 1–100 characters.",
}

// apiDocument handles GET /api/v1/openapi.json: the API's OpenAPI 3.1 description.
func (s *Server) apiDocument(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(openAPIDocument)
}
