-- The outbox: what the desk must deliver outside the database (an email, a webhook call),
-- written in the same transaction as the change that causes it and delivered by a worker
-- afterwards, so that a crash, a restart or an outage of the receiver loses nothing.
--
-- kind names the sender that delivers an item; dedupe_key is unique per kind (one email per
-- address per event), so an event delivered twice to the outbox is stored once. target is
-- whom it goes to (an address, a URL), for the lists people read; ticket_id and message_id
-- say what caused it, when a ticket or a message did. state: pending (to deliver, at
-- next_attempt_at), sent, failed (given up; last_error says why). A worker claims an item
-- by leasing it (lease_holder until lease_until) before it delivers it, so that several
-- instances on one database deliver each item once and the lease of an instance that died
-- runs out. Times are Unix seconds.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    dedupe_key      TEXT    NOT NULL,
    target          TEXT    NOT NULL DEFAULT '',
    ticket_id       INTEGER REFERENCES tickets (id) ON DELETE CASCADE,
    message_id      INTEGER REFERENCES messages (id) ON DELETE SET NULL,
    payload         BLOB    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_holder    TEXT,
    lease_until     INTEGER,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    done_at         INTEGER
);

CREATE UNIQUE INDEX outbox_dedupe ON outbox (kind, dedupe_key);
-- The worker asks for what is due; pages ask for a ticket's items and for the failed ones.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_ticket ON outbox (ticket_id, id) WHERE ticket_id IS NOT NULL;
CREATE INDEX outbox_state ON outbox (state, kind, id);
