-- Indexes for the reports (package sql/report). Each report reads the tickets opened and the
-- tickets closed in a range of days, each ticket's first agent reply and its status changes;
-- the ticket indexes cover every column those reads take, so a range of 100,000 tickets is
-- read from the indexes alone, without touching the rows (which hold the question text).

-- Tickets opened in a range: per day, first response, per agent, per tag.
CREATE INDEX tickets_created ON tickets (created_at, assignee_id, priority);

-- Tickets closed in a range: per day, resolution, CSAT, per agent, per tag. Status leads (a
-- reopened ticket keeps its closed_at): with the status and the range both in one index the
-- planner prefers it to tickets_queue, which a partial index on closed_at would lose to.
CREATE INDEX tickets_report_closed ON tickets (status, closed_at, created_at, assignee_id, priority, rating);

-- A ticket's first agent reply is one seek.
CREATE INDEX messages_agent_reply ON messages (conversation_id, created_at) WHERE sender = 'agent';

-- A ticket's status changes, read from the index alone: the activity lines whose data says
-- kind "status", with the status they changed to, so that a report reads neither the rows
-- nor any JSON. json_valid keeps an activity line whose data is not JSON from failing its
-- insert (json_extract raises an error on such text). The reports' query repeats both
-- expressions exactly, or the planner would not use the index.
CREATE INDEX messages_status ON messages (conversation_id, created_at,
    (CASE WHEN json_valid(data) THEN json_extract(data, '$.to') END))
WHERE sender = 'activity' AND (CASE WHEN json_valid(data) THEN json_extract(data, '$.kind') END) = 'status';
