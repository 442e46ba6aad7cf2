-- Waiting for connectivity (URLSession's waitsForConnectivity): a task waits out faults of the way
-- to its origin until its deadline, and those attempts do not use up retry.maxAttempts.
--
-- uncounted_attempts: attempts that ended in such a fault (or in a fault of the cluster's own
--   storage); the attempts that count against max_attempts are attempt - uncounted_attempts.
-- waiting_reason: why the task waits or last waited (transfer.contracts.WaitReasons); kept while
--   the task is queued and claimed again, so that one waiting spell announces itself once, and
--   cleared when an attempt moves bytes again.
alter table tasks add column uncounted_attempts integer not null default 0;
alter table tasks add column waiting_reason text;

-- As V13: small statistics samples for every column of tasks (StatisticsTargetsIT).
alter table tasks alter column uncounted_attempts set statistics 10;
alter table tasks alter column waiting_reason set statistics 10;
