-- Indexes for the reports (package sql/report). Each report reads the tickets opened and the
-- tickets closed in a range of days, each ticket's first agent reply and its status changes;
-- the ticket indexes cover every column those reads take, so a range of 100,000 tickets is
-- read from the indexes alone, without touching the rows (which hold the question text).

-- Tickets opened in a range: per day, first response, per agent, per tag.
CREATE INDEX tickets_created ON tickets (created_at, assignee_id, priority);

-- Tickets closed in a range: per day, resolution, CSAT, per agent, per tag. Status leads (a
-- reopened ticket keeps its closed_at): with the status and the range both in one index the
-- planner prefers it to tickets_queue, which a partial index on closed_at would lose to.
CREATE INDEX tickets_closed ON tickets (status, closed_at, created_at, assignee_id, priority, rating);

-- A ticket's first agent reply is one seek.
CREATE INDEX messages_agent_reply ON messages (conversation_id, created_at) WHERE sender = 'agent';

-- A ticket's status changes, read from the index alone: its activity lines with their data
-- (short JSON, whose kind and status the query reads).
CREATE INDEX messages_activity ON messages (conversation_id, created_at, data) WHERE sender = 'activity';
