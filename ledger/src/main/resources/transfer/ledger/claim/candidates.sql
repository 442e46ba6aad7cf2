-- The best queued tasks by the URLSession scheduling order, leaving out those whose session or
-- host is at its limit: the limits are judged from the running tasks (few: at most the cluster's
-- slots), so the scan of the queue is one anti-join, however long the queue. No lock is taken:
-- claim-candidates.sql counts again under the sessions' locks.
-- Parameter: how many candidates at most. The per-host limit of a session stored without one is
-- filled in from SessionConfig.DEFAULT (Claims.claimSql).
with running as (
  select r.tenant_id, r.session_id, r.host, count(*) n
  from tasks r
  where r.state = 'running'
  group by r.tenant_id, r.session_id, r.host),
full_hosts as (
  select x.tenant_id, x.session_id, x.host
  from running x
  join sessions s on s.tenant_id = x.tenant_id and s.id = x.session_id
  where x.n >= coalesce((s.config->>'maxConnectionsPerHost')::int, ${default_max_connections_per_host})),
full_sessions as (
  select x.tenant_id, x.session_id
  from running x
  join sessions s on s.tenant_id = x.tenant_id and s.id = x.session_id
  where s.config->>'maxConcurrentTransfers' is not null
  group by x.tenant_id, x.session_id, s.config
  having sum(x.n) >= (s.config->>'maxConcurrentTransfers')::int)
select t.id, t.tenant_id, t.session_id
from tasks t
where t.state = 'queued'
  and not exists (select 1 from full_sessions f
                  where f.tenant_id = t.tenant_id and f.session_id = t.session_id)
  and not exists (select 1 from full_hosts f
                  where f.tenant_id = t.tenant_id and f.session_id = t.session_id
                    and f.host = t.host)
order by t.discretionary, t.priority desc, t.created_at
limit ?
