-- Integration and accountability: API tokens, the audit log, webhook endpoints and the log of
-- their deliveries. New tables only (expand): an older binary never reads them. Times are Unix
-- seconds.

-- An API token acts as the organization (agent_id NULL) or as one agent. Only the SHA-256 of
-- the token is stored; the token itself is shown once, when it is made. A revoked token keeps
-- its row, so the list and the audit log can still name it.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL UNIQUE,
    agent_id     INTEGER REFERENCES agents (id),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

-- Who did what, when and from where. event is a dotted name (login.succeeded,
-- agent.role_changed, …; not a column named action: a libsql-server writes that keyword upper
-- case into an index's stored SQL, and an export from it would no longer match the schema); actor_kind is owner, agent, system or customer, actor_id the agent's
-- id, api_token_id set when the actor came through an API token; target names what was acted
-- on; detail is JSON that never holds a secret; ip is the client address as the server saw it.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    event        TEXT    NOT NULL,
    actor_kind   TEXT    NOT NULL,
    actor_id     INTEGER,
    actor_name   TEXT    NOT NULL DEFAULT '',
    api_token_id INTEGER,
    target_kind  TEXT    NOT NULL DEFAULT '',
    target_id    INTEGER,
    detail       TEXT    NOT NULL DEFAULT '',
    ip           TEXT    NOT NULL DEFAULT ''
);

-- The audit page filters by event and by actor, newest first.
CREATE INDEX audit_log_event ON audit_log (event, id);
CREATE INDEX audit_log_actor ON audit_log (actor_kind, actor_id, id);

-- Where the organization's webhooks go. events is a comma-separated list of event names;
-- secret is the signing secret sealed (AES-256-GCM, key derived from the server secret): it is
-- needed in clear to sign, so it cannot be hashed. A removed endpoint keeps its row
-- (removed_at) for its delivery log.
CREATE TABLE webhook_endpoints (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    url        TEXT    NOT NULL,
    events     TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    removed_at INTEGER
);

-- One event for one endpoint: its body as sent (every attempt sends the same bytes and event
-- id), where it stands and what the last attempt got (answer: at most 1 KB of the body).
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints (id),
    event_id        TEXT    NOT NULL,
    event           TEXT    NOT NULL,
    ticket_id       INTEGER,
    body            TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    status_code     INTEGER,
    error           TEXT    NOT NULL DEFAULT '',
    duration_ms     INTEGER,
    answer          TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    last_attempt_at INTEGER,
    delivered_at    INTEGER
);

-- An endpoint's delivery log, newest first.
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

-- The deliveries still to make, by endpoint and ticket: a delivery waits for the older ones of
-- its ticket, and the next one is found when one is settled, without reading the whole log.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, ticket_id, id) WHERE state = 'pending';
