-- What the other side answered (URLSession's task.response): a download's status, content type and
-- length, suggested file name, validators and final URL; an upload target's status, headers and the
-- first 64 KiB of its body (transfer.contracts.ReceivedResponse). Written with the completion.
alter table tasks add column response jsonb;

-- As V13: a payload no query filters on has no statistics (StatisticsTargetsIT).
alter table tasks alter column response set statistics 0;
