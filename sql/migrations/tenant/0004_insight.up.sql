-- Reports, service levels (SLAs) and ratings' comments.
--
-- Every new column is nullable or has a constant default, so the previous release keeps
-- working on a tenant that has this version; only this release keeps the derived columns.

-- When the team first answered the customer (the first agent message at or after the
-- ticket's creation): the first response time is one column of the ticket, not a search
-- through its messages. The desk sets it with the first agent message; this fills it for the
-- tickets answered so far.
ALTER TABLE tickets ADD COLUMN first_reply_at INTEGER;

UPDATE tickets SET first_reply_at = r.at
FROM (
    SELECT v.ticket_id, min(m.created_at) AS at
    FROM conversations v
    JOIN messages m ON m.conversation_id = v.id AND m.sender = 'agent'
    JOIN tickets t ON t.id = v.ticket_id AND m.created_at >= t.created_at
    GROUP BY v.ticket_id
) AS r
WHERE tickets.id = r.ticket_id;

-- The time a ticket waited on the customer or lay closed does not count against its
-- resolution: paused_since is when its current pause began (it is pending, snoozed or
-- closed), NULL while it is open; pauses lists its earlier pauses as "start end" pairs of Unix
-- seconds, oldest first, separated by spaces. The desk keeps both with every status change;
-- this fills them from the status-change activity lines written so far, in the order they
-- were written (a ticket starts open; a line's "to" pending, snoozed or closed pauses it, any
-- other status runs it again).
ALTER TABLE tickets ADD COLUMN paused_since INTEGER;
ALTER TABLE tickets ADD COLUMN pauses TEXT NOT NULL DEFAULT '';

UPDATE tickets SET pauses = p.spans, paused_since = p.since
FROM (
    -- The status lines of each conversation in the order they were written (the LIKE skips
    -- most other lines before any JSON is parsed).
    WITH lines AS (
        SELECT conversation_id AS cid, id, created_at AS at,
            coalesce((CASE WHEN json_valid(data) THEN json_extract(data, '$.to') END) IN ('pending', 'snoozed', 'closed'), 0) AS paused
        FROM messages
        WHERE sender = 'activity' AND data LIKE '%status%'
            AND (CASE WHEN json_valid(data) THEN json_extract(data, '$.kind') END) = 'status'
    ),
    -- The lines that pause a running ticket or run a paused one, each with the next such line.
    turns AS (
        SELECT cid, id, at, paused, lead(at) OVER (PARTITION BY cid ORDER BY id) AS next
        FROM (SELECT cid, id, at, paused, lag(paused, 1, 0) OVER (PARTITION BY cid ORDER BY id) AS before FROM lines)
        WHERE paused <> before
    ),
    -- Per conversation, its pauses in order: group_concat takes the rows in the order they
    -- come, sorted by conversation and line.
    spans AS (
        SELECT cid,
            coalesce(group_concat(CASE WHEN paused = 1 AND next > at THEN at || ' ' || next END, ' '), '') AS spans,
            max(CASE WHEN paused = 1 AND next IS NULL THEN at END) AS since
        FROM (SELECT cid, id, at, paused, next FROM turns ORDER BY cid, id)
        GROUP BY cid
    )
    SELECT v.ticket_id AS tid, spans.spans, spans.since
    FROM spans JOIN conversations v ON v.id = spans.cid
) AS p
WHERE tickets.id = p.tid;

-- The status decides whether a ticket is paused now: one closed before activity lines existed
-- has been paused since it closed.
UPDATE tickets SET paused_since = CASE WHEN status = 'open' THEN NULL ELSE coalesce(paused_since, closed_at, updated_at) END
WHERE (status = 'open') = (paused_since IS NOT NULL);

-- Service levels. The targets and business hours are settings (sla_* keys); each ticket keeps
-- its due times, computed by the desk whenever its status, priority or first answer changes
-- or the settings do: when the first response is due (while unanswered), when the resolution
-- is due (NULL while pending, snoozed or closed: that time does not count), sla_due_at, the
-- earliest of those whose breach is not recorded yet (what the breach check waits for), and
-- sla_breached, the breaches recorded (1 first response, 2 resolution), each once.
ALTER TABLE tickets ADD COLUMN first_response_due_at INTEGER;
ALTER TABLE tickets ADD COLUMN resolution_due_at INTEGER;
ALTER TABLE tickets ADD COLUMN sla_due_at INTEGER;
ALTER TABLE tickets ADD COLUMN sla_breached INTEGER NOT NULL DEFAULT 0;

-- The "Due soon" queue and the breach check read tickets by their next due time.
CREATE INDEX tickets_sla_due ON tickets (sla_due_at) WHERE sla_due_at IS NOT NULL;

-- A customer's rating may come with a comment; rated_at is when it was given.
ALTER TABLE tickets ADD COLUMN rating_comment TEXT;
ALTER TABLE tickets ADD COLUMN rated_at INTEGER;

-- Reports read the tickets opened and the tickets closed in a range of days, with their first
-- reply and their pauses. The ticket indexes cover every column those reads take,
-- so a range of 100,000 tickets is read from the indexes alone, without touching the rows
-- (which hold the question text).

-- Tickets opened in a range: per day, first response, per agent, per tag.
CREATE INDEX tickets_created ON tickets (created_at, assignee_id, priority, first_reply_at);

-- Tickets closed in a range: per day, resolution, CSAT, per agent, per tag. Status leads (a
-- reopened ticket keeps its closed_at): with the status and the range both in one index the
-- planner prefers it to tickets_queue and to the Closed view's partial index.
CREATE INDEX tickets_report_closed ON tickets (status, closed_at, created_at, assignee_id, priority, rating,
    paused_since, pauses);

-- The rating comments given in a range, newest first.
CREATE INDEX tickets_rating_comment ON tickets (rated_at) WHERE rating_comment IS NOT NULL;
