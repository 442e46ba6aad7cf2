-- Records the relay could not send after a bounded number of tries (Outbox.published, the relay's
-- OutboxRelay): a doorbell's outbox row moves here, a numbered event is noted here and the relay's
-- cursor moves past it, so that one record Kafka refuses (too large, its topic deleted, an ACL
-- that refuses it) never holds up the others. What a parked row held stays readable: an event is
-- still in events (replay and SSE serve it), a doorbell's task is claimed by a worker's idle poll
-- or rung again by the reaper. Nothing reads this table but an operator.
create table outbox_parked (
  id          bigserial primary key,
  lane        text not null check (lane in ('doorbells', 'events')),
  topic       text not null,
  msg_key     text,
  payload     text not null,
  outbox_id   bigint,
  event_ord   bigint,
  error       text not null,
  tries       int not null,
  parked_at   timestamptz not null
);
