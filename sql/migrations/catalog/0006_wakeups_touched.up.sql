-- When a tenant's wake-up was last recorded (Unix seconds). A scheduler that finds nothing
-- due in a tenant whose wake-up was recorded moments ago keeps the row for a while instead of
-- deleting it: the write that recorded it may not have committed yet when the scheduler
-- looked, and deleting the row would leave that write unscheduled.
ALTER TABLE wakeups ADD COLUMN touched_at INTEGER NOT NULL DEFAULT 0;
