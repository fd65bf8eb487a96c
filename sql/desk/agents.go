package desk

import (
	"context"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
)

// Agent returns agent id to the team. It answers from memory while the agent is current:
// every request of a logged-in agent checks its credential with it (as the System, before the
// agent is an actor).
func (s *Service) Agent(ctx context.Context, org *catalog.Organization, a Actor, id int64) (Agent, error) {
	if mayWork(a) != nil {
		return Agent{}, apperr.New(apperr.NotFound, CodeAgentNotFound)
	}
	ts := s.tenant(org)
	k := agentKey{t: ts.t, id: id}
	if e, ok := s.c.agents.Get(k); ok && s.fresh(ts, e.gen, e.at) {
		return e.v, nil
	}
	gen, at := ts.gen.Load(), s.now()
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Agent{}, err
	}
	ag, err := db.Agent(ctx, id)
	release()
	if err != nil {
		return ag, err
	}
	s.c.agents.Add(k, stamped[Agent]{v: ag, gen: gen, at: at})
	return ag, nil
}

// AgentByEmail returns the agent with this (lower-case) email, or NotFound: the login check,
// which only the system makes.
func (s *Service) AgentByEmail(ctx context.Context, org *catalog.Organization, a Actor, email string) (Agent, error) {
	if a.Kind != System {
		return Agent{}, apperr.New(apperr.Forbidden, CodeForbidden)
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return Agent{}, err
	}
	defer release()
	return db.AgentByEmail(ctx, email)
}

// Agents lists the organization's agents, oldest first, at most limit: the team's directory.
func (s *Service) Agents(ctx context.Context, org *catalog.Organization, a Actor, limit int) ([]Agent, error) {
	if err := mayWork(a); err != nil {
		return nil, err
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return nil, err
	}
	defer release()
	return db.Agents(ctx, limit)
}

// CreateAgent onboards an agent whose one-time password hashes to passwordHash. A taken email
// is a Conflict (CodeTaken) on the email field.
func (s *Service) CreateAgent(ctx context.Context, org *catalog.Organization, a Actor, fullName, email, passwordHash string) (Agent, error) {
	if err := mayManage(a); err != nil {
		return Agent{}, err
	}
	for field, v := range map[string]string{"full_name": fullName, "email": email, "password": passwordHash} {
		if err := checkText(field, v); err != nil {
			return Agent{}, err
		}
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return Agent{}, err
	}
	defer release()
	ag, err := db.CreateAgent(ctx, fullName, email, passwordHash)
	if err != nil {
		return ag, err
	}
	s.changed(ts, Event{Kind: AgentsChanged, By: a})
	return ag, nil
}

// SetAgentPassword replaces agent id's password hash and clears its must-change flag: the agent
// itself (or the system) only.
func (s *Service) SetAgentPassword(ctx context.Context, org *catalog.Organization, a Actor, id int64, passwordHash string) error {
	if !(a.Kind == AgentActor && a.AgentID == id) && a.Kind != System {
		return apperr.New(apperr.Forbidden, CodeForbidden)
	}
	if err := checkText("password", passwordHash); err != nil {
		return err
	}
	return s.agentWrite(ctx, org, a, func(db *store) error { return db.SetAgentPassword(ctx, id, passwordHash) })
}

// RemoveAgent revokes an agent's credential (its sessions end at their next request); its
// conversations stay readable and the tickets assigned to it that are not closed go back to
// the queue, each with an activity line. It returns the agent as it was.
func (s *Service) RemoveAgent(ctx context.Context, org *catalog.Organization, a Actor, id int64) (Agent, error) {
	return s.changeAgent(ctx, org, a, id, func(db *store) error { return db.RemoveAgent(ctx, id, a.Name) })
}

// SetRole gives an agent the role agent or admin.
func (s *Service) SetRole(ctx context.Context, org *catalog.Organization, a Actor, id int64, role string) (Agent, error) {
	if role != RoleAgent && role != RoleAdmin {
		return Agent{}, apperr.Field(apperr.Invalid, "role", apperr.CodeInvalid)
	}
	return s.changeAgent(ctx, org, a, id, func(db *store) error { return db.SetRole(ctx, id, role) })
}

// ResetAgentPassword gives an agent (also a removed one, which restores it) a new one-time
// password. It returns the agent as it was.
func (s *Service) ResetAgentPassword(ctx context.Context, org *catalog.Organization, a Actor, id int64, passwordHash string) (Agent, error) {
	if err := checkText("password", passwordHash); err != nil {
		return Agent{}, err
	}
	return s.changeAgent(ctx, org, a, id, func(db *store) error { return db.ResetAgentPassword(ctx, id, passwordHash) })
}

// changeAgent is an owner's change to one agent: it loads the agent (NotFound for an id
// unknown in this tenant), then writes.
func (s *Service) changeAgent(ctx context.Context, org *catalog.Organization, a Actor, id int64, write func(*store) error) (Agent, error) {
	if err := mayManage(a); err != nil {
		return Agent{}, err
	}
	var before Agent
	err := s.agentWrite(ctx, org, a, func(db *store) error {
		var err error
		if before, err = db.Agent(ctx, id); err != nil {
			return err
		}
		return write(db)
	})
	return before, err
}

// agentWrite runs write on org's database and publishes the change.
func (s *Service) agentWrite(ctx context.Context, org *catalog.Organization, a Actor, write func(*store) error) error {
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return err
	}
	defer release()
	if err := write(db); err != nil {
		return err
	}
	ts.appends.Add(1)
	s.changed(ts, Event{Kind: AgentsChanged, By: a})
	return nil
}
