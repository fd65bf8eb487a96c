-- The email channel. Times are Unix seconds.

-- access_version moves when the team rotates a customer's access: the customer's link, the
-- signed links and reply addresses of earlier emails stop working.
ALTER TABLE tickets ADD COLUMN access_version INTEGER NOT NULL DEFAULT 0;

-- The Message-IDs of a ticket's emails, sent and received (without angle brackets): the
-- threading headers of the next email, and how a reply finds its ticket. audience says who
-- saw the email: the customer (the customer's emails and ours to it) or the team (our
-- notifications to agents); a customer's email chains only the first kind.
CREATE TABLE email_ids (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT    NOT NULL UNIQUE,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    audience   TEXT    NOT NULL CHECK (audience IN ('customer', 'team')),
    created_at INTEGER NOT NULL
);

CREATE INDEX email_ids_ticket ON email_ids (ticket_id, id);

-- The subject of a ticket opened by email (its emails keep it); a ticket opened on the web
-- takes the first line of its question.
CREATE TABLE email_tickets (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    subject   TEXT    NOT NULL
);

-- An agent's choice of emails: new_tickets (a new unassigned ticket) is opt-in.
CREATE TABLE agent_email_prefs (
    agent_id    INTEGER PRIMARY KEY REFERENCES agents (id),
    new_tickets INTEGER NOT NULL DEFAULT 0
);
