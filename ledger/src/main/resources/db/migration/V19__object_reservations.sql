-- Room a staged object's PUT holds in its tenant's bytes-stored quota while its body arrives
-- (Reservations.java): counted in tenant_usage like the objects themselves, so PUTs at once, and
-- downloads (V18), share the room left. Released once the object is stored (or refused); a row
-- whose api-service died with it expires, and the reaper drops it.
create table object_reservations (
  id          text primary key,
  tenant_id   text not null,
  bytes       bigint not null,
  expires_at  timestamptz not null
);
create index object_reservations_by_expiry on object_reservations (expires_at);

create function tenant_usage_of_object_reservations() returns trigger language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    insert into tenant_usage as u (tenant_id, slot, bytes_stored)
      select tenant_id, pg_backend_pid() % 16, sum(bytes) from new_rows
       group by tenant_id having sum(bytes) <> 0 order by tenant_id
    on conflict (tenant_id, slot) do update set bytes_stored = u.bytes_stored + excluded.bytes_stored;
  elsif tg_op = 'DELETE' then
    insert into tenant_usage as u (tenant_id, slot, bytes_stored)
      select tenant_id, pg_backend_pid() % 16, -sum(bytes) from old_rows
       group by tenant_id having sum(bytes) <> 0 order by tenant_id
    on conflict (tenant_id, slot) do update set bytes_stored = u.bytes_stored + excluded.bytes_stored;
  else
    insert into tenant_usage as u (tenant_id, slot, bytes_stored)
      select tenant_id, pg_backend_pid() % 16, sum(bytes)
        from (select tenant_id, bytes from new_rows
              union all select tenant_id, -bytes from old_rows) d
       group by tenant_id having sum(bytes) <> 0 order by tenant_id
    on conflict (tenant_id, slot) do update set bytes_stored = u.bytes_stored + excluded.bytes_stored;
  end if;
  return null;
end
$$;

create trigger object_reservations_usage_insert after insert on object_reservations
  referencing new table as new_rows
  for each statement execute function tenant_usage_of_object_reservations();
create trigger object_reservations_usage_update after update on object_reservations
  referencing old table as old_rows new table as new_rows
  for each statement execute function tenant_usage_of_object_reservations();
create trigger object_reservations_usage_delete after delete on object_reservations
  referencing old table as old_rows
  for each statement execute function tenant_usage_of_object_reservations();
