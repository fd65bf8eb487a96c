DROP TRIGGER organizations_delete_migration_lock;
DROP TABLE migration_locks;
