package desk

import (
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// Ticket states.
const (
	StatusOpen    = "open"    // waiting for an agent
	StatusEngaged = "engaged" // an agent started the conversation
	StatusClosed  = "closed"  // the agent closed it; the customer may rate once
)

// Message senders.
const (
	SenderAgent    = "agent"
	SenderCustomer = "customer"
)

// The codes of the errors the Service returns; the HTTP layer words them.
const (
	CodeTicketNotFound       apperr.Code = "ticket_not_found"
	CodeConversationNotFound apperr.Code = "conversation_not_found"
	CodeAgentNotFound        apperr.Code = "agent_not_found"
	CodeForbidden            apperr.Code = "forbidden"               // the actor may not do this
	CodeTicketClosed         apperr.Code = "ticket_closed"           // no more messages, no closing again
	CodeNotEngaged           apperr.Code = "ticket_not_engaged"      // no agent has joined yet
	CodeEngagedByOther       apperr.Code = "ticket_engaged_by_other" // another agent handles it
	CodeNotClosed            apperr.Code = "ticket_not_closed"       // rating before closing
	CodeAlreadyRated         apperr.Code = "ticket_already_rated"
)

// Agent is a member of the organization's support staff.
type Agent struct {
	ID                 int64
	FullName           string
	Email              string
	PasswordHash       string
	MustChangePassword bool
	CreatedAt          time.Time
	// UpdatedAt is when the agent's credential last changed: while MustChangePassword is set,
	// it is when the one-time password was issued (onboarding or a reset), so it ages out.
	UpdatedAt time.Time
}

// Removed reports whether the organization removed the agent: its credential is revoked
// (an empty hash matches no password) while its conversations stay readable.
func (a Agent) Removed() bool { return a.PasswordHash == "" }

// Ticket is a customer's question and where it stands. ConversationID and AgentName are set
// once an agent engaged it; Rating is 0 until the customer rates.
type Ticket struct {
	ID             int64
	CustomerName   string
	CustomerEmail  string
	Query          string
	Status         string
	Rating         int
	CreatedAt      time.Time
	ClosedAt       time.Time
	ConversationID int64
	AgentID        int64
	AgentName      string
}

// Message is one line of a conversation. Messages never change once written.
type Message struct {
	ID             int64
	TicketID       int64
	ConversationID int64
	Sender         string
	// AgentID is the sending agent (0 for the customer).
	AgentID   int64
	Body      string
	CreatedAt time.Time
}

// TicketCounts counts tickets per state, and averages the ratings given.
type TicketCounts struct {
	Open, Engaged, Closed int
	Rated                 int
	AverageRating         float64
}

// ticketState is what a message poll needs to decide whether anything changed: the ticket's
// status, its conversation (0 before an agent engaged), the agent and the newest message id.
type ticketState struct {
	// token is the SHA-256 of the ticket's customer token: whose ticket it is.
	token          [32]byte
	TicketID       int64
	Status         string
	ConversationID int64
	AgentID        int64
	LastMessageID  int64
}
