-- A resumable upload's resource (tus 1.0 or the IETF's resumable uploads): the URL the target
-- created for it, where any worker asks for the offset it holds and appends the rest. Recorded by
-- the heartbeat that follows its creation; cleared when a PATCH gives the task a new URL.
alter table tasks add column upload_resource text;

-- As V13: a payload no query filters on has no statistics (StatisticsTargetsIT).
alter table tasks alter column upload_resource set statistics 0;
