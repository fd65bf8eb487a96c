package handlers

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/handlers/upload"
	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// pageMessages bounds how many messages a conversation page shows at first; older ones stay
// in the export.
const pageMessages = 200

// Chat is the message list and composer shared by the three conversation pages (organization,
// agent, customer). The list polls PageURL + "/messages".
type Chat struct {
	Ticket   desk.Ticket
	Messages []desk.Message
	// May says what the viewer may do with the ticket.
	May desk.May
	// Loc is the organization's time zone.
	Loc *time.Location
	// PageURL is the conversation page; polls and sends go to PageURL + "/messages".
	PageURL string
	// Viewer is "org", "agent" or "customer": whose messages show as "mine".
	Viewer string
	// State is the page's view state (viewState), which its poll sends back.
	State string
	// Extras is what the email channel adds to the messages (the team's pages; nil else).
	Extras *MessageExtras
	// CanSend shows the composer.
	CanSend      bool
	Draft        string
	SendError    string
	MessageLimit int
	PollEvery    string
	// MaxFiles and MaxFileSize are the composer's file limits, for its hint.
	MaxFiles    int
	MaxFileSize string
}

// messagesFragment is what a poll or a send answers: only new messages, and for the team who
// else is on the page when that changed (Presence, swapped out of band).
type messagesFragment struct {
	Messages []desk.Message
	Loc      *time.Location
	Presence *presence
	// Extras is always nil here: a fragment's messages are new, their emails not sent yet.
	Extras *MessageExtras
	// PageURL is the conversation page, under which the messages' files are served.
	PageURL string
}

type composerError struct {
	Message string
}

// chat loads the conversation the request's actor names (a customer its own, others
// conversation convID) for a page.
func (s *Server) chat(c *fiber.Ctx, convID int64, pageURL, viewer string) (Chat, error) {
	org := currentOrg(c)
	th, err := s.desk.Thread(c.UserContext(), org, actor(c), convID, pageMessages)
	if err != nil {
		return Chat{}, err
	}
	settings, err := s.desk.Settings(c.UserContext(), org)
	if err != nil {
		return Chat{}, err
	}
	return Chat{Ticket: th.Ticket, Messages: th.Messages, May: th.May, Loc: settings.Location, PageURL: pageURL,
		Viewer: viewer, State: viewState(actor(c), th.Ticket.Status, th.Ticket.AssigneeID), CanSend: th.May.Write && th.Ticket.Status != desk.StatusClosed, MessageLimit: s.cfg.MessageLimit,
		PollEvery: strconv.Itoa(int(s.cfg.PollInterval.Milliseconds())) + "ms",
		MaxFiles:  s.desk.FileLimits().MaxFiles, MaxFileSize: upload.FormatBytes(s.desk.FileLimits().MaxFileBytes)}, nil
}

// pollMessages answers a message poll: 204 when nothing is newer than ?after= (the desk
// answers that from memory: no query, no rendering), else the new messages. If the page says
// which ticket state it shows (?state=) and the ticket moved on (an agent engaged, the ticket
// closed), HX-Refresh makes htmx reload the page.
func (s *Server) pollMessages(c *fiber.Ctx, convID int64, oob *presence) error {
	after, ok := parseAfter(c.Query("after"))
	if !ok {
		return apperr.Field(apperr.Invalid, "after", apperr.CodeInvalid)
	}
	org := currentOrg(c)
	u, err := s.desk.Poll(c.UserContext(), org, actor(c), convID, after, pageMessages)
	if err != nil {
		return err
	}
	if seen := c.Query("state"); seen != "" && seen != viewState(actor(c), u.Status, u.AssigneeID) {
		c.Set("HX-Refresh", "true")
		return c.SendStatus(fiber.StatusNoContent)
	}
	if len(u.Messages) == 0 && oob == nil {
		return c.SendStatus(fiber.StatusNoContent)
	}
	settings, err := s.desk.Settings(c.UserContext(), org)
	if err != nil {
		return err
	}
	return s.fragment(c, fiber.StatusOK, "partials/poll", messagesFragment{Messages: u.Messages, Loc: settings.Location, Presence: oob,
		PageURL: strings.TrimSuffix(strings.TrimSuffix(c.Path(), "/"), "/messages")})
}

// viewState is what a conversation page says it shows (its poll's ?state=), as far as the
// viewer's page depends on it: for the team the ticket's status and assignee (they decide the
// controls and the composer); for the customer only whether it is closed (the composer gives
// way to the rating), so that a customer's draft is not lost to a reload when an agent takes
// the ticket. When it moves on, the poll makes the page reload.
func viewState(a desk.Actor, status string, assignee int64) string {
	if a.Kind == desk.Customer {
		if status == desk.StatusClosed {
			return "closed"
		}
		return "open"
	}
	return status + "." + strconv.FormatInt(assignee, 10)
}

// sendMessage validates and stores a message as the request's actor (the desk decides the
// sender from it, never the form). htmx gets the new message to append; a plain form post is
// sent back to the page. On failure rerender shows the page again with the reason. A
// multipart POST may carry files (sendWithFiles).
func (s *Server) sendMessage(c *fiber.Ctx, convID int64, pageURL string,
	rerender func(draft, msg string, status int) error) error {
	if isMultipart(c) {
		return s.sendWithFiles(c, convID, pageURL, rerender)
	}
	body, fail := checkMessage(formValue(c, "message"), s.cfg.MessageLimit)
	if fail != "" {
		return s.refuseSend(c, body, fail, fiber.StatusUnprocessableEntity, rerender)
	}
	msg, err := s.desk.AddMessage(c.UserContext(), currentOrg(c), actor(c), convID, body)
	if err != nil {
		e, ok := apperr.As(err)
		if !ok || (e.Kind != apperr.Conflict && e.Kind != apperr.Forbidden) {
			return err
		}
		return s.refuseSend(c, body, sentence(e), kindStatus[e.Kind], rerender)
	}
	return s.sent(c, msg, pageURL)
}

// refuseSend answers a message that was not stored: htmx gets the reason in the composer,
// a plain post the page again with the draft and the reason.
func (s *Server) refuseSend(c *fiber.Ctx, draft, fail string, status int, rerender func(draft, msg string, status int) error) error {
	if isHTMX(c) {
		c.Set("HX-Retarget", "#composer-error")
		c.Set("HX-Reswap", "innerHTML")
		return s.fragment(c, status, "partials/composer_error", composerError{Message: fail})
	}
	return rerender(draft, fail, status)
}

// sent answers a stored message: htmx gets the message to append, a plain post 303 to it.
func (s *Server) sent(c *fiber.Ctx, msg desk.Message, pageURL string) error {
	if isHTMX(c) {
		settings, err := s.desk.Settings(c.UserContext(), currentOrg(c))
		if err != nil {
			return err
		}
		return s.fragment(c, fiber.StatusOK, "partials/messages", messagesFragment{Messages: []desk.Message{msg},
			Loc: settings.Location, PageURL: pageURL})
	}
	return c.Redirect(pageURL+"#msg-"+strconv.FormatInt(msg.ID, 10), fiber.StatusSeeOther)
}

// parseAfter parses a poll's ?after= cursor: a message id in plain decimal (no sign, no
// leading zeros), 0 (everything) when absent.
func parseAfter(s string) (int64, bool) {
	if s == "" {
		return 0, true
	}
	after, err := strconv.ParseInt(s, 10, 64)
	if err != nil || after < 0 || strconv.FormatInt(after, 10) != s {
		return 0, false
	}
	return after, true
}

// checkMessage normalises a chat message (trimmed, CRLF → LF; a copy, safe to keep) and
// checks it: valid UTF-8 without control characters other than tab and newline (input.go),
// 1–limit characters. fail is the reason it is refused, or "".
func checkMessage(raw string, limit int) (body, fail string) {
	body = normalizeNewlines(strings.Clone(strings.TrimSpace(raw)))
	switch n := utf8.RuneCountInString(body); {
	case !utf8.ValidString(body) || hasForbiddenControl(body):
		fail = "The message contains invalid characters."
	case n == 0:
		fail = "Write a message first."
	case n > limit:
		fail = "The message is too long: at most " + strconv.Itoa(limit) + " characters."
	}
	return body, fail
}

// normalizeNewlines turns CRLF and lone CR into LF. (Replacing only "\r\n" would not be
// idempotent: it turns "\r\r\n" into "\r\n".)
func normalizeNewlines(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}
