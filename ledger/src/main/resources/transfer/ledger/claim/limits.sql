-- The sessions and (session, host) pairs at their limits, judged from the running tasks (few: at
-- most the cluster's slots): the common table expressions candidates.sql and passed-over.sql begin
-- with (Claims.claimSql puts them in front). The per-host limit of a session stored without one is
-- filled in from SessionConfig.DEFAULT. (RECURSIVE: candidates.sql walks the queued groups.)
with recursive running as (
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
