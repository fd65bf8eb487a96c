-- Removes the full-text index (its shadow tables go with it, its triggers with their tables'
-- statements below) and the attachments.
DROP TRIGGER messages_search_public;
DROP TRIGGER messages_search_note;
DROP TRIGGER messages_search_delete;
DROP TRIGGER tickets_search_insert;
DROP TRIGGER tickets_search_delete;
DROP TRIGGER contacts_search_rename;
DROP TRIGGER ticket_tags_search_insert;
DROP TRIGGER ticket_tags_search_delete;
DROP TABLE ticket_search;
DROP TABLE attachment_chunks;
DROP TABLE attachments;
