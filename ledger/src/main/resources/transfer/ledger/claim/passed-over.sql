-- Which of the tasks some doorbells named are queued and passed over: their tenant, session, host
-- or origin is at its limit (limits.sql, in front of this). Run after a claim that took fewer tasks than
-- it could, in its transaction (its own claims count as running): the worker parks the later
-- doorbells of these sessions instead of claiming for each.
-- Parameter: the named task ids.
select t.id
from tasks t
where t.id = any(?) and t.state = 'queued'
  and (exists (select 1 from full_sessions f
               where f.tenant_id = t.tenant_id and f.session_id = t.session_id)
       or exists (select 1 from full_hosts f
                  where f.tenant_id = t.tenant_id and f.session_id = t.session_id
                    and f.host = t.host)
       or exists (select 1 from full_tenants f where f.tenant_id = t.tenant_id)
       or exists (select 1 from full_origins o where o.host = t.host))
