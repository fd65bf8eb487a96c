-- Tenant databases that must still be deleted on their backend: the database of a deleted
-- organization until the backend confirms the deletion, and a database that a failed
-- registration may have left behind (the backend's answer to its creation was lost, or
-- deleting it again failed). The server retries them at start and on a timer; holder and
-- held_until say who is deleting one right now, so that two processes never race on a name.
-- Times are Unix seconds.
CREATE TABLE pending_drops (
    backend    TEXT    NOT NULL,           -- 'local', 'sqld' or 'turso'
    db_name    TEXT    NOT NULL,
    reason     TEXT    NOT NULL,           -- 'deleted' or 'orphan'
    created_at INTEGER NOT NULL,
    not_before INTEGER NOT NULL,           -- the next attempt waits until then
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT    NOT NULL DEFAULT '',
    holder     TEXT    NOT NULL DEFAULT '',
    held_until INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (backend, db_name)
);
