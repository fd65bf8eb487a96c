DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE tickets;
DROP TABLE agents;
