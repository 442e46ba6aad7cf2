-- The best queued tasks to claim, without reading the whole queue, in a fair order across tenants:
-- a tenant's tasks in the URLSession scheduling order (non-discretionary, then higher priority,
-- then older), the tenants interleaved by their running transfers, so that the tenant running the
-- fewest gets the next slot whatever priorities another tenant gives its own tasks. Tasks whose
-- tenant, session, host or origin is at its limit (limits.sql, in front of this) are left out. No
-- lock is taken: claim-candidates.sql counts again under the sessions' locks.
--
-- open_tenants: the tenants with queued tasks (queued_tenants) not at their cap.
-- fits: of the first rows of each tenant's queue in rank order (its head), those not at a limit,
--   at most as many as wanted.
-- short_tenants: a tenant whose head is at its limits (a large session at its per-host limit, say)
--   and is not its whole queue. The rest of its queue is reached group by group: groups walks its
--   (session, host) pairs on tasks_queued_by_group, one index descent each; of each pair not at a
--   limit, the best few (by_group). Its cost grows with the number of groups, not of queued tasks,
--   and it runs only for a tenant whose head came up short.
-- The pool's tasks are ranked by their tenant's running transfers plus their place in the
--   tenant's own order (the n-th best task of a tenant running r ranks r + n), non-discretionary
--   work of every tenant before discretionary work.
--
-- capped: the tenant has a cap on running transfers (quota_running_transfers), which the claim
--   counts under the tenant's lock.
--
-- No parameters: Claims.candidatesSql fills in the rows of a head and the candidates wanted, so
-- that PostgreSQL plans it once per connection (with parameters it would plan it again at every
-- execution: the generic plan's estimate, with a recursive walk of unknown length, looks dearer
-- than a custom plan's).
, open_tenants as (
  select g.tenant_id
  from queued_tenants g
  where not exists (select 1 from full_tenants f where f.tenant_id = g.tenant_id)),
fits as (
  select f.id, f.tenant_id, f.session_id, f.discretionary, f.priority, f.created_at
  from open_tenants g
  cross join lateral (
    select h.id, h.tenant_id, h.session_id, h.discretionary, h.priority, h.created_at
    from (select t.id, t.tenant_id, t.session_id, t.host, t.discretionary, t.priority, t.created_at
          from tasks t
          where t.state = 'queued' and t.tenant_id = g.tenant_id
          order by t.discretionary, t.priority desc, t.created_at
          limit ${head_rows}) h
    where not exists (select 1 from full_sessions f
                      where f.tenant_id = h.tenant_id and f.session_id = h.session_id)
      and not exists (select 1 from full_hosts f
                      where f.tenant_id = h.tenant_id and f.session_id = h.session_id
                        and f.host = h.host)
      and not exists (select 1 from full_origins o where o.host = h.host)
    order by h.discretionary, h.priority desc, h.created_at
    limit ${wanted}) f),
short_tenants as (
  select g.tenant_id
  from open_tenants g
  where (select count(*) from fits f where f.tenant_id = g.tenant_id) < ${wanted}
    and (select count(*) from (select 1 from tasks t
                               where t.state = 'queued' and t.tenant_id = g.tenant_id
                               limit ${head_rows}) q) >= ${head_rows}),
groups (tenant_id, session_id, host) as (
  select f.tenant_id, f.session_id, f.host
  from short_tenants s
  cross join lateral (
    select q.tenant_id, q.session_id, q.host
    from tasks q
    where q.state = 'queued' and q.tenant_id = s.tenant_id
    order by q.session_id, q.host
    limit 1) f
  union all
  select n.tenant_id, n.session_id, n.host
  from groups g
  cross join lateral (
    select q.tenant_id, q.session_id, q.host
    from tasks q
    where q.state = 'queued' and q.tenant_id = g.tenant_id
      and (q.session_id, q.host) > (g.session_id, g.host)
    order by q.session_id, q.host
    limit 1) n),
by_group as (
  select b.id, b.tenant_id, b.session_id, b.discretionary, b.priority, b.created_at
  from groups g
  cross join lateral (
    select t.id, t.tenant_id, t.session_id, t.discretionary, t.priority, t.created_at
    from tasks t
    where t.state = 'queued'
      and t.tenant_id = g.tenant_id and t.session_id = g.session_id and t.host = g.host
    order by t.discretionary, t.priority desc, t.created_at
    limit ${wanted}) b
  where not exists (select 1 from full_sessions f
                    where f.tenant_id = g.tenant_id and f.session_id = g.session_id)
    and not exists (select 1 from full_hosts f
                    where f.tenant_id = g.tenant_id and f.session_id = g.session_id
                      and f.host = g.host)
    and not exists (select 1 from full_origins o where o.host = g.host)),
pool as (
  select f.id, f.tenant_id, f.session_id, f.discretionary, f.priority, f.created_at
  from fits f
  where not exists (select 1 from short_tenants s where s.tenant_id = f.tenant_id)
  union all
  select b.id, b.tenant_id, b.session_id, b.discretionary, b.priority, b.created_at
  from by_group b)
select p.id, p.tenant_id, p.session_id, tn.quota_running_transfers is not null as capped
from (select p.*, row_number() over (partition by p.tenant_id
                                     order by p.discretionary, p.priority desc, p.created_at)
                    as in_tenant
      from pool p) p
join tenants tn on tn.id = p.tenant_id
left join tenant_running r on r.tenant_id = p.tenant_id
order by p.discretionary, coalesce(r.n, 0) + p.in_tenant, p.priority desc, p.created_at
limit ${wanted}
