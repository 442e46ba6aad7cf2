package transfer.ledger;

import transfer.telemetry.TraceContext;

/**
 * One pending outbox row: a record to publish to Kafka, with the trace context its publishing
 * continues (null when none was stored), and for an event the tenant it belongs to (null for a
 * doorbell).
 */
public record OutboxMessage(
    long id, String topic, String key, String payload, TraceContext trace, String tenant) {}
