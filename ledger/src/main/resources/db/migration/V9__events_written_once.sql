-- Each event is written once (ledger/DESIGN.md, "Event numbers" and "The outbox").
--
-- Until V8 an event was inserted into pending_events by its transaction, then copied by the
-- sequencer into events (with the whole CloudEvent as payload) and into the outbox, and deleted
-- twice: three inserts and two deletes per event. Now:
--   events         the event as its transaction wrote it, once, with the id of that transaction
--                  (xid): the sequencer finds the events that committed since its last round by
--                  comparing xids with the snapshot it stopped at, so nothing marks an event
--                  pending and nothing deletes it;
--   event_numbers  one narrow row per event, inserted by the sequencer in one statement per round:
--                  the session's sequence number and a global publishing order (ord);
--   event_publisher the relay's cursor over ord, updated once per acknowledged batch.
-- The CloudEvent JSON is built from the columns when read (replay, SSE, Kafka).

-- The old table keeps its rows until they are moved below; its index names are wanted again.
alter table events rename to events_v8;
alter table events_v8 drop constraint events_pkey, drop constraint events_id_key;
drop index events_by_time, events_by_task;

create table events (
  -- The writing transaction (pg_current_xact_id() is its top-level id, also inside a savepoint);
  -- 0 for an event written already numbered (the sequencer's drained events, rows moved here
  -- from before V9).
  xid          xid8 not null default pg_current_xact_id(),
  pos          bigserial,
  time         timestamptz not null,
  tenant_id    text not null,
  session_id   text not null,
  id           text not null,
  type         text not null,
  task_id      text,
  data         jsonb not null,
  traceparent  text,
  tracestate   text,
  -- The sequencer's rounds read by xid, in (xid, pos) order; numbers join on it.
  primary key (xid, pos)
);
-- Ids derived from the task (<task>:completed, <task>:downloaded, <task>:drained) are unique, so no
-- retry can store a second completion. A progress id is random: it needs no index entry.
create unique index events_id on events (id) where type <> 'transfer.task.progress';
-- Retention.
create index events_by_time on events (time);

create table event_numbers (
  -- The global order the relay publishes in: a round's numbers commit before the next round
  -- starts (the sequencer's advisory lock), so a cursor over ord never skips one.
  ord         bigint primary key,
  xid         xid8 not null,
  pos         bigint not null,
  tenant_id   text not null,
  session_id  text not null,
  seq         bigint not null,
  -- false: the session sends no events (sendsEvents: false), or the event was published before V9
  publish     boolean not null,
  unique (tenant_id, session_id, seq)
);

-- Where the sequencer stopped: every event of a transaction below horizon and not in in_flight is
-- numbered (a snapshot, as pg_snapshot stores it: xmax = horizon, xip = in_flight); last_ord is
-- the last ord handed out.
create table event_sequencer (
  id         integer primary key check (id = 1),
  horizon    xid8 not null,
  in_flight  xid8[] not null,
  last_ord   bigint not null
);

-- The relay's cursor: every event up to ord is published.
create table event_publisher (
  id   integer primary key check (id = 1),
  ord  bigint not null
);

-- The drained event's totals, counted by the sequencer as it numbers each completion (once).
alter table sessions
  add column tasks_completed bigint not null default 0,
  add column tasks_failed bigint not null default 0,
  add column tasks_canceled bigint not null default 0;

-- Numbered events move with their numbers; their outbox rows, if any, are still published from
-- the outbox, so they are not published again (publish = false).
insert into events (xid, time, tenant_id, session_id, id, type, task_id, data)
select '0', time, tenant_id, session_id, id, type, task_id, coalesce(payload -> 'data', 'null')
from events_v8 order by time, tenant_id, session_id, seq;
insert into event_numbers (ord, xid, pos, tenant_id, session_id, seq, publish)
select row_number() over (order by e.pos), '0', e.pos, o.tenant_id, o.session_id, o.seq, false
from events_v8 o join events e on e.id = o.id and e.xid = '0';

-- Events waiting for their numbers move with this transaction's xid, the sequencer's first
-- horizon: its first round after this migration numbers them, in their order.
insert into events (time, tenant_id, session_id, id, type, task_id, data, traceparent, tracestate)
select time, tenant_id, session_id, id, type, task_id, data, traceparent, tracestate
from pending_events order by pos;

insert into event_sequencer (id, horizon, in_flight, last_ord)
select 1, pg_current_xact_id(), '{}', coalesce(max(ord), 0) from event_numbers;
insert into event_publisher (id, ord) select 1, last_ord from event_sequencer;

-- Every final task has had its completion counted, except those whose completion event waits for
-- its number: the sequencer counts those when it numbers them.
update sessions s
set tasks_completed = c.completed, tasks_failed = c.failed, tasks_canceled = c.canceled
from (
  select tenant_id, session_id,
         count(*) filter (where state = 'completed') as completed,
         count(*) filter (where state = 'failed') as failed,
         count(*) filter (where state = 'canceled') as canceled
  from tasks t
  where state in ('completed', 'failed', 'canceled')
    and not exists (select 1 from pending_events p where p.id = t.id || ':completed')
  group by tenant_id, session_id) c
where s.tenant_id = c.tenant_id and s.id = c.session_id;

drop table pending_events;
drop table events_v8;
drop trigger outbox_notify on outbox;
drop function transfer_notify_outbox();

-- One channel per listener. A transaction that adds events wakes the sequencer, but only while it
-- sleeps: asleep, it holds the advisory lock 'seqsleep' (EventWakeups.SEQUENCER_ASLEEP) on its
-- listening connection, and a writer that cannot take it shared notifies. While the sequencer is
-- awake it polls, and writers send nothing: a NOTIFY serialises committing transactions on one
-- lock held through their WAL flush. A writer holds the shared lock until its commit, so the
-- sequencer can fall asleep only when no writer is between its insert and its commit; it looks
-- once more after that, and misses nothing. A doorbell wakes the relay the same way ('relsleep',
-- EventWakeups.RELAY_ASLEEP). The sequencer wakes the relay and the event streams itself, once per
-- round (transfer_events_numbered).
-- Arguments: the channel, the listener's lock.
create function transfer_wake_sleeper() returns trigger language plpgsql as $$
begin
  if not pg_try_advisory_xact_lock_shared(tg_argv[1]::bigint) then
    perform pg_notify(tg_argv[0], '');
  end if;
  return null;
end
$$;
create trigger events_written after insert on events
  for each statement
  execute function transfer_wake_sleeper('transfer_events_written', '8315177027563251056');
create trigger outbox_written after insert on outbox
  for each statement
  execute function transfer_wake_sleeper('transfer_doorbells', '8243113935967184240');
