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
	// AgentID and Role are the agent's, for AgentActor.
	AgentID int64
	Role    string
	// Name is how activity lines name the actor (the agent's or the organization's name).
	Name string
	// TokenID is the API token the actor came through, 0 for a session (audit entries name
	// it).
	TokenID int64
	// token is the SHA-256 of the customer's ticket token, for Customer.
	token [32]byte
	// ticket and access name the ticket of a Customer that proved itself with a signed link
	// or a reply address (access.go) instead of the token: that ticket, at that access
	// version. Zero for a token holder.
	ticket, access int64
}

// AsPublic is an anonymous visitor.
func AsPublic() Actor { return Actor{Kind: Public} }

// AsOwner is the organization's owner; name is the organization's, for activity lines.
func AsOwner(name string) Actor { return Actor{Kind: Owner, Name: name} }

// AsAgent is agent a, with its role as it is now.
func AsAgent(a Agent) Actor {
	return Actor{Kind: AgentActor, AgentID: a.ID, Role: a.Role, Name: a.FullName}
}

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

// admin reports whether the actor manages the organization: the owner, an admin agent, or the
// system.
func (a Actor) admin() bool {
	return a.Kind == Owner || a.Kind == System || (a.Kind == AgentActor && a.Role == RoleAdmin)
}

// viaAPI reports whether a member of the team acts through an API token: it may then also
// write on a customer's behalf (an integration that brings in customers' messages).
func (a Actor) viaAPI() bool { return a.TokenID != 0 && (a.Kind == Owner || a.Kind == AgentActor) }

// team reports whether the actor works the tickets: the owner, an agent, or the system.
func (a Actor) team() bool { return a.Kind == Owner || a.Kind == AgentActor || a.Kind == System }

// op is something an actor does to a ticket.
type op uint8

const (
	opRead   op = iota // see the ticket and its conversation (the customer: without notes)
	opNote             // add an internal note; see notes, activity and presence
	opWrite            // write to the customer
	opTake             // assign the ticket to oneself
	opAssign           // assign the ticket to someone, or to nobody
	opChange           // change its status, priority or tags
	opRate             // rate it
)

// allow is the one rule of who may touch a ticket: it returns nil when a may do o to the
// ticket whose state is st, and otherwise the refusal. A refusal is NotFound when the actor
// has no business knowing the ticket exists, and Forbidden when it may see the ticket but not
// do this; it never says more. (The ticket's own state — closed, say — is checked by the
// operation, after this.)
//
//   - the owner and the system do everything but rate;
//   - every agent reads every ticket, adds notes and changes status, priority and tags; it
//     takes or assigns a ticket that is unassigned or its own, and writes to the customer on
//     those (writing takes an unassigned ticket); changing an assignment someone else holds
//     needs the admin role, as writing on someone else's ticket does;
//   - a customer reads (without notes), writes to and rates its own ticket: the one its token
//     opens, or the one a signed link or reply address names, while the ticket's access
//     version is the one it was made for;
//   - the public nothing.
func allow(a Actor, o op, st ticketState) error {
	notFound := apperr.New(apperr.NotFound, CodeConversationNotFound)
	forbidden := apperr.New(apperr.Forbidden, CodeForbidden)
	switch a.Kind {
	case System:
		return nil
	case Owner:
		if o == opRate {
			return forbidden
		}
		return nil
	case AgentActor:
		mineOrFree := st.AssigneeID == 0 || st.AssigneeID == a.AgentID
		switch o {
		case opRead, opNote, opChange:
			return nil
		case opWrite, opTake, opAssign:
			if mineOrFree || a.Role == RoleAdmin {
				return nil
			}
			return apperr.New(apperr.Forbidden, CodeAssignedToOther)
		}
		return forbidden
	case Customer:
		if a.ticket != 0 {
			if st.TicketID != a.ticket || st.access != a.access {
				return notFound
			}
		} else if st.token != a.token {
			return notFound
		}
		switch o {
		case opRead, opWrite, opRate:
			return nil
		}
		return forbidden
	}
	return notFound
}

// mayManage is the rule for onboarding, removing and resetting agents, their roles, canned
// replies and settings: the owner, admin agents and the system.
func mayManage(a Actor) error {
	if a.admin() {
		return nil
	}
	return apperr.New(apperr.Forbidden, CodeForbidden)
}

// mayOwn is the rule for what only the organization itself does: deleting it, exporting it.
func mayOwn(a Actor) error {
	if a.Kind == Owner || a.Kind == System {
		return nil
	}
	return apperr.New(apperr.Forbidden, CodeForbidden)
}

// mayWork is the rule for the queues, counts, the team's directory and contacts: the owner,
// agents and the system.
func mayWork(a Actor) error {
	if a.team() {
		return nil
	}
	return apperr.New(apperr.Forbidden, CodeForbidden)
}
