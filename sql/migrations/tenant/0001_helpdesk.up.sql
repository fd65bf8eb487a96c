-- One organization's helpdesk. Times are Unix seconds.

-- Agents an organization onboarded. must_change_password stays 1 until the agent replaces the
-- one-time initial password.
CREATE TABLE agents (
    id                   INTEGER PRIMARY KEY,
    full_name            TEXT    NOT NULL,
    email                TEXT    NOT NULL UNIQUE,
    password_hash        TEXT    NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 1,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

-- Tickets opened by customers. token_hash is the SHA-256 of the customer's private link token;
-- the token itself is never stored.
CREATE TABLE tickets (
    id             INTEGER PRIMARY KEY,
    customer_name  TEXT    NOT NULL,
    customer_email TEXT    NOT NULL,
    query          TEXT    NOT NULL,
    token_hash     BLOB    NOT NULL UNIQUE,
    status         TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'engaged', 'closed')),
    rating         INTEGER CHECK (rating BETWEEN 1 AND 5),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    closed_at      INTEGER
);

-- Dashboards list tickets by state, newest first.
CREATE INDEX tickets_status ON tickets (status, id);

-- A conversation starts when an agent engages a ticket; a ticket has at most one.
CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL UNIQUE REFERENCES tickets (id) ON DELETE CASCADE,
    agent_id   INTEGER NOT NULL REFERENCES agents (id),
    created_at INTEGER NOT NULL
);

-- The agent dashboard lists an agent's conversations.
CREATE INDEX conversations_agent ON conversations (agent_id, id);

-- Messages of a conversation. The sender is decided by the server.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender          TEXT    NOT NULL CHECK (sender IN ('agent', 'customer')),
    agent_id        INTEGER REFERENCES agents (id),
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);

-- Polls ask for the messages of one conversation newer than an id.
CREATE INDEX messages_conversation ON messages (conversation_id, id);
