-- A helpdesk a team works in: statuses (open, pending, snoozed, closed), one assignee per
-- ticket, priorities, tags, internal notes and activity lines in the conversation, mentions,
-- canned replies, agent roles, contacts (one per customer email) and organization settings.
--
-- The ticket tables are rebuilt (new statuses and senders need new CHECK constraints, and every
-- ticket now has its conversation from the start). Engaged tickets become open and assigned to
-- their agent; a ticket no agent took gets its conversation, with the customer's question as
-- its first message.

CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    email      TEXT    NOT NULL UNIQUE, -- lower case
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- A contact is named as on its latest ticket.
INSERT INTO contacts (email, name, created_at, updated_at)
SELECT email, name, first_at, last_at FROM (
    SELECT lower(customer_email) AS email, customer_name AS name,
        min(created_at) OVER same AS first_at, max(created_at) OVER same AS last_at,
        row_number() OVER (PARTITION BY lower(customer_email) ORDER BY created_at DESC, id DESC) AS n
    FROM tickets WINDOW same AS (PARTITION BY lower(customer_email))
) WHERE n = 1
ORDER BY first_at, email;

-- The old rows, in their new shape, wait in staging tables while the old tables are dropped
-- (children first, so no ON DELETE CASCADE fires) and created again with their new
-- constraints; a table rename would rewrite every reference in the schema, three times over,
-- and costs more than the copy. (Not TEMPORARY tables: a libsql-server refuses them.)
CREATE TABLE old_tickets AS
SELECT t.id, c.id AS contact_id, t.customer_name, t.customer_email, t.query, t.token_hash,
    CASE t.status WHEN 'closed' THEN 'closed' ELSE 'open' END AS status,
    CASE WHEN t.status = 'open' THEN NULL ELSE v.agent_id END AS assignee_id,
    -- The customer waits from its first message after the team's last answer; not at all when
    -- the team spoke last; since opening when no agent took the ticket yet.
    CASE
        WHEN t.status = 'closed' THEN NULL
        WHEN v.id IS NULL THEN t.created_at
        ELSE (SELECT min(m.created_at) FROM messages m WHERE m.conversation_id = v.id AND m.sender = 'customer'
              AND m.id > COALESCE((SELECT max(a.id) FROM messages a WHERE a.conversation_id = v.id AND a.sender = 'agent'), 0))
    END AS waiting_since,
    t.rating, t.created_at, t.updated_at, t.closed_at
FROM tickets t
JOIN contacts c ON c.email = lower(t.customer_email)
LEFT JOIN conversations v ON v.ticket_id = t.id;

CREATE TABLE old_conversations AS SELECT id, ticket_id, created_at FROM conversations;

CREATE TABLE old_messages AS SELECT id, conversation_id, sender, agent_id, body, created_at FROM messages;

DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE tickets;

-- status: open (someone should act), pending (waiting on the customer), snoozed (until
-- snooze_until), closed. priority: 0 low, 1 normal, 2 high, 3 urgent. waiting_since is when
-- the customer started waiting for an answer (NULL while the last word is the team's).
CREATE TABLE tickets (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id     INTEGER NOT NULL REFERENCES contacts (id),
    customer_name  TEXT    NOT NULL,
    customer_email TEXT    NOT NULL,
    query          TEXT    NOT NULL,
    token_hash     BLOB    NOT NULL UNIQUE,
    status         TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'snoozed', 'closed')),
    priority       INTEGER NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 3),
    assignee_id    INTEGER REFERENCES agents (id),
    snooze_until   INTEGER,
    waiting_since  INTEGER,
    rating         INTEGER CHECK (rating BETWEEN 1 AND 5),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    closed_at      INTEGER
);

INSERT INTO tickets (id, contact_id, customer_name, customer_email, query, token_hash, status,
    assignee_id, waiting_since, rating, created_at, updated_at, closed_at)
SELECT id, contact_id, customer_name, customer_email, query, token_hash, status,
    assignee_id, waiting_since, rating, created_at, updated_at, closed_at
FROM old_tickets ORDER BY id;

CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id  INTEGER NOT NULL UNIQUE REFERENCES tickets (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);

INSERT INTO conversations (id, ticket_id, created_at)
SELECT id, ticket_id, created_at FROM old_conversations ORDER BY id;

INSERT INTO conversations (ticket_id, created_at)
SELECT t.id, t.created_at FROM tickets t
WHERE NOT EXISTS (SELECT 1 FROM conversations v WHERE v.ticket_id = t.id)
ORDER BY t.id;

-- sender: customer and agent messages are the conversation with the customer; notes (by an
-- agent, agent_id) and activity lines (data says what happened) are for the team only.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender          TEXT    NOT NULL CHECK (sender IN ('customer', 'agent', 'note', 'activity')),
    agent_id        INTEGER REFERENCES agents (id),
    body            TEXT    NOT NULL,
    data            TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
);

INSERT INTO messages (id, conversation_id, sender, agent_id, body, created_at)
SELECT id, conversation_id, sender, agent_id, body, created_at FROM old_messages ORDER BY id;

INSERT INTO messages (conversation_id, sender, body, created_at)
SELECT v.id, 'customer', t.query, t.created_at
FROM conversations v JOIN tickets t ON t.id = v.ticket_id
WHERE NOT EXISTS (SELECT 1 FROM old_messages m WHERE m.conversation_id = v.id)
ORDER BY v.id;

DROP TABLE old_messages;
DROP TABLE old_conversations;
DROP TABLE old_tickets;

-- Queues: by status (and assignee), urgent first, then by how long the customer waits.
CREATE INDEX tickets_queue ON tickets (status, priority, waiting_since);
CREATE INDEX tickets_assignee ON tickets (assignee_id, status, priority, waiting_since);
CREATE INDEX tickets_contact ON tickets (contact_id, id);
CREATE INDEX tickets_snoozed ON tickets (snooze_until) WHERE status = 'snoozed';
-- The Closed view, newest first.
CREATE INDEX tickets_closed ON tickets (closed_at, id) WHERE status = 'closed';
-- Polls ask for the messages of one conversation newer than an id.
CREATE INDEX messages_conversation ON messages (conversation_id, id);

-- Free tags, normalised by the application (trimmed, lower case, at most 32 characters).
CREATE TABLE ticket_tags (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    tag       TEXT    NOT NULL,
    PRIMARY KEY (ticket_id, tag)
) WITHOUT ROWID;

CREATE INDEX ticket_tags_tag ON ticket_tags (tag, ticket_id);

-- An agent mentioned in a note.
CREATE TABLE mentions (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    agent_id   INTEGER NOT NULL REFERENCES agents (id),
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, agent_id)
);

CREATE INDEX mentions_agent ON mentions (agent_id, ticket_id);

CREATE TABLE canned_replies (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Organization settings, one row per key (time_zone, …).
CREATE TABLE settings (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- role: agent, or admin (manages agents, canned replies and settings like the owner).
ALTER TABLE agents ADD COLUMN role TEXT NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'admin'));
