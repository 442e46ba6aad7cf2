-- Fair shares of the workers among tenants (claim/candidates.sql, claim/hand-backs.sql).

-- A tenant's own cap on its running transfers; null: no cap but its fair share.
alter table tenants add column quota_running_transfers integer
  constraint quota_running_transfers_range check (quota_running_transfers >= 1);

-- The claim reads the queue tenant by tenant, each tenant's queue in rank order (non-discretionary,
-- then higher priority, then older), and walks the tenants with queued work on the same index, one
-- descent per tenant. It replaces tasks_queued_by_rank, the whole queue's rank order, which only
-- a claim that ranked every tenant's tasks together read: a task's state changes write no more
-- index entries than before.
drop index tasks_queued_by_rank;
create index tasks_queued_by_tenant_rank on tasks (tenant_id, discretionary, priority desc, created_at)
  where state = 'queued';
