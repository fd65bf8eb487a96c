DROP TABLE pending_drops;
