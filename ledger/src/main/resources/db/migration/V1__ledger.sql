-- The ledger: the single source of truth for tenants, sessions, tasks and events.
-- Every statement that changes a task's state lives in transfer.ledger.Ledger.

create table tenants (
  id          text primary key,
  name        text not null,
  created_at  timestamptz not null
);

-- API keys are stored only as SHA-256 hashes; the key itself is shown once.
create table api_keys (
  id          text primary key,
  tenant_id   text not null references tenants (id),
  key_hash    bytea not null unique,
  created_at  timestamptz not null,
  revoked_at  timestamptz
);

create table sessions (
  tenant_id       text not null references tenants (id),
  id              text not null,
  state           text not null default 'active',
  config          jsonb not null,
  -- the last per-session event sequence handed out; bumped under the row lock so that one
  -- session's events are numbered in commit order
  last_event_seq  bigint not null default 0,
  created_at      timestamptz not null,
  updated_at      timestamptz not null,
  primary key (tenant_id, id)
);

create table tasks (
  id                text primary key,
  tenant_id         text not null,
  session_id        text not null,
  type              text not null,
  state             text not null,
  url               text not null,
  request           jsonb not null,
  priority          double precision not null,
  attempt           integer not null default 0,
  max_attempts      integer not null,
  next_attempt_at   timestamptz,
  announced_at      timestamptz,
  lease_owner       text,
  -- the fencing token: bumped by every claim; every write of a worker names the epoch it holds
  lease_epoch       bigint not null default 0,
  lease_expires_at  timestamptz,
  bytes_transferred bigint not null default 0,
  -- bytes flushed to storage at the last checkpoint: where a resumed attempt may start
  bytes_durable     bigint not null default 0,
  bytes_expected    bigint,
  etag              text,
  last_modified     text,
  location          text,
  sha256            text,
  error             jsonb,
  created_at        timestamptz not null,
  updated_at        timestamptz not null,
  finished_at       timestamptz,
  foreign key (tenant_id, session_id) references sessions (tenant_id, id),
  constraint running_has_lease check (state <> 'running' or (lease_owner is not null and lease_expires_at is not null))
);

create index tasks_by_session on tasks (tenant_id, session_id, created_at, id);
create index tasks_running_by_lease on tasks (lease_expires_at) where state = 'running';
create index tasks_waiting_by_due on tasks (next_attempt_at) where state = 'waiting';
create index tasks_queued_by_announce on tasks (announced_at) where state = 'queued';

-- Every event ever published, for replay; the outbox row is the publishing duty.
create table events (
  tenant_id   text not null,
  session_id  text not null,
  seq         bigint not null,
  id          text not null unique,
  type        text not null,
  task_id     text,
  time        timestamptz not null,
  payload     jsonb not null,
  primary key (tenant_id, session_id, seq)
);

-- The transactional outbox: rows written in the same transaction as the state they announce, and
-- deleted by the relay once Kafka acknowledged them.
create table outbox (
  id          bigserial primary key,
  topic       text not null,
  msg_key     text not null,
  payload     text not null,
  created_at  timestamptz not null
);
