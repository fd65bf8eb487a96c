-- When something is next due in a tenant's database (a snoozed ticket waking up): the
-- scheduler asks this one table instead of every tenant. A row may be early (the tenant then
-- has nothing due, and the row moves to its next time), never late: it is written before the
-- tenant's own write commits. version moves on every write, so that a scheduler moving a row
-- on never undoes a newer one.
CREATE TABLE wakeups (
    org_id  INTEGER PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    due_at  INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

CREATE INDEX wakeups_due ON wakeups (due_at);
