-- The task table is a queue: thousands of rows change state every second, and the planner plans
-- the claim from statistics that say how many rows are queued and running. PostgreSQL's default
-- (analyze after 10% of the table changed, checked once a minute) left those statistics saying
-- "no task is queued" through a whole burst of work: the claim's candidate query then read every
-- queued task through an unrelated index and sorted them (6 to 10 ms for 2,000 queued tasks,
-- instead of under 1 ms on tasks_queued_by_rank). Analyze after a fixed number of changes instead,
-- whatever the table's size; the server's autovacuum_naptime decides how soon (the local cluster's
-- is 1 s; see worker-service/DESIGN.md).
alter table tasks set (
  autovacuum_analyze_threshold = 2000, autovacuum_analyze_scale_factor = 0,
  autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_scale_factor = 0.05);

-- Rows that live for milliseconds: vacuum them often, so their tables stay a few pages long.
alter table pending_events set (autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_scale_factor = 0);
alter table outbox set (autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_scale_factor = 0);

-- Fewer index entries per task change (every state change writes one into each index whose
-- predicate the new row matches). tasks_open_by_session (tenant_id, session_id) serves the
-- tenant's count of open tasks as well; and most tasks have no deadline.
drop index tasks_open_by_tenant;
drop index tasks_open_by_deadline;
create index tasks_open_by_deadline on tasks (deadline_at)
  where deadline_at is not null and state in ('queued', 'waiting', 'running', 'suspended');
