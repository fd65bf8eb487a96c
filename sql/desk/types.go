package desk

import (
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// Ticket statuses.
const (
	StatusOpen    = "open"    // someone on the team should act
	StatusPending = "pending" // waiting on the customer
	StatusSnoozed = "snoozed" // parked until SnoozeUntil, then open again by itself
	StatusClosed  = "closed"  // done; the customer may rate once
)

// ValidStatus reports whether s is a ticket status.
func ValidStatus(s string) bool {
	switch s {
	case StatusOpen, StatusPending, StatusSnoozed, StatusClosed:
		return true
	}
	return false
}

// Priority orders the queues: urgent first.
type Priority int

// The priorities, lowest first.
const (
	PriorityLow Priority = iota
	PriorityNormal
	PriorityHigh
	PriorityUrgent
)

var priorityNames = [...]string{"low", "normal", "high", "urgent"}

func (p Priority) String() string {
	if p >= 0 && int(p) < len(priorityNames) {
		return priorityNames[p]
	}
	return "normal"
}

// ParsePriority reads a priority's name.
func ParsePriority(s string) (Priority, bool) {
	for i, n := range priorityNames {
		if s == n {
			return Priority(i), true
		}
	}
	return PriorityNormal, false
}

// Agent roles.
const (
	RoleAgent = "agent"
	RoleAdmin = "admin" // manages agents, canned replies and settings like the owner
)

// Message senders. Customer and agent messages are the conversation with the customer; notes
// and activity lines are for the team only.
const (
	SenderCustomer = "customer"
	SenderAgent    = "agent"
	SenderNote     = "note"
	SenderActivity = "activity"
)

// Queue views.
const (
	ViewUnassigned = "unassigned" // open, nobody assigned
	ViewMine       = "mine"       // open, assigned to the acting agent
	ViewMentions   = "mentions"   // the acting agent is mentioned in a note, not closed
	ViewAll        = "all"        // every ticket not closed
	ViewPending    = "pending"
	ViewSnoozed    = "snoozed"
	ViewClosed     = "closed"
	// ViewDueSoon: a service-level target falls due within DueSoon and is not breached yet.
	ViewDueSoon = "due"
)

// DueSoon is how far ahead the Due soon view looks.
const DueSoon = time.Hour

// Views lists the queue views in the order a dashboard shows them.
var Views = []string{ViewUnassigned, ViewMine, ViewMentions, ViewDueSoon, ViewAll, ViewPending, ViewSnoozed, ViewClosed}

// Limits of what people enter.
const (
	MaxTags      = 20 // per ticket
	MaxTagLength = 32 // characters
)

// The codes of the errors the Service returns; the HTTP layer words them.
const (
	CodeTicketNotFound       apperr.Code = "ticket_not_found"
	CodeConversationNotFound apperr.Code = "conversation_not_found"
	CodeAgentNotFound        apperr.Code = "agent_not_found"
	CodeContactNotFound      apperr.Code = "contact_not_found"
	CodeCannedNotFound       apperr.Code = "canned_not_found"
	CodeForbidden            apperr.Code = "forbidden"         // the actor may not do this
	CodeTicketClosed         apperr.Code = "ticket_closed"     // no more messages
	CodeAssignedToOther      apperr.Code = "assigned_to_other" // taking it needs the admin role
	CodeNotClosed            apperr.Code = "ticket_not_closed" // rating before closing
	CodeAlreadyRated         apperr.Code = "ticket_already_rated"
	CodeAgentRemoved         apperr.Code = "agent_removed" // assigning to a removed agent
	CodeSnoozeInPast         apperr.Code = "snooze_in_past"
	CodeTooManyTags          apperr.Code = "too_many_tags"
	CodeUnknownTimeZone      apperr.Code = "unknown_time_zone"
	CodeCommentTooLong       apperr.Code = "comment_too_long"
	// CodeEmailOff: the server sends no email (no MAIL_DOMAIN, PUBLIC_URL, or no SMTP server
	// for the organization).
	CodeEmailOff apperr.Code = "email_off"
	// CodeEmailSetting: an email setting is unusable (the field says which).
	CodeEmailSetting apperr.Code = "email_setting"
	// CodeEmailNotFound: no stored email of this organization has that id.
	CodeEmailNotFound apperr.Code = "email_not_found"
	// CodeSMTPNeedsFrom: an organization's own SMTP server needs its own sender address.
	CodeSMTPNeedsFrom apperr.Code = "smtp_needs_from"
)

// MaxRatingComment bounds the comment of a rating, in characters.
const MaxRatingComment = 1000

// Agent is a member of the organization's support staff.
type Agent struct {
	ID                 int64
	FullName           string
	Email              string
	PasswordHash       string
	MustChangePassword bool
	Role               string
	CreatedAt          time.Time
	// UpdatedAt is when the agent's credential last changed: while MustChangePassword is set,
	// it is when the one-time password was issued (onboarding or a reset), so it ages out.
	UpdatedAt time.Time
}

// Removed reports whether the organization removed the agent: its credential is revoked
// (an empty hash matches no password) while its conversations stay readable.
func (a Agent) Removed() bool { return a.PasswordHash == "" }

// Admin reports whether the agent has the admin role.
func (a Agent) Admin() bool { return a.Role == RoleAdmin }

// Handle is the name others mention the agent by in notes: the local part of its email
// ("@maria" for maria@example.com).
func (a Agent) Handle() string {
	for i := 0; i < len(a.Email); i++ {
		if a.Email[i] == '@' {
			return a.Email[:i]
		}
	}
	return a.Email
}

// Ticket is a customer's question and where it stands. Every ticket has its conversation from
// the start.
type Ticket struct {
	ID             int64
	ContactID      int64
	ConversationID int64
	CustomerName   string
	CustomerEmail  string
	Query          string
	Status         string
	Priority       Priority
	// AssigneeID is the agent it is assigned to, 0 for nobody.
	AssigneeID   int64
	AssigneeName string
	SnoozeUntil  time.Time
	// WaitingSince is when the customer started waiting for an answer; zero while the last
	// word is the team's.
	WaitingSince time.Time
	Tags         []string
	Rating       int
	// RatingComment is what the customer wrote with its rating ("" for none); RatedAt when.
	RatingComment string
	RatedAt       time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	ClosedAt      time.Time
	// FirstReplyAt is when the team first wrote to the customer (zero: not yet).
	FirstReplyAt time.Time
	// FirstResponseDue and ResolutionDue are the ticket's service-level due times (zero: no
	// target; the resolution has none while the ticket is pending, snoozed or closed).
	// Breached says which breaches are recorded (BreachFirstResponse, BreachResolution).
	FirstResponseDue time.Time
	ResolutionDue    time.Time
	Breached         int
}

// Deadline is a ticket's next service-level due time: what is due (BreachedFirstResponse or
// BreachedResolution) and when.
type Deadline struct {
	What string
	At   time.Time
}

// Next returns the ticket's next target not met yet — the first response while nobody has
// answered, and the resolution while it runs — and false when it has none (closed, paused,
// answered without a resolution target, no targets).
func (t Ticket) Next() (Deadline, bool) {
	if t.Status == StatusClosed {
		return Deadline{}, false
	}
	var d Deadline
	if t.FirstReplyAt.IsZero() && !t.FirstResponseDue.IsZero() {
		d = Deadline{What: BreachedFirstResponse, At: t.FirstResponseDue}
	}
	if !t.ResolutionDue.IsZero() && (d.At.IsZero() || t.ResolutionDue.Before(d.At)) {
		d = Deadline{What: BreachedResolution, At: t.ResolutionDue}
	}
	return d, !d.At.IsZero()
}

// Message is one line of a conversation. Messages never change once written.
type Message struct {
	ID             int64
	TicketID       int64
	ConversationID int64
	Sender         string
	// AgentID is the writing agent (agent messages and notes), 0 otherwise; AgentName its name.
	AgentID   int64
	AgentName string
	Body      string
	// Activity says what happened, for an activity line.
	Activity *Activity
	// Files are the message's attachments, in the order they were added.
	Files     []File
	CreatedAt time.Time
}

// Public reports whether the customer sees the message.
func (m Message) Public() bool { return m.Sender == SenderCustomer || m.Sender == SenderAgent }

// Activity is what an activity line records. The HTTP layer words it.
type Activity struct {
	// Kind is what changed: "assigned" (To is the new assignee, "" when unassigned, From the
	// previous one), "status" (To the new status, Until the snooze time), "priority" (To),
	// "tags" (Added, Removed).
	Kind string `json:"kind"`
	// By is who did it: an agent's or the owner's name; "" for the customer (ByCustomer) or
	// tenantdesk itself.
	By         string   `json:"by,omitempty"`
	ByCustomer bool     `json:"by_customer,omitempty"`
	To         string   `json:"to,omitempty"`
	From       string   `json:"from,omitempty"`
	Until      int64    `json:"until,omitempty"`
	Added      []string `json:"added,omitempty"`
	Removed    []string `json:"removed,omitempty"`
}

// Contact is a customer: one per email address within the organization.
type Contact struct {
	ID        int64
	Email     string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Canned is a canned reply: a title and a body with placeholders ({{customer_name}},
// {{agent_name}}, {{ticket_id}}, {{org_name}}).
type Canned struct {
	ID        int64
	Title     string
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Counts are a dashboard's figures: the tickets in each view (for the acting agent: Mine and
// Mentions are its own), and the ratings given.
type Counts struct {
	Views         map[string]int
	Rated         int
	AverageRating float64
}

// ticketState is what a message poll needs to decide whether anything changed, and what the
// access rule decides on: whose ticket it is, its status, conversation, assignee and newest
// message ids.
type ticketState struct {
	// token is the SHA-256 of the ticket's customer token: whose ticket it is.
	token          [32]byte
	TicketID       int64
	Status         string
	ConversationID int64
	AssigneeID     int64
	// LastMessageID is the newest message of any kind; LastPublicID the newest the customer
	// sees.
	LastMessageID int64
	LastPublicID  int64
	// access is the ticket's access version (signed links and reply addresses name it).
	access int64
}
