DROP TABLE portal_links;
DROP TABLE mailbox;
DROP TABLE inbound_emails;
DROP TABLE agent_email_prefs;
DROP TABLE email_tickets;
DROP TABLE email_ids;
ALTER TABLE tickets DROP COLUMN access_version;
