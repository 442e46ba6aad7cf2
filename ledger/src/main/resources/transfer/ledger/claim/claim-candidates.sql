-- Claims up to a number of the candidates (task ids) in one statement, run under their sessions'
-- locks (and the tenants' of capped tenants): the limits are counted from the running tasks, and
-- the candidates of one session (host, tenant, origin) are ranked so that together they never pass
-- its limit. (An origin's cap is counted without a lock of its own: two claims at once for one
-- origin in different sessions may pass it by what the second claimed.) They are taken in the fair order of candidates.sql: by their tenant's running transfers
-- plus their place in the tenant's own order. Each claimed task gets a new lease: the epoch bumped
-- (the fencing token), the attempt counted.
-- Parameters: the candidates' ids, how many to claim at most, the owner, the lease's expiry, now.
-- The task columns (TaskRows.TASK_COLUMNS) are filled in where it returns, the per-host limit of a
-- session stored without one from SessionConfig.DEFAULT (Claims.claimSql).
with cands as (
  select c.id, c.tenant_id, c.session_id, c.host
  from tasks c
  where c.id = any(?) and c.state = 'queued'),
running as (
  select r.tenant_id, r.session_id, r.host, count(*) n
  from tasks r
  where r.state = 'running'
    and (r.tenant_id, r.session_id) in (select c.tenant_id, c.session_id from cands c)
  group by r.tenant_id, r.session_id, r.host),
tenant_running as (
  select r.tenant_id, count(*) n
  from tasks r
  where r.state = 'running'
    and r.tenant_id in (select c.tenant_id from cands c)
  group by r.tenant_id),
origin_running as (
  select r.host, count(*) n
  from tasks r
  where r.state = 'running'
    and r.host in (select c.host from cands c)
  group by r.host),
ranked as (
  select t.id, t.discretionary, t.priority, t.created_at,
    row_number() over (partition by t.tenant_id, t.session_id
                       order by t.discretionary, t.priority desc, t.created_at) as in_session,
    row_number() over (partition by t.tenant_id, t.session_id, t.host
                       order by t.discretionary, t.priority desc, t.created_at) as in_host,
    row_number() over (partition by t.tenant_id
                       order by t.discretionary, t.priority desc, t.created_at) as in_tenant,
    row_number() over (partition by t.host
                       order by t.discretionary, t.priority desc, t.created_at) as in_origin,
    coalesce((select sum(x.n) from running x
              where x.tenant_id = t.tenant_id and x.session_id = t.session_id), 0)
      as running_session,
    coalesce((select x.n from running x
              where x.tenant_id = t.tenant_id and x.session_id = t.session_id
                and x.host = t.host), 0) as running_host,
    coalesce((select x.n from tenant_running x where x.tenant_id = t.tenant_id), 0)
      as running_tenant,
    coalesce((select x.n from origin_running x where x.host = t.host), 0) as running_origin,
    (s.config->>'maxConcurrentTransfers')::int as max_session,
    coalesce((s.config->>'maxConnectionsPerHost')::int, ${default_max_connections_per_host}) as max_host,
    tn.quota_running_transfers as max_tenant
  from tasks t
  join cands c on c.id = t.id
  join sessions s on s.tenant_id = t.tenant_id and s.id = t.session_id
  join tenants tn on tn.id = t.tenant_id),
picked as (
  select id from ranked
  where running_host + in_host <= max_host
    and (max_session is null or running_session + in_session <= max_session)
    and (max_tenant is null or running_tenant + in_tenant <= max_tenant)
    and running_origin + in_origin <= ${max_connections_per_origin}
  order by discretionary, running_tenant + in_tenant, priority desc, created_at
  limit ?)
update tasks t
set state = 'running', lease_owner = ?, lease_epoch = t.lease_epoch + 1, lease_expires_at = ?,
    attempt = t.attempt + 1, next_attempt_at = null, updated_at = ?
from picked p, sessions s
where t.id = p.id and t.state = 'queued'
  and s.tenant_id = t.tenant_id and s.id = t.session_id
returning ${task_columns}, s.config as session_config
