-- Events are numbered after their transaction, not inside it (Ledger.sequenceEvents).
--
-- Until V5 every transaction that wrote an event took the next number of its session by updating
-- the session row, and so held that row until its commit: all the completions, heartbeats and
-- cancels of one session queued behind each other (74 ms per event at 16 concurrent transfers).
-- Now a transaction only adds its events here; one sequencer at a time moves them, oldest first,
-- into events with their session's next numbers, and into the outbox.
create table pending_events (
  pos         bigserial primary key,
  tenant_id   text not null,
  session_id  text not null,
  id          text not null unique,
  type        text not null,
  task_id     text,
  time        timestamptz not null,
  data        jsonb not null
);

-- Wakes the outbox relay (and the open event streams) at the commit of any transaction that adds
-- an event or an outbox row: one notification per statement, folded into one per transaction.
create function transfer_notify_outbox() returns trigger language plpgsql as $$
begin
  perform pg_notify('transfer_outbox', '');
  return null;
end
$$;
create trigger pending_events_notify after insert on pending_events
  for each statement execute function transfer_notify_outbox();
create trigger outbox_notify after insert on outbox
  for each statement execute function transfer_notify_outbox();

-- Whether a session is drained (no open task), asked by the sequencer after a completion.
create index tasks_open_by_session on tasks (tenant_id, session_id)
  where state in ('queued', 'waiting', 'running', 'suspended');
