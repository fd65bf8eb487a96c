-- Who is migrating a tenant database right now: `tenantdesk migrate` and the server's lazy
-- migration on first open both take this row before running a tenant's migrations, so that two
-- processes never migrate the same tenant at once. A holder that dies leaves its row behind
-- until expires_at (Unix seconds); holders refresh it while they work.
CREATE TABLE migration_locks (
    db_name    TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

-- A deleted organization leaves no lock behind.
CREATE TRIGGER organizations_delete_migration_lock AFTER DELETE ON organizations
BEGIN
    DELETE FROM migration_locks WHERE db_name = OLD.db_name;
END;
