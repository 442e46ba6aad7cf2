-- URLSession parity: scheduling by priority and per-host limits, uploads, staged objects,
-- resume data, and retention.

-- host[:port] of the URL, for maxConnectionsPerHost; copied session flag for discretionary tasks.
alter table tasks add column host text not null default '';
alter table tasks add column discretionary boolean not null default false;
-- The task whose temporary object holds the durable prefix when it is not this one (a download
-- created from another task's resumeData).
alter table tasks add column durable_task text;
-- An upload's bytes: the file URI, size and digest of its source, resolved at submit.
alter table tasks add column source_location text;
alter table tasks add column source_size bigint;
alter table tasks add column source_sha256 text;
-- Opaque resumeData offered by a canceled or failed download.
alter table tasks add column resume_data text;

-- What a claim picks first: non-discretionary, then higher priority, then older.
create index tasks_queued_by_rank on tasks (discretionary, priority desc, created_at)
  where state = 'queued';
-- Running tasks per session and host, for maxConcurrentTransfers and maxConnectionsPerHost.
create index tasks_running_by_session on tasks (tenant_id, session_id, host)
  where state = 'running';
-- Retention of finished tasks.
create index tasks_final_by_finish on tasks (finished_at)
  where state in ('completed', 'failed', 'canceled');
create index events_by_time on events (time);
create index events_by_task on events (task_id);

-- Objects staged for uploads with PUT /v1/sessions/{sid}/objects/{name}.
create table objects (
  tenant_id   text not null,
  session_id  text not null,
  name        text not null,
  location    text not null,
  size        bigint not null,
  sha256      text not null,
  created_at  timestamptz not null,
  primary key (tenant_id, session_id, name),
  foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);

-- Queued tasks of one session: the next one to ring for when a slot of the session frees up.
create index tasks_queued_by_session on tasks (tenant_id, session_id, created_at)
  where state = 'queued';
