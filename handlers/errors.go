package handlers

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// errorPageData is the error page.
type errorPageData struct {
	Page
	Status  int
	Message string
}

var kindStatus = map[apperr.Kind]int{
	apperr.NotFound:     fiber.StatusNotFound,
	apperr.Invalid:      fiber.StatusUnprocessableEntity,
	apperr.Conflict:     fiber.StatusConflict,
	apperr.Unauthorized: fiber.StatusUnauthorized,
	apperr.Unavailable:  fiber.StatusServiceUnavailable,
	apperr.Forbidden:    fiber.StatusForbidden,
	apperr.TooLarge:     fiber.StatusRequestEntityTooLarge,
}

var statusMessage = map[int]string{
	fiber.StatusNotFound:              "We could not find that page.",
	fiber.StatusMethodNotAllowed:      "That action is not allowed here.",
	fiber.StatusRequestEntityTooLarge: "That request is too large.",
	fiber.StatusForbidden:             "This form has expired. Please reload the page and try again.",
	fiber.StatusTooManyRequests:       "Too many attempts. Please wait a moment and try again.",
	fiber.StatusServiceUnavailable:    "This service is unavailable right now. Please try again in a moment.",
	fiber.StatusBadRequest:            "The request could not be understood.",
}

// handleError is the one place errors become responses. Expected errors (apperr kinds and
// Fiber's own) get their status and message; anything else is logged with the request id and
// the user sees a generic message, never the error text.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status := fiber.StatusInternalServerError
	message := "Something went wrong on our side. Please try again."
	var fe *fiber.Error
	switch {
	case errors.As(err, &fe):
		status = fe.Code
		if m, ok := statusMessage[status]; ok {
			message = m
		} else if status < 500 {
			message = "The request could not be completed."
		}
	case apperr.KindOf(err) != apperr.Internal:
		e, _ := apperr.As(err)
		status, message = kindStatus[e.Kind], sentence(e)
		if e.Kind == apperr.Unavailable {
			s.log.Warn("unavailable", "path", redactPath(c.Path()), "request_id", requestID(c), "err", err)
		}
	}
	if status >= 500 && status != fiber.StatusServiceUnavailable {
		s.log.Error("request failed", "method", c.Method(), "path", redactPath(c.Path()), "status", status,
			"request_id", requestID(c), "err", err)
	}
	if status == fiber.StatusServiceUnavailable {
		c.Set(fiber.HeaderRetryAfter, "5")
	}
	return s.errorPage(c, status, message)
}

// errorPage renders the error page (or, for htmx, just the message) with status.
func (s *Server) errorPage(c *fiber.Ctx, status int, message string) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if isHTMX(c) || routeKind(c).poll {
		return s.fragment(c, status, "partials/error", errorPageData{Status: status, Message: message})
	}
	title := "Error"
	if status == fiber.StatusNotFound {
		title = "Not found"
	}
	if err := s.page(c, status, "pages/error", &errorPageData{Page: Page{Title: title}, Status: status, Message: message}); err != nil {
		// The error page itself failed: fall back to plain text.
		s.log.Error("render error page", "err", err)
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(status).SendString(fmt.Sprintf("%d %s", status, message))
	}
	return nil
}

// csrfFailed answers a POST without a valid CSRF token.
func (s *Server) csrfFailed(c *fiber.Ctx, err error) error {
	s.log.Warn("csrf check failed", "path", redactPath(c.Path()), "request_id", requestID(c), "err", err)
	return s.errorPage(c, fiber.StatusForbidden, statusMessage[fiber.StatusForbidden])
}

func (s *Server) logPanic(c *fiber.Ctx, e any) {
	s.log.Error("panic", "path", redactPath(c.Path()), "request_id", requestID(c), "panic", fmt.Sprint(e))
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals("requestid").(string)
	return id
}
