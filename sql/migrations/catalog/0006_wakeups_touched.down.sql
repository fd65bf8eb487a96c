ALTER TABLE wakeups DROP COLUMN touched_at;
