-- What a tenant's quotas are checked against, kept as counters: tasks in flight (queued, waiting,
-- running, suspended) and bytes stored (staged objects, and completed downloads until retention
-- removes them). A submit reads them in O(1) instead of counting and summing the tenant's history.
--
-- Every statement that changes tasks or objects updates the counters in its own transaction, through
-- the statement-level triggers below (one upsert per tenant per statement, whichever service or
-- tool runs the statement), so a counter is exactly as committed as the rows it counts.
--
-- A tenant's counters are striped over up to 16 rows (slot = the backend's pid modulo 16), and a
-- quota reads their sum. One row per tenant would make every transaction that changes a tenant's
-- counts (submits, completions, failures of every worker) wait for the previous one's commit on
-- that row's lock; with slots, only transactions on connections whose pids share a slot wait for
-- each other. A transaction uses one slot per tenant, and the triggers take the rows of several
-- tenants in tenant order.
create table tenant_usage (
  tenant_id        text not null,
  slot             smallint not null,
  tasks_in_flight  bigint not null default 0,
  bytes_stored     bigint not null default 0,
  primary key (tenant_id, slot)
) with (fillfactor = 50);
-- Rows updated many times a second: HOT updates in their page (fillfactor), vacuumed often.
alter table tenant_usage set (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0);

create function tenant_usage_of_tasks() returns trigger language plpgsql as $$
begin
  -- A task counts as in flight while not final; its bytes count once it is a completed download.
  if tg_op = 'INSERT' then
    insert into tenant_usage as u (tenant_id, slot, tasks_in_flight, bytes_stored)
      select tenant_id, pg_backend_pid() % 16,
             count(*) filter (where state in ('queued', 'waiting', 'running', 'suspended')),
             coalesce(sum(bytes_transferred) filter (where state = 'completed' and type = 'download'), 0)
        from new_tasks group by tenant_id
      having count(*) filter (where state in ('queued', 'waiting', 'running', 'suspended')) <> 0
          or coalesce(sum(bytes_transferred) filter (where state = 'completed' and type = 'download'), 0) <> 0
      order by tenant_id
    on conflict (tenant_id, slot) do update
      set tasks_in_flight = u.tasks_in_flight + excluded.tasks_in_flight,
          bytes_stored = u.bytes_stored + excluded.bytes_stored;
  elsif tg_op = 'DELETE' then
    insert into tenant_usage as u (tenant_id, slot, tasks_in_flight, bytes_stored)
      select tenant_id, pg_backend_pid() % 16,
             -count(*) filter (where state in ('queued', 'waiting', 'running', 'suspended')),
             -coalesce(sum(bytes_transferred) filter (where state = 'completed' and type = 'download'), 0)
        from old_tasks group by tenant_id
      having count(*) filter (where state in ('queued', 'waiting', 'running', 'suspended')) <> 0
          or coalesce(sum(bytes_transferred) filter (where state = 'completed' and type = 'download'), 0) <> 0
      order by tenant_id
    on conflict (tenant_id, slot) do update
      set tasks_in_flight = u.tasks_in_flight + excluded.tasks_in_flight,
          bytes_stored = u.bytes_stored + excluded.bytes_stored;
  else
    -- An update: what the new rows count minus what the old ones did. Most updates (heartbeats,
    -- checkpoints, claims, retries) move tasks only among the open states, which changes neither
    -- count: they stop at this first look (a scan of each transition table, no join, whose cached
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
                     case when state = 'completed' and type = 'download'
                          then bytes_transferred else 0 end as bytes
                from new_tasks
              union all
              select tenant_id,
                     -(state in ('queued', 'waiting', 'running', 'suspended'))::int,
                     case when state = 'completed' and type = 'download'
                          then -bytes_transferred else 0 end
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

-- Transition tables cannot be asked for an UPDATE OF a column list, so the update trigger runs for
-- every update of tasks; it reads only the rows the statement changed.
create trigger tasks_usage_insert after insert on tasks
  referencing new table as new_tasks
  for each statement execute function tenant_usage_of_tasks();
create trigger tasks_usage_update after update on tasks
  referencing old table as old_tasks new table as new_tasks
  for each statement execute function tenant_usage_of_tasks();
create trigger tasks_usage_delete after delete on tasks
  referencing old table as old_tasks
  for each statement execute function tenant_usage_of_tasks();

create function tenant_usage_of_objects() returns trigger language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    insert into tenant_usage as u (tenant_id, slot, bytes_stored)
      select tenant_id, pg_backend_pid() % 16, sum(size) from new_objects
       group by tenant_id having sum(size) <> 0 order by tenant_id
    on conflict (tenant_id, slot) do update set bytes_stored = u.bytes_stored + excluded.bytes_stored;
  elsif tg_op = 'DELETE' then
    insert into tenant_usage as u (tenant_id, slot, bytes_stored)
      select tenant_id, pg_backend_pid() % 16, -sum(size) from old_objects
       group by tenant_id having sum(size) <> 0 order by tenant_id
    on conflict (tenant_id, slot) do update set bytes_stored = u.bytes_stored + excluded.bytes_stored;
  else
    insert into tenant_usage as u (tenant_id, slot, bytes_stored)
      select tenant_id, pg_backend_pid() % 16, sum(size)
        from (select tenant_id, size from new_objects
              union all select tenant_id, -size from old_objects) d
       group by tenant_id having sum(size) <> 0 order by tenant_id
    on conflict (tenant_id, slot) do update set bytes_stored = u.bytes_stored + excluded.bytes_stored;
  end if;
  return null;
end
$$;

create trigger objects_usage_insert after insert on objects
  referencing new table as new_objects
  for each statement execute function tenant_usage_of_objects();
create trigger objects_usage_update after update on objects
  referencing old table as old_objects new table as new_objects
  for each statement execute function tenant_usage_of_objects();
create trigger objects_usage_delete after delete on objects
  referencing old table as old_objects
  for each statement execute function tenant_usage_of_objects();

-- The counters start from the rows there are. The triggers above took their locks on tasks and
-- objects in this transaction, so no writer changes a row between this count and the commit.
insert into tenant_usage (tenant_id, slot, tasks_in_flight, bytes_stored)
  select tenant_id, 0, sum(open), sum(bytes)
    from (select tenant_id,
                 count(*) filter (where state in ('queued', 'waiting', 'running', 'suspended')) as open,
                 coalesce(sum(bytes_transferred) filter (where state = 'completed' and type = 'download'), 0) as bytes
            from tasks group by tenant_id
          union all
          select tenant_id, 0, sum(size) from objects group by tenant_id) counted
   group by tenant_id;

-- Nothing sums completed downloads' bytes on a hot path any more (the recount, rare, reads the
-- table), and every completion of a download wrote an entry into this index.
drop index tasks_stored_by_tenant;
