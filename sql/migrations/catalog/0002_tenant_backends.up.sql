-- Where each tenant database lives beyond its URL: the backend that made it ('local', 'sqld',
-- 'turso'), so that a database is never opened by another kind, and the credential that opens
-- it (an sqld namespace's signing key or a Turso database token), sealed with AES-256-GCM by
-- sql/tenantdb; never stored in clear. Rows from before this migration are local files.
ALTER TABLE organizations ADD COLUMN db_backend TEXT NOT NULL DEFAULT 'local';
ALTER TABLE organizations ADD COLUMN db_secret TEXT NOT NULL DEFAULT '';
