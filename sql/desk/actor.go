package desk

import (
	"strconv"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
)

// ActorKind says who is acting.
type ActorKind uint8

// The kinds of actor.
const (
	// Public is anyone on the internet: it may open a ticket, nothing else.
	Public ActorKind = iota
	// Owner is the organization's own account (the one that registered).
	Owner
	// AgentActor is one of the organization's agents.
	AgentActor
	// Customer holds one ticket's private token.
	Customer
	// System is tenantdesk itself (timers, operator commands, the login check): it may do
	// everything and is never chosen by anything a request carries.
	System
)

var actorNames = [...]string{"public", "owner", "agent", "customer", "system"}

func (k ActorKind) String() string {
	if int(k) < len(actorNames) {
		return actorNames[k]
	}
	return "actor?"
}

// Actor is who performs an operation. The HTTP layer builds it from what authenticated the
// request — the session (owner, agent) or the ticket token in the URL (customer) — and never
// from a form field; the Service decides in one place (allow) what it may see and do.
type Actor struct {
	Kind ActorKind
	// AgentID is the agent, for AgentActor.
	AgentID int64
	// token is the SHA-256 of the customer's ticket token, for Customer.
	token [32]byte
}

// AsPublic is an anonymous visitor.
func AsPublic() Actor { return Actor{Kind: Public} }

// AsOwner is the organization's owner.
func AsOwner() Actor { return Actor{Kind: Owner} }

// AsAgent is the agent with this id.
func AsAgent(id int64) Actor { return Actor{Kind: AgentActor, AgentID: id} }

// AsCustomer is whoever holds the ticket token whose SHA-256 is tokenHash.
func AsCustomer(tokenHash [32]byte) Actor { return Actor{Kind: Customer, token: tokenHash} }

// AsSystem is tenantdesk itself.
func AsSystem() Actor { return Actor{Kind: System} }

func (a Actor) String() string {
	if a.Kind == AgentActor {
		return "agent " + strconv.FormatInt(a.AgentID, 10)
	}
	return a.Kind.String()
}

// op is something an actor does to a ticket.
type op uint8

const (
	opRead  op = iota // see the ticket, its conversation and its updates
	opWrite           // add a message to its conversation
	opClose           // close it
	opRate            // rate it
)

// allow is the one rule of who may touch a ticket: it returns nil when a may do o to the
// ticket whose state is st, and otherwise the refusal. A refusal is NotFound when the actor
// has no business knowing the ticket exists, and Forbidden when it may see the ticket but not
// do this; it never says more. (The ticket's own state — closed, not engaged — is checked by
// the operation, after this.)
//
//   - the owner reads every ticket that has a conversation, and changes none;
//   - an agent reads, writes to and closes the tickets it engaged;
//   - a customer reads, writes to and rates its own ticket: the one its token opens;
//   - the system does everything; the public nothing.
func allow(a Actor, o op, st ticketState) error {
	notFound := apperr.New(apperr.NotFound, CodeConversationNotFound)
	forbidden := apperr.New(apperr.Forbidden, CodeForbidden)
	switch a.Kind {
	case System:
		return nil
	case Owner:
		if st.ConversationID == 0 {
			return notFound
		}
		if o == opRead {
			return nil
		}
		return forbidden
	case AgentActor:
		if st.AgentID == 0 || st.AgentID != a.AgentID {
			return notFound
		}
		if o == opRate {
			return forbidden
		}
		return nil
	case Customer:
		if st.token != a.token {
			return notFound
		}
		if o == opClose {
			return forbidden
		}
		return nil
	}
	return notFound
}

// mayManageAgents is the rule for onboarding, removing and resetting agents: the owner (and
// the system).
func mayManageAgents(a Actor) error {
	if a.Kind == Owner || a.Kind == System {
		return nil
	}
	return apperr.New(apperr.Forbidden, CodeForbidden)
}

// mayEngage is the rule for taking a waiting ticket: agents.
func mayEngage(a Actor) error {
	if a.Kind == AgentActor || a.Kind == System {
		return nil
	}
	return apperr.New(apperr.Forbidden, CodeForbidden)
}

// mayList is the rule for the ticket lists and counts of dashboards: the owner and agents.
func mayList(a Actor) error {
	switch a.Kind {
	case Owner, AgentActor, System:
		return nil
	}
	return apperr.New(apperr.Forbidden, CodeForbidden)
}
