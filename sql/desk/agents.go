package desk

import (
	"context"
	"database/sql"

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
	var ag Agent
	err := s.agentWrite(ctx, org, a, func(tx *sql.Tx, db *store) (audit, error) {
		var err error
		if ag, err = db.createAgent(ctx, tx, fullName, email, passwordHash); err != nil {
			return audit{}, err
		}
		return audit{event: AuditAgentCreated, targetKind: TargetAgent, targetID: ag.ID,
			detail: map[string]string{"name": fullName, "email": email}}, nil
	})
	return ag, err
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
	return s.agentWrite(ctx, org, a, func(tx *sql.Tx, db *store) (audit, error) {
		return audit{event: AuditPasswordChanged, targetKind: TargetAgent, targetID: id}, db.SetAgentPassword(ctx, tx, id, passwordHash)
	})
}

// RemoveAgent revokes an agent's credential (its sessions end at their next request); its
// conversations stay readable and the tickets assigned to it that are not closed go back to
// the queue, each with an activity line. It returns the agent as it was.
func (s *Service) RemoveAgent(ctx context.Context, org *catalog.Organization, a Actor, id int64) (Agent, error) {
	return s.changeAgent(ctx, org, a, id, func(tx *sql.Tx, db *store, before Agent) (audit, error) {
		freed, err := db.RemoveAgent(ctx, tx, id, a.Name)
		return audit{event: AuditAgentRemoved, targetKind: TargetAgent, targetID: id,
			detail: map[string]string{"name": before.FullName, "email": before.Email, "tickets_unassigned": itoa(int64(freed))}}, err
	})
}

// SetRole gives an agent the role agent or admin.
func (s *Service) SetRole(ctx context.Context, org *catalog.Organization, a Actor, id int64, role string) (Agent, error) {
	if role != RoleAgent && role != RoleAdmin {
		return Agent{}, apperr.Field(apperr.Invalid, "role", apperr.CodeInvalid)
	}
	return s.changeAgent(ctx, org, a, id, func(tx *sql.Tx, db *store, before Agent) (audit, error) {
		if before.Role == role {
			return audit{}, nil
		}
		return audit{event: AuditAgentRole, targetKind: TargetAgent, targetID: id,
			detail: map[string]string{"name": before.FullName, "from": before.Role, "to": role}}, db.SetRole(ctx, tx, id, role)
	})
}

// ResetAgentPassword gives an agent (also a removed one, which restores it) a new one-time
// password. It returns the agent as it was.
func (s *Service) ResetAgentPassword(ctx context.Context, org *catalog.Organization, a Actor, id int64, passwordHash string) (Agent, error) {
	if err := checkText("password", passwordHash); err != nil {
		return Agent{}, err
	}
	return s.changeAgent(ctx, org, a, id, func(tx *sql.Tx, db *store, before Agent) (audit, error) {
		return audit{event: AuditPasswordReset, targetKind: TargetAgent, targetID: id,
			detail: map[string]string{"name": before.FullName}}, db.ResetAgentPassword(ctx, tx, id, passwordHash)
	})
}

// changeAgent is a manager's change to one agent: it loads the agent (NotFound for an id
// unknown in this tenant), then writes, in one transaction with its audit entry.
func (s *Service) changeAgent(ctx context.Context, org *catalog.Organization, a Actor, id int64,
	write func(tx *sql.Tx, db *store, before Agent) (audit, error)) (Agent, error) {
	if err := mayManage(a); err != nil {
		return Agent{}, err
	}
	var before Agent
	err := s.agentWrite(ctx, org, a, func(tx *sql.Tx, db *store) (audit, error) {
		var err error
		if before, err = db.agent(ctx, tx, "changeAgent", "id = ?", id); err != nil {
			return audit{}, err
		}
		return write(tx, db, before)
	})
	return before, err
}

// agentWrite runs write on org's database in a transaction, with the audit entry it returns
// (none when its event is empty), and publishes the change.
func (s *Service) agentWrite(ctx context.Context, org *catalog.Organization, a Actor, write func(tx *sql.Tx, db *store) (audit, error)) error {
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return err
	}
	defer release()
	err = db.inTx(ctx, "agentWrite", func(tx *sql.Tx) error {
		e, err := write(tx, db)
		if err != nil || e.event == "" {
			return err
		}
		return writeAudit(ctx, tx, stamp(s.now), a, e)
	})
	if err != nil {
		return err
	}
	ts.appends.Add(1)
	s.changed(ts, Event{Kind: AgentsChanged, By: a})
	return nil
}
