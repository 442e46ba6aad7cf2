-- The state machine's transition table, enforced by the database: any statement that would move a
-- task along a pair not listed here fails, whichever service runs it. The rows equal
-- transfer.contracts.TaskState's table; LedgerIT checks that the two never diverge.
create table task_transitions (
  from_state  text not null,
  to_state    text not null,
  primary key (from_state, to_state)
);

insert into task_transitions (from_state, to_state) values
  ('queued', 'running'), ('queued', 'waiting'), ('queued', 'suspended'), ('queued', 'canceled'),
  ('queued', 'failed'),
  ('waiting', 'queued'), ('waiting', 'suspended'), ('waiting', 'canceled'), ('waiting', 'failed'),
  ('running', 'completed'), ('running', 'failed'), ('running', 'canceled'), ('running', 'waiting'),
  ('running', 'queued'), ('running', 'suspended'),
  ('suspended', 'queued'), ('suspended', 'canceled'), ('suspended', 'failed');

create function check_task_transition() returns trigger language plpgsql as $$
begin
  if new.state is distinct from old.state and not exists (
      select 1 from task_transitions where from_state = old.state and to_state = new.state) then
    raise exception 'task %: no transition from % to %', old.id, old.state, new.state
      using errcode = 'check_violation';
  end if;
  return new;
end
$$;

create trigger tasks_state_transition before update of state on tasks
  for each row execute function check_task_transition();
