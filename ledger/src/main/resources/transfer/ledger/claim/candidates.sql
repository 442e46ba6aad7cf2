-- The best queued tasks by the URLSession scheduling order, leaving out those whose session or
-- host is at its limit (limits.sql, in front of this), without reading the whole queue. No lock is
-- taken: claim-candidates.sql counts again under the sessions' locks.
--
-- fits: of the first rows of the queue in rank order (the head, on tasks_queued_by_rank), those
--   not at a limit, read until enough are found. Enough when they are as many as wanted, or when
--   the head is the whole queue (head_enough).
-- Otherwise the head of the queue is at its limits (a large session at its per-host limit, say),
-- and the rest of the queue is reached group by group: groups walks the (session, host) pairs of
-- the queued tasks on tasks_queued_by_group, one index descent each (a loose index scan); of each
-- pair not at a limit, the best few (by_group); the best of those overall. Its cost grows with the
-- number of groups, not of queued tasks, and it runs only when the head came up short.
--
-- No parameters: Claims.candidatesSql fills in the rows of the head and the candidates wanted, so
-- that PostgreSQL plans it once per connection (with parameters it would plan it again at every
-- execution: the generic plan's estimate, with a recursive walk of unknown length, looks dearer
-- than a custom plan's).
, fits as (
  select h.id, h.tenant_id, h.session_id, h.discretionary, h.priority, h.created_at
  from (select t.id, t.tenant_id, t.session_id, t.host, t.discretionary, t.priority, t.created_at
        from tasks t
        where t.state = 'queued'
        order by t.discretionary, t.priority desc, t.created_at
        limit ${head_rows}) h
  where not exists (select 1 from full_sessions f
                    where f.tenant_id = h.tenant_id and f.session_id = h.session_id)
    and not exists (select 1 from full_hosts f
                    where f.tenant_id = h.tenant_id and f.session_id = h.session_id
                      and f.host = h.host)
  order by h.discretionary, h.priority desc, h.created_at
  limit ${wanted}),
head_enough as (
  select (select count(*) from fits) >= ${wanted}
      or (select count(*) from (select 1 from tasks t where t.state = 'queued'
                                limit ${head_rows}) q) < ${head_rows} as yes),
groups (tenant_id, session_id, host) as (
  (select q.tenant_id, q.session_id, q.host
   from tasks q
   where q.state = 'queued'
   order by q.tenant_id, q.session_id, q.host
   limit 1)
  union all
  select n.tenant_id, n.session_id, n.host
  from groups g
  cross join lateral (
    select q.tenant_id, q.session_id, q.host
    from tasks q
    where q.state = 'queued'
      and (q.tenant_id, q.session_id, q.host) > (g.tenant_id, g.session_id, g.host)
    order by q.tenant_id, q.session_id, q.host
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
                      and f.host = g.host))
select f.id, f.tenant_id, f.session_id
from fits f
where (select yes from head_enough)
union all
(select b.id, b.tenant_id, b.session_id
 from by_group b
 where not (select yes from head_enough)
 order by b.discretionary, b.priority desc, b.created_at
 limit ${wanted})
