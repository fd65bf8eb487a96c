-- A helpdesk a team works in: statuses (open, pending, snoozed, closed), one assignee per
-- ticket, priorities, tags, internal notes and activity lines in the conversation, mentions,
-- canned replies, agent roles, contacts (one per customer email) and organization settings.
--
-- The ticket tables are rebuilt (new statuses and senders need new CHECK constraints, and every
-- ticket now has its conversation from the start): new tables are filled from the old ones,
-- the old ones dropped children first (so no ON DELETE CASCADE fires), and the new ones renamed
-- into place. Engaged tickets become open and assigned to their agent; a ticket no agent took
-- gets its conversation, with the customer's question as its first message.

CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    email      TEXT    NOT NULL UNIQUE, -- lower case
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

INSERT INTO contacts (email, name, created_at, updated_at)
SELECT lower(customer_email), customer_name, min(created_at), max(created_at)
FROM tickets GROUP BY lower(customer_email);

-- status: open (someone should act), pending (waiting on the customer), snoozed (until
-- snooze_until), closed. priority: 0 low, 1 normal, 2 high, 3 urgent. waiting_since is when
-- the customer started waiting for an answer (NULL while the last word is the team's).
CREATE TABLE tickets_v2 (
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

INSERT INTO tickets_v2 (id, contact_id, customer_name, customer_email, query, token_hash, status,
    priority, assignee_id, waiting_since, rating, created_at, updated_at, closed_at)
SELECT t.id, c.id, t.customer_name, t.customer_email, t.query, t.token_hash,
    CASE t.status WHEN 'closed' THEN 'closed' ELSE 'open' END,
    1,
    CASE WHEN t.status = 'open' THEN NULL ELSE v.agent_id END,
    CASE WHEN t.status = 'closed' THEN NULL ELSE t.created_at END,
    t.rating, t.created_at, t.updated_at, t.closed_at
FROM tickets t
JOIN contacts c ON c.email = lower(t.customer_email)
LEFT JOIN conversations v ON v.ticket_id = t.id;

CREATE TABLE conversations_v2 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id  INTEGER NOT NULL UNIQUE REFERENCES tickets_v2 (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);

INSERT INTO conversations_v2 (id, ticket_id, created_at)
SELECT id, ticket_id, created_at FROM conversations;

INSERT INTO conversations_v2 (ticket_id, created_at)
SELECT t.id, t.created_at FROM tickets t
WHERE NOT EXISTS (SELECT 1 FROM conversations v WHERE v.ticket_id = t.id)
ORDER BY t.id;

-- sender: customer and agent messages are the conversation with the customer; notes (by an
-- agent, agent_id) and activity lines (data says what happened) are for the team only.
CREATE TABLE messages_v2 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations_v2 (id) ON DELETE CASCADE,
    sender          TEXT    NOT NULL CHECK (sender IN ('customer', 'agent', 'note', 'activity')),
    agent_id        INTEGER REFERENCES agents (id),
    body            TEXT    NOT NULL,
    data            TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
);

INSERT INTO messages_v2 (id, conversation_id, sender, agent_id, body, created_at)
SELECT id, conversation_id, sender, agent_id, body, created_at FROM messages;

INSERT INTO messages_v2 (conversation_id, sender, body, created_at)
SELECT v.id, 'customer', t.query, t.created_at
FROM conversations_v2 v JOIN tickets t ON t.id = v.ticket_id
WHERE NOT EXISTS (SELECT 1 FROM messages_v2 m WHERE m.conversation_id = v.id)
ORDER BY v.id;

DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE tickets;

ALTER TABLE tickets_v2 RENAME TO tickets;
ALTER TABLE conversations_v2 RENAME TO conversations;
ALTER TABLE messages_v2 RENAME TO messages;

-- Queues: by status (and assignee), urgent first, then by how long the customer waits.
CREATE INDEX tickets_queue ON tickets (status, priority, waiting_since);
CREATE INDEX tickets_assignee ON tickets (assignee_id, status, priority, waiting_since);
CREATE INDEX tickets_contact ON tickets (contact_id, id);
CREATE INDEX tickets_snoozed ON tickets (snooze_until) WHERE status = 'snoozed';
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
