-- The best queued tasks by the URLSession scheduling order, leaving out those whose session or
-- host is at its limit (limits.sql, in front of this), so the scan of the queue is one anti-join,
-- however long the queue. No lock is taken: claim-candidates.sql counts again under the sessions'
-- locks.
-- Parameter: how many candidates at most.
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
