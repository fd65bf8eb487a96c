package handlers

// The words people read. The layers below return what happened as an apperr kind and code;
// the sentence is chosen here, in one place.

import (
	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/report"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// codeWords words the codes that reach people as they are.
var codeWords = map[apperr.Code]string{
	desk.CodeTicketClosed:      "This ticket is closed; no more messages can be sent.",
	desk.CodeAssignedToOther:   "This ticket is assigned to someone else: take it first (an admin may).",
	desk.CodeContactNotFound:   "We could not find that customer.",
	desk.CodeCannedNotFound:    "We could not find that canned reply.",
	desk.CodeNotClosed:         "You can rate the service once the ticket is closed.",
	desk.CodeAlreadyRated:      "You have already rated this ticket.",
	desk.CodeTicketNotFound:    "We could not find that ticket.",
	desk.CodeAgentNotFound:     "We could not find that agent.",
	desk.CodeForbidden:         "You are not allowed to do that.",
	catalog.CodeNotFound:       "We could not find that organization.",
	tenantdb.CodeUnavailable:   "This organization's helpdesk is unavailable right now. Please try again in a moment.",
	tenantdb.CodeUpgrading:     "This organization's helpdesk is being upgraded. Please try again in a moment.",
	tenantdb.CodeShuttingDown:  "The server is restarting. Please try again in a moment.",
	tenantdb.CodeCreateFailed:  "We could not create your helpdesk database. Please try again.",
	tenantdb.CodeOpenFailed:    "We could not open your helpdesk database. Please try again.",
	tenantdb.CodeSetupFailed:   "We could not set up your helpdesk database. Please try again.",
	tenantdb.CodeNameReleasing: "This username was just released and is still being cleaned up. Please try again in a moment.",
	// Service levels, ratings and reports.
	desk.CodeTargetInvalid:  "Write a time like 30m, 4h or 1h 30m, or leave it empty for no target.",
	desk.CodeTargetTooLong:  "At most 365 days (8760h).",
	desk.CodeCommentTooLong: "Your comment must be at most 1000 characters.",
	report.CodeReversed:     "The last day must not be before the first.",
	report.CodeOutOfRange:   "Enter a date between 2000 and 2199.",

	// Email (handlers/email.go).
	desk.CodeEmailOff: "Email is off: this server has no SMTP server for your organization (set your own on the email settings page, " +
		"or ask the server's operator to set SMTP_URL).",
}

// kindWords words an error whose code has no words of its own.
var kindWords = map[apperr.Kind]string{
	apperr.NotFound:     "We could not find that page.",
	apperr.Invalid:      "Some of what you entered is not valid.",
	apperr.Conflict:     "That cannot be done in the current state.",
	apperr.Unauthorized: "Wrong email or password.",
	apperr.Unavailable:  "This service is unavailable right now. Please try again in a moment.",
	apperr.Forbidden:    "You are not allowed to do that.",
}

// fieldWords words the field errors forms show beside a field, by field and code.
var fieldWords = map[string]map[apperr.Code]string{
	"username": {apperr.CodeTaken: "This username is taken."},
	"email": {
		apperr.CodeTaken:   "This email is already registered.",
		apperr.CodeInvalid: "Enter a valid email address, like name@example.com.",
	},
	"rating": {apperr.CodeInvalid: "Choose a rating from 1 to 5."},
}

// actionWords words a refused action on a ticket's page.
func actionWords(e *apperr.Error) string {
	switch e.Field + "/" + string(e.Code) {
	case "status/invalid":
		return "Choose a status: open, pending, snoozed or closed."
	case "snooze_until/required":
		return "Say until when to snooze the ticket."
	case "snooze_until/invalid":
		return "Enter the snooze time as a date and a time, like 2026-03-09T09:00."
	case "snooze_until/" + string(desk.CodeSnoozeInPast):
		return "The snooze time must be in the future."
	case "priority/invalid":
		return "Choose a priority: low, normal, high or urgent."
	case "tags/" + string(desk.CodeTooManyTags):
		return "A ticket has at most 20 tags."
	case "tags/invalid":
		return "Tags are at most 32 characters each, without commas or control characters."
	case "agent_id/invalid":
		return "Choose an agent of the team."
	case "agent_id/" + string(desk.CodeAgentRemoved):
		return "That agent was removed; choose another."
	}
	return sentence(e)
}

// sentence is what a person reads about e.
func sentence(e *apperr.Error) string {
	if e.Field != "" {
		if w, ok := fieldWords[e.Field][e.Code]; ok {
			return w
		}
	}
	if w, ok := codeWords[e.Code]; ok {
		return w
	}
	if w, ok := kindWords[e.Kind]; ok {
		return w
	}
	return "Something went wrong on our side. Please try again."
}

// Why a webhook delivery failed, as its delivery log says (besides the delivery's own kinds:
// refused, timeout, connection, status).
const (
	wordsWebhookRemoved  = "endpoint removed"
	wordsWebhookGaveUp   = "gave up waiting for an earlier event of this ticket"
	wordsWebhookSecretNA = "the signing secret cannot be read (the server's secret changed): add the webhook again"
)
