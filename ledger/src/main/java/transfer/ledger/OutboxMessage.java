package transfer.ledger;

/** One pending outbox row: a record to publish to Kafka. */
public record OutboxMessage(long id, String topic, String key, String payload) {}
