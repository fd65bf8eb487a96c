-- The full-text index of the tenant's tickets (package sql/search). Each document is one
-- searchable text: a ticket's question (kind 1), a message (2), a note (3), the contact
-- (4), the tags (5); rowid = source row id * 8 + kind, so a search tells from the rowid
-- alone which documents the viewer may find (notes, contacts and tags: staff only). The store
-- writes it in the transaction of every write (search.Put, search.Remove); this migration
-- fills it for existing tenants, as `tenants reindex` does (search.Rebuild). Explicit
-- statements, no triggers: the store knows every kind of text, including ones no trigger
-- sees (tags joined into one document).
CREATE VIRTUAL TABLE ticket_search USING fts5(
    body,
    ticket_id UNINDEXED,
    kind UNINDEXED,
    created_at UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

-- The snippet markers (U+E000–U+E002) and NUL never enter the index.
INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT id * 8 + 1, replace(replace(replace(replace(query, char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), id, 1, created_at FROM tickets;

INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT id * 8 + 4, replace(replace(replace(replace(customer_name || ' ' || customer_email, char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), id, 4, created_at FROM tickets;

INSERT INTO ticket_search (rowid, body, ticket_id, kind, created_at)
SELECT m.id * 8 + 2, replace(replace(replace(replace(m.body, char(57344), ' '), char(57345), ' '), char(57346), ' '), char(0), ' '), c.ticket_id, 2, m.created_at
FROM messages m JOIN conversations c ON c.id = m.conversation_id;

INSERT INTO ticket_search (ticket_search) VALUES ('optimize');
