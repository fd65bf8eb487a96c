-- The catalog: one row per organization and where its database lives.
-- Times are Unix seconds (go-libsql turns date-like TEXT into time.Time).
CREATE TABLE organizations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: sessions name organizations by id
    name           TEXT    NOT NULL,
    website        TEXT    NOT NULL DEFAULT '',
    username       TEXT    NOT NULL UNIQUE,
    email          TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    logo           TEXT    NOT NULL DEFAULT '',
    db_name        TEXT    NOT NULL UNIQUE,
    db_url         TEXT    NOT NULL,
    schema_version INTEGER NOT NULL DEFAULT 0,
    migration_error TEXT   NOT NULL DEFAULT '',
    migrated_at    INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- The landing page lists organizations by name.
CREATE INDEX organizations_name ON organizations (name, id);
