-- Downloads count against the tenant's bytes-stored quota while they are written, not only once
-- complete: a worker reserves room for the bytes it is about to write, in steps, before writing them
-- (Reservations.java), and an open download counts as what it reserved. Reservations of one tenant
-- are granted one at a time (an advisory lock per tenant), against the tenant's usage, so writers
-- at once share the room left instead of each seeing all of it. A completed download counts as its
-- size from then on; a failed or canceled one counts nothing.
alter table tasks add column bytes_reserved bigint not null default 0;

-- As V13: a payload no query filters on has no statistics (StatisticsTargetsIT).
alter table tasks alter column bytes_reserved set statistics 0;

create or replace function tenant_usage_of_tasks() returns trigger language plpgsql as $$
begin
  -- A task counts as in flight while not final. A download's bytes count while it is open as what it
  -- reserved (bytes_reserved), and once completed as its size; a failed or canceled one's not.
  if tg_op = 'INSERT' then
    insert into tenant_usage as u (tenant_id, slot, tasks_in_flight, bytes_stored)
      select tenant_id, pg_backend_pid() % 16,
             count(*) filter (where state in ('queued', 'waiting', 'running', 'suspended')),
             coalesce(sum(case when type <> 'download' then 0
                                   when state = 'completed' then bytes_transferred
                                   when state in ('queued', 'waiting', 'running', 'suspended') then bytes_reserved
                                   else 0 end), 0)
        from new_tasks group by tenant_id
      having count(*) filter (where state in ('queued', 'waiting', 'running', 'suspended')) <> 0
          or coalesce(sum(case when type <> 'download' then 0
                                   when state = 'completed' then bytes_transferred
                                   when state in ('queued', 'waiting', 'running', 'suspended') then bytes_reserved
                                   else 0 end), 0) <> 0
      order by tenant_id
    on conflict (tenant_id, slot) do update
      set tasks_in_flight = u.tasks_in_flight + excluded.tasks_in_flight,
          bytes_stored = u.bytes_stored + excluded.bytes_stored;
  elsif tg_op = 'DELETE' then
    insert into tenant_usage as u (tenant_id, slot, tasks_in_flight, bytes_stored)
      select tenant_id, pg_backend_pid() % 16,
             -count(*) filter (where state in ('queued', 'waiting', 'running', 'suspended')),
             -coalesce(sum(case when type <> 'download' then 0
                                    when state = 'completed' then bytes_transferred
                                    when state in ('queued', 'waiting', 'running', 'suspended') then bytes_reserved
                                    else 0 end), 0)
        from old_tasks group by tenant_id
      having count(*) filter (where state in ('queued', 'waiting', 'running', 'suspended')) <> 0
          or coalesce(sum(case when type <> 'download' then 0
                                   when state = 'completed' then bytes_transferred
                                   when state in ('queued', 'waiting', 'running', 'suspended') then bytes_reserved
                                   else 0 end), 0) <> 0
      order by tenant_id
    on conflict (tenant_id, slot) do update
      set tasks_in_flight = u.tasks_in_flight + excluded.tasks_in_flight,
          bytes_stored = u.bytes_stored + excluded.bytes_stored;
  else
    -- An update: what the new rows count minus what the old ones did. Most updates (heartbeats,
    -- checkpoints, claims, retries) move tasks only among the open states, which changes neither
    -- count (a reservation, which changes bytes_reserved of an open task, counts its own grant in
    -- the statement that makes it, Reservations.java): they stop at this first look (a scan of each transition table, no join, whose cached
    -- plan stays linear however many rows a later statement changes).
    if not exists (select 1 from new_tasks
                    where state not in ('queued', 'waiting', 'running', 'suspended'))
       and not exists (select 1 from old_tasks
                        where state not in ('queued', 'waiting', 'running', 'suspended')) then
      return null;
    end if;
    insert into tenant_usage as u (tenant_id, slot, tasks_in_flight, bytes_stored)
      select tenant_id, pg_backend_pid() % 16, sum(open), sum(bytes)
        from (select tenant_id,
                     (state in ('queued', 'waiting', 'running', 'suspended'))::int as open,
                     case when type <> 'download' then 0
                          when state = 'completed' then bytes_transferred
                          when state in ('queued', 'waiting', 'running', 'suspended') then bytes_reserved
                          else 0 end as bytes
                from new_tasks
              union all
              select tenant_id,
                     -(state in ('queued', 'waiting', 'running', 'suspended'))::int,
                     case when type <> 'download' then 0
                          when state = 'completed' then -bytes_transferred
                          when state in ('queued', 'waiting', 'running', 'suspended') then -bytes_reserved
                          else 0 end
                from old_tasks) d
       group by tenant_id
      having sum(open) <> 0 or sum(bytes) <> 0
       order by tenant_id
    on conflict (tenant_id, slot) do update
      set tasks_in_flight = u.tasks_in_flight + excluded.tasks_in_flight,
          bytes_stored = u.bytes_stored + excluded.bytes_stored;
  end if;
  return null;
end
$$;
