-- Full-text search and attachments, both inside the tenant's database.
--
-- ticket_search is one FTS5 table holding a copy of every searchable text (package sql/search
-- explains the choice of a plain FTS5 table): a message the customer sees (kind 2), an
-- internal note (3), the ticket's contact, name and email (4), its tags (5), and the question
-- of a ticket whose conversation does not hold it as a message (1: tickets that an agent had
-- taken before every conversation started with its question). A document's rowid is its
-- source row's id * 8 + its kind, so a search tells from the rowid alone what the viewer may
-- find (notes, contacts and tags: the team only). Activity lines are not indexed.
--
-- Triggers keep the index in the transaction of every write, whoever writes: the web, email,
-- the API, an import. Every text goes through the same replace() chain, which turns the
-- snippet markers (U+E000–U+E002) and NUL into spaces, so that in snippet() output the
-- markers can only be FTS5's. The statements that fill the index here are the ones
-- `tenants reindex` runs (sql/search/index.go); a test checks that both agree with what the
-- triggers write.
CREATE VIRTUAL TABLE ticket_search USING fts5(
    body,
    ticket_id UNINDEXED,
    kind UNINDEXED,
    created_at UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT m.id * 8 + 2, replace(replace(replace(replace(m.body, char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), v.ticket_id, 2, m.created_at
FROM messages m JOIN conversations v ON v.id = m.conversation_id
WHERE m.sender IN ('customer', 'agent');

INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT m.id * 8 + 3, replace(replace(replace(replace(m.body, char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), v.ticket_id, 3, m.created_at
FROM messages m JOIN conversations v ON v.id = m.conversation_id
WHERE m.sender = 'note';

INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT t.id * 8 + 4, replace(replace(replace(replace(t.customer_name || ' ' || t.customer_email || iif(c.name <> t.customer_name, ' ' || c.name, ''), char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), t.id, 4, t.created_at
FROM tickets t JOIN contacts c ON c.id = t.contact_id;

INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT g.ticket_id * 8 + 5, replace(replace(replace(replace(g.tags, char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), g.ticket_id, 5, t.created_at
FROM (SELECT ticket_id, group_concat(tag, ' ') AS tags FROM ticket_tags GROUP BY ticket_id) g
JOIN tickets t ON t.id = g.ticket_id;

INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT t.id * 8 + 1, replace(replace(replace(replace(t.query, char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), t.id, 1, t.created_at
FROM tickets t JOIN conversations v ON v.ticket_id = t.id
WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = v.id AND m.sender = 'customer' AND m.body = t.query);

-- Merging the index's b-trees after the bulk load makes the first searches as fast as later ones.
INSERT INTO ticket_search (ticket_search) VALUES ('optimize');

CREATE TRIGGER messages_search_public AFTER INSERT ON messages WHEN new.sender IN ('customer', 'agent') BEGIN
    INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
    SELECT new.id * 8 + 2, replace(replace(replace(replace(new.body, char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), v.ticket_id, 2, new.created_at
    FROM conversations v WHERE v.id = new.conversation_id;
END;

CREATE TRIGGER messages_search_note AFTER INSERT ON messages WHEN new.sender = 'note' BEGIN
    INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
    SELECT new.id * 8 + 3, replace(replace(replace(replace(new.body, char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), v.ticket_id, 3, new.created_at
    FROM conversations v WHERE v.id = new.conversation_id;
END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    DELETE FROM ticket_search WHERE rowid IN (old.id * 8 + 2, old.id * 8 + 3);
END;

CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
    SELECT new.id * 8 + 4, replace(replace(replace(replace(new.customer_name || ' ' || new.customer_email || iif(c.name <> new.customer_name, ' ' || c.name, ''), char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), new.id, 4, new.created_at
    FROM contacts c WHERE c.id = new.contact_id;
END;

CREATE TRIGGER tickets_search_delete AFTER DELETE ON tickets BEGIN
    DELETE FROM ticket_search WHERE rowid IN (old.id * 8 + 1, old.id * 8 + 4, old.id * 8 + 5);
END;

-- A contact renamed (a customer writing again under another name) is found under both names
-- on every ticket of theirs. (Documents are deleted and inserted again, never INSERT OR
-- REPLACE'd: inside a trigger FTS5 takes the conflict policy of the statement that fired it.)
CREATE TRIGGER contacts_search_rename AFTER UPDATE OF name ON contacts WHEN old.name IS NOT new.name BEGIN
    DELETE FROM ticket_search WHERE rowid IN (SELECT id * 8 + 4 FROM tickets WHERE contact_id = new.id);
    INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
    SELECT t.id * 8 + 4, replace(replace(replace(replace(t.customer_name || ' ' || t.customer_email || iif(new.name <> t.customer_name, ' ' || new.name, ''), char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), t.id, 4, t.created_at
    FROM tickets t WHERE t.contact_id = new.id;
END;

CREATE TRIGGER ticket_tags_search_insert AFTER INSERT ON ticket_tags BEGIN
    DELETE FROM ticket_search WHERE rowid = new.ticket_id * 8 + 5;
    INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
    SELECT new.ticket_id * 8 + 5, replace(replace(replace(replace(group_concat(g.tag, ' '), char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), new.ticket_id, 5, t.created_at
    FROM ticket_tags g JOIN tickets t ON t.id = g.ticket_id WHERE g.ticket_id = new.ticket_id
    GROUP BY g.ticket_id;
END;

CREATE TRIGGER ticket_tags_search_delete AFTER DELETE ON ticket_tags BEGIN
    DELETE FROM ticket_search WHERE rowid = old.ticket_id * 8 + 5;
    INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
    SELECT old.ticket_id * 8 + 5, replace(replace(replace(replace(group_concat(g.tag, ' '), char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), old.ticket_id, 5, t.created_at
    FROM ticket_tags g JOIN tickets t ON t.id = g.ticket_id WHERE g.ticket_id = old.ticket_id
    GROUP BY g.ticket_id;
END;

-- Attachments: files of messages, stored in the database in chunks of at most 256 KiB, so that
-- exports, imports, backups, replicas and deletion carry them with no other store. A file is
-- written chunk by chunk while it uploads (message_id NULL: staged, seen by nobody, counted
-- against the quota) and joins its message in the message's transaction; a staged file whose
-- upload broke off is deleted, by the upload or, after a crash, by the next one's sweep.
-- type is sniffed from the content; sha256 (of the whole file, once complete) is its ETag.
CREATE TABLE attachments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    size       INTEGER NOT NULL DEFAULT 0,
    sha256     BLOB,
    content_id TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

CREATE INDEX attachments_message ON attachments (message_id, id);
CREATE INDEX attachments_staged ON attachments (created_at) WHERE message_id IS NULL;

CREATE TABLE attachment_chunks (
    attachment_id INTEGER NOT NULL REFERENCES attachments (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    data          BLOB    NOT NULL,
    PRIMARY KEY (attachment_id, seq)
);
