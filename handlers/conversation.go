package handlers

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/crm"
)

// pageMessages bounds how many messages a conversation page shows at first; older ones stay
// in the export.
const pageMessages = 200

// Chat is the message list and composer shared by the three conversation pages (organization,
// agent, customer). The list polls PageURL + "/messages".
type Chat struct {
	Ticket   crm.Ticket
	Messages []crm.Message
	// PageURL is the conversation page; polls and sends go to PageURL + "/messages".
	PageURL string
	// Viewer is "org", "agent" or "customer": whose messages show as "mine".
	Viewer string
	// CanSend shows the composer.
	CanSend      bool
	Draft        string
	SendError    string
	MessageLimit int
	PollEvery    string
}

// messagesFragment is what a poll or a send answers: only new messages.
type messagesFragment struct {
	Messages []crm.Message
}

type composerError struct {
	Message string
}

func (s *Server) chat(c *fiber.Ctx, store *crm.Store, t crm.Ticket, pageURL, viewer string) (Chat, error) {
	ch := Chat{Ticket: t, PageURL: pageURL, Viewer: viewer, MessageLimit: s.cfg.MessageLimit,
		PollEvery: strconv.Itoa(int(s.cfg.PollInterval.Milliseconds())) + "ms"}
	if t.ConversationID != 0 {
		msgs, err := store.LastMessages(c.UserContext(), t.ConversationID, pageMessages)
		if err != nil {
			return ch, err
		}
		ch.Messages = msgs
	}
	return ch, nil
}

// pollMessages answers a message poll from the state found by one indexed lookup: 204 when
// nothing is newer than ?after= (no rendering, no further query), else the new messages. If
// the page says which ticket state it shows (?state=) and the ticket moved on (an agent
// engaged, the ticket closed), HX-Refresh makes htmx reload the page.
// The state comes from memory while nothing was written (hotcache.go), so an idle poll
// touches no database; the tenant database is acquired only when there is something to send.
func (s *Server) pollMessages(c *fiber.Ctx, st crm.PollState) error {
	after, ok := parseAfter(c.Query("after"))
	if !ok {
		return apperr.Field("after", "after must be a message id.")
	}
	if seen := c.Query("state"); seen != "" && seen != st.Status {
		c.Set("HX-Refresh", "true")
		return c.SendStatus(fiber.StatusNoContent)
	}
	if st.ConversationID == 0 || st.LastMessageID <= after {
		return c.SendStatus(fiber.StatusNoContent)
	}
	store, err := s.crm(c)
	if err != nil {
		return err
	}
	msgs, err := store.Messages(c.UserContext(), st.ConversationID, after, pageMessages)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return c.SendStatus(fiber.StatusNoContent)
	}
	return s.fragment(c, fiber.StatusOK, "partials/messages", messagesFragment{Messages: msgs})
}

// sendMessage validates and stores a message; the sender comes from the caller (session or
// token), never from the form. htmx gets the new message to append; a plain form post is sent
// back to the page. On failure rerender shows the page again with the reason.
func (s *Server) sendMessage(c *fiber.Ctx, store *crm.Store, t crm.Ticket, sender string, agentID int64,
	pageURL string, rerender func(draft, msg string, status int) error) error {
	body, fail := checkMessage(c.FormValue("message"), s.cfg.MessageLimit)
	status := fiber.StatusUnprocessableEntity
	var msg crm.Message
	if fail == "" {
		var err error
		switch {
		case t.ConversationID == 0:
			err = apperr.New(apperr.Conflict, "An agent has not joined this ticket yet.")
		default:
			msg, err = store.AddMessage(c.UserContext(), t.ConversationID, sender, agentID, body)
			if err == nil {
				s.hot.added(currentOrg(c), t.ID, msg.ID)
			}
		}
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Conflict {
				return err
			}
			fail, status = e.Message, fiber.StatusConflict
		}
	}
	if fail != "" {
		if isHTMX(c) {
			c.Set("HX-Retarget", "#composer-error")
			c.Set("HX-Reswap", "innerHTML")
			return s.fragment(c, status, "partials/composer_error", composerError{Message: fail})
		}
		return rerender(body, fail, status)
	}
	if isHTMX(c) {
		return s.fragment(c, fiber.StatusOK, "partials/messages", messagesFragment{Messages: []crm.Message{msg}})
	}
	return c.Redirect(pageURL+"#msg-"+strconv.FormatInt(msg.ID, 10), fiber.StatusSeeOther)
}

// orgConversationPage is the organization's read-only view of a conversation.
type orgConversationPage struct {
	Page
	Chat Chat
}

func (s *Server) orgConversationID(c *fiber.Ctx) (*crm.Store, int64, error) {
	id, err := paramID(c, "conversationId")
	if err != nil {
		return nil, 0, err
	}
	store, err := s.crm(c)
	return store, id, err
}

// orgConversation handles GET /conversation/:conversationId.
func (s *Server) orgConversation(c *fiber.Ctx) error {
	store, id, err := s.orgConversationID(c)
	if err != nil {
		return err
	}
	t, err := store.ConversationTicket(c.UserContext(), id)
	if err != nil {
		return err
	}
	ch, err := s.chat(c, store, t, "/conversation/"+strconv.FormatInt(id, 10), "org")
	if err != nil {
		return err
	}
	return s.page(c, fiber.StatusOK, "pages/conversation", &orgConversationPage{
		Page: Page{Title: "Conversation with " + t.CustomerName}, Chat: ch})
}

// orgPoll handles GET /conversation/:conversationId/messages.
func (s *Server) orgPoll(c *fiber.Ctx) error {
	id, err := paramID(c, "conversationId")
	if err != nil {
		return err
	}
	st, err := s.conversationPoll(c, id)
	if err != nil {
		return err
	}
	return s.pollMessages(c, st)
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

// normalizeNewlines turns CRLF and lone CR into LF. (Replacing only "\r\n" is not idempotent:
// "\r\r\n" became "\r\n".)
func normalizeNewlines(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}
