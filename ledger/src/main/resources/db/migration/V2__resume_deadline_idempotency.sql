-- Resume on any worker: which attempt's temporary object holds the durable prefix.
alter table tasks add column durable_epoch bigint;

-- resourceTimeout: the task fails when it is not final by this time, all attempts together.
alter table tasks add column deadline_at timestamptz;
create index tasks_open_by_deadline on tasks (deadline_at)
  where state in ('queued', 'waiting', 'running', 'suspended');

-- Idempotency-Key on task creation: the same key and body answer the same task.
create table idempotency_keys (
  tenant_id     text not null,
  session_id    text not null,
  key           text not null,
  request_hash  bytea not null,
  task_id       text not null references tasks (id),
  created_at    timestamptz not null,
  primary key (tenant_id, session_id, key)
);
