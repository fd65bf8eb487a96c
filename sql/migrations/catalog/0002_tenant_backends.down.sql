ALTER TABLE organizations DROP COLUMN db_secret;
ALTER TABLE organizations DROP COLUMN db_backend;
