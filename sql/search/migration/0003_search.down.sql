-- Drops the full-text index (its shadow tables go with it).
DROP TABLE ticket_search;
