-- Which of a worker's running transfers to hand back so that a tenant below its fair share gets a
-- slot: the fair share is the running transfers of the cluster divided among the tenants that
-- run transfers or have claimable tasks no slot has taken for a while (queued since before the
-- cutoff, not at a tenant, session, host or origin limit: limits.sql, in front of this). The transfers to
-- hand back are chosen for the whole cluster, the same on every worker that asks in the same
-- moment: of each tenant above its share, its least important transfers (discretionary first,
-- then the lowest priority, then the newest task) beyond the share, no more in all than the
-- waiting tenants need to reach theirs; each worker is answered those it holds.
-- A waiting tenant's claimable tasks are counted in the head of its queue (${head_rows} rows in
-- its rank order): a tenant whose head is all at its session's or host's limits waits for a slot
-- that frees.
-- Parameters: the cutoff (now less the grace a queued task is given), the worker (lease owner).
, totals as (
  select coalesce(sum(r.n), 0) total
  from tenant_running r),
waiting as (
  select g.tenant_id, w.n
  from queued_tenants g
  cross join lateral (
    select count(*) n
    from (select t.session_id, t.host, t.updated_at
          from tasks t
          where t.state = 'queued' and t.tenant_id = g.tenant_id
          order by t.discretionary, t.priority desc, t.created_at
          limit ${head_rows}) h
    where h.updated_at < ?
      and not exists (select 1 from full_sessions f
                      where f.tenant_id = g.tenant_id and f.session_id = h.session_id)
      and not exists (select 1 from full_hosts f
                      where f.tenant_id = g.tenant_id and f.session_id = h.session_id
                        and f.host = h.host)
      and not exists (select 1 from full_origins o where o.host = h.host)) w
  where w.n > 0
    and not exists (select 1 from full_tenants f where f.tenant_id = g.tenant_id)),
share as (
  select greatest(1, (select total from totals)
                     / greatest(1, (select count(*) from (select r.tenant_id from tenant_running r
                                                          union
                                                          select w.tenant_id from waiting w) a)))
    as s),
need as (
  select coalesce(sum(least(w.n, greatest(0, (select s from share) - coalesce(r.n, 0)))), 0) n
  from waiting w
  left join tenant_running r on r.tenant_id = w.tenant_id),
over_share as (
  select r.tenant_id, r.n - (select s from share) as excess
  from tenant_running r
  where r.n > (select s from share)
    and exists (select 1 from waiting)),
victims as (
  select t.id, t.lease_owner, o.excess,
    row_number() over (partition by t.tenant_id
                       order by t.discretionary desc, t.priority, t.created_at desc, t.id) as rn
  from tasks t
  join over_share o on o.tenant_id = t.tenant_id
  where t.state = 'running')
select v.id
from (select v.id, v.lease_owner
      from victims v
      where v.rn <= v.excess
      order by v.rn, v.excess desc, v.id
      limit (select n from need)) v
where v.lease_owner = ?
