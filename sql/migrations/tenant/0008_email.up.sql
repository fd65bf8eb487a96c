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

-- The subject of a ticket opened by email (its emails keep it; empty: the first line of its
-- question, as for a ticket opened on the web), and the closed ticket it follows up when a
-- reply to that one opened it: later replies to the closed ticket join the follow-up.
CREATE TABLE email_tickets (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    subject   TEXT    NOT NULL,
    follows   INTEGER REFERENCES tickets (id) ON DELETE SET NULL
);

CREATE INDEX email_tickets_follows ON email_tickets (follows) WHERE follows IS NOT NULL;

-- An agent's choice of emails: new_tickets (a new unassigned ticket) is opt-in.
CREATE TABLE agent_email_prefs (
    agent_id    INTEGER PRIMARY KEY REFERENCES agents (id),
    new_tickets INTEGER NOT NULL DEFAULT 0
);

-- Every email received (by the built-in receiver or from the organization's IMAP mailbox),
-- once: dedupe_key is its Message-ID (or, without one, the hash of its bytes), so a sending
-- server's retry or a re-scanned mailbox stores nothing twice. ticket_id and message_id are
-- what it became; raw is the email as received and text its whole text with the quoted
-- history, for agents to open. auto says why it was written by a program ('' for a person's
-- email): such mail is stored and never answered automatically.
CREATE TABLE inbound_emails (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key TEXT    NOT NULL UNIQUE,
    ticket_id  INTEGER REFERENCES tickets (id) ON DELETE SET NULL,
    message_id INTEGER REFERENCES messages (id) ON DELETE SET NULL,
    source     TEXT    NOT NULL CHECK (source IN ('smtp', 'imap')),
    sender     TEXT    NOT NULL,
    subject    TEXT    NOT NULL DEFAULT '',
    auto       TEXT    NOT NULL DEFAULT '',
    raw        BLOB    NOT NULL,
    text       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE INDEX inbound_emails_ticket ON inbound_emails (ticket_id, id);
CREATE INDEX inbound_emails_message ON inbound_emails (message_id) WHERE message_id IS NOT NULL;

-- The organization's IMAP mailbox: where its import stands (UIDVALIDITY, the last UID
-- imported, the end of a re-scan after a UIDVALIDITY change), stored with each imported
-- message; when it is polled next; the poll under way (lease_holder until lease_until, so
-- that one instance polls it at a time); the last problem, for the settings page.
-- connected_at is when the first poll found the mailbox (by the wall clock, as the IMAP
-- server's dates are): what it held then is left alone, also when a renumbered folder is
-- scanned again. One row at most; it goes with the IMAP settings.
CREATE TABLE mailbox (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    uid_validity INTEGER NOT NULL DEFAULT 0,
    last_uid     INTEGER NOT NULL DEFAULT 0,
    rescan_below INTEGER NOT NULL DEFAULT 0,
    next_poll_at INTEGER NOT NULL DEFAULT 0,
    lease_holder TEXT,
    lease_until  INTEGER,
    last_error   TEXT    NOT NULL DEFAULT '',
    polled_at    INTEGER NOT NULL DEFAULT 0,
    imported     INTEGER NOT NULL DEFAULT 0,
    connected_at INTEGER NOT NULL DEFAULT 0
);

-- Sign-in links of the customer portal: the hash of a link's token (the token itself is only
-- in the email sent), the contact whose tickets it lists, until when it works, and when it was
-- used (it works once).
CREATE TABLE portal_links (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash BLOB    NOT NULL UNIQUE,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    created_at INTEGER NOT NULL
);

CREATE INDEX portal_links_contact ON portal_links (contact_id, created_at);
