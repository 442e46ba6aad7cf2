-- Before each migration, inside its transaction (Flyway's beforeEachMigrate callback): a migration
-- waits at most this long for a lock, then fails and rolls back whole. A migration's DDL takes
-- strong locks (an index dropped, a column added); waiting behind one long transaction, its queued
-- request would hold up every read and write of that table behind it, for as long as that
-- transaction lasts. Failing instead leaves the ledger as it was and serving: the pod that migrated
-- fails to start and is started again (its rollout waits), and the next try finds the lock free.
-- 10 s by default; a database or role setting transfer.migration_lock_timeout changes it (alter
-- database … set transfer.migration_lock_timeout = '30s'). SET LOCAL: the setting ends with the
-- migration's transaction and never reaches the pool's other users.
select set_config(
  'lock_timeout',
  coalesce(nullif(current_setting('transfer.migration_lock_timeout', true), ''), '10s'),
  true);
