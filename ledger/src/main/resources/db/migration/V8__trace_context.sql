-- W3C trace context (traceparent, tracestate) stored with the work it belongs to, so that a task's
-- trace survives crashes, retries and requeues: the relay's span for an outbox row and the
-- worker's span for a task continue it however much later, on whichever replica.
--
-- tasks: the context of the request that submitted the task (the API's server span); every
--        doorbell of the task, the first and each one the reaper or a hand-back rings, carries it.
-- pending_events, outbox: the context of the span that wrote the row (a worker's attempt), or the
--        task's own when no span did (the reaper, a cancel); the relay's PRODUCER span is its child
--        and writes it into the Kafka record's headers.
-- All nullable: rows written before this version, and tracing switched off (OTEL_SDK_DISABLED),
-- have none; their spans start new traces.
alter table tasks add column traceparent text, add column tracestate text;
alter table pending_events add column traceparent text, add column tracestate text;
alter table outbox add column traceparent text, add column tracestate text;
