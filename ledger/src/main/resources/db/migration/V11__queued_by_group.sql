-- Queued tasks by (session, host) group, best first within the group: when the head of the queue
-- is at its session's or host's limit (one large session at its per-host limit, say), the claim's
-- candidate query (claim/candidates.sql) walks the groups of queued tasks on this index, one index
-- descent per group, and reads the best few of each group not at a limit, instead of reading the
-- whole queue to find nothing. It replaces tasks_queued_by_session, whose (tenant_id, session_id)
-- prefix it keeps, so a task's state changes write no more index entries than before.
drop index tasks_queued_by_session;
create index tasks_queued_by_group
  on tasks (tenant_id, session_id, host, discretionary, priority desc, created_at)
  where state = 'queued';
