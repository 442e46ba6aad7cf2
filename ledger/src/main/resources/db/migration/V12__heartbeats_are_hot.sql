-- A heartbeat (lease renewal, progress, checkpoint) of a running task writes no indexed column, so
-- PostgreSQL can update the row in its page without a new entry in any of the task table's indexes
-- (a HOT update): with tasks_running_by_lease, each renewal wrote a new entry in every index of a
-- running task (six), since it changes lease_expires_at. The reaper finds expired leases among the
-- running tasks on tasks_running_by_session (at most the cluster's slots), filtering on the expiry.
-- Free space left in each page (fillfactor) is where the new version of a heartbeat's row goes.
drop index tasks_running_by_lease;
alter table tasks set (fillfactor = 80);
