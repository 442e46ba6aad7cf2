-- The sessions, (session, host) pairs, tenants and origins at their limits, judged from the running
-- tasks (few: at most the cluster's slots), and each tenant's running transfers: the common table
-- expressions candidates.sql, passed-over.sql and hand-backs.sql begin with (Claims.claimSql puts
-- them in front). The per-host limit of a session stored without one is filled in from
-- SessionConfig.DEFAULT. A tenant's cap is its quota_running_transfers (null: none). An origin's
-- (host and port, whatever the tenant and session) is the cluster's politeness cap
-- (ClaimStatements: transfer.worker.max-connections-per-origin). queued_tenants
-- are the tenants with queued tasks, one index descent each (a loose index scan on
-- tasks_queued_by_tenant_rank); like every expression here it is read only where a statement
-- refers to it. (RECURSIVE: for queued_tenants, and candidates.sql walks the groups of a queue.)
with recursive running as (
  select r.tenant_id, r.session_id, r.host, count(*) n
  from tasks r
  where r.state = 'running'
  group by r.tenant_id, r.session_id, r.host),
tenant_running as (
  select x.tenant_id, sum(x.n) n
  from running x
  group by x.tenant_id),
full_tenants as (
  select x.tenant_id
  from tenant_running x
  join tenants tn on tn.id = x.tenant_id
  where x.n >= tn.quota_running_transfers),
full_origins as (
  select x.host
  from running x
  group by x.host
  having sum(x.n) >= ${max_connections_per_origin}),
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
  having sum(x.n) >= (s.config->>'maxConcurrentTransfers')::int),
queued_tenants (tenant_id) as (
  (select q.tenant_id
   from tasks q
   where q.state = 'queued'
   order by q.tenant_id
   limit 1)
  union all
  select n.tenant_id
  from queued_tenants g
  cross join lateral (
    select q.tenant_id
    from tasks q
    where q.state = 'queued' and q.tenant_id > g.tenant_id
    order by q.tenant_id
    limit 1) n)
