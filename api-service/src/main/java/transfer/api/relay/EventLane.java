package transfer.api.relay;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import transfer.api.ApiConfig;
import transfer.api.metrics.ApiMetrics;
import transfer.api.trace.Tracing;
import transfer.contracts.CloudEvent;
import transfer.contracts.Topics;
import transfer.ledger.Outbox;
import transfer.ledger.OutboxMessage;

/**
 * The events lane: the numbered events after the relay's cursor, in their global order, to {@code
 * transfer-events} (or the tenant's own topic). The cursor moves only past what Kafka acknowledged
 * (or what was parked) without a gap, so a session's events reach the topic in order, at-least-once
 * (consumers dedupe by event id). The events' global order is handed out one sequencer round at a
 * time, each committed before the next starts, so a cursor over it skips none. It runs on the
 * thread, and listens on the connection, that holds the relay's leadership: the lane whose order
 * matters stops the moment leadership is lost.
 */
final class EventLane extends RelayLane {
  /** The CloudEvents structured-mode header's value, encoded once. */
  private static final byte[] STRUCTURED =
      CloudEvent.STRUCTURED_CONTENT_TYPE.getBytes(StandardCharsets.US_ASCII);

  private final boolean perTenant;
  private final TenantTopics tenantTopics;
  private long cursor = -1; // read at the first pass: every event up to it is published

  EventLane(
      KafkaProducer<String, String> producer,
      TenantTopics tenantTopics,
      Outbox outbox,
      ApiConfig.Outbox config,
      ApiMetrics metrics,
      Tracing tracing) {
    super(true, producer, outbox, config, metrics, tracing);
    this.perTenant = config.topicPerTenant();
    this.tenantTopics = tenantTopics;
  }

  @Override
  public boolean look() {
    return outbox.hasNumberedEvents(cursor());
  }

  @Override
  List<OutboxMessage> next(int limit) {
    return outbox.numberedEvents(cursor(), limit);
  }

  private long cursor() {
    if (cursor < 0) {
      cursor = outbox.publishedEvents();
    }
    return cursor;
  }

  @Override
  ProducerRecord<String, String> record(OutboxMessage m) {
    ProducerRecord<String, String> r = new ProducerRecord<>(topic(m), m.key(), m.payload());
    r.headers().add(CloudEvent.KAFKA_CONTENT_TYPE_HEADER, STRUCTURED);
    return r;
  }

  private String topic(OutboxMessage m) {
    return perTenant ? Topics.eventsOf(m.tenant()) : m.topic();
  }

  /**
   * With topics per tenant, the tenant topics of the batch that are missing and may not be created,
   * or cannot be seen, with why: their events are refused, the others go. Empty when all exist (the
   * usual case: one lookup per new topic for the life of the relay). When the broker does not
   * answer at all, the failure is thrown and the pass waits, as any publish to an unreachable
   * broker.
   */
  @Override
  Map<String, Exception> unavailable(List<OutboxMessage> batch) throws Exception {
    if (!perTenant) {
      return Map.of();
    }
    List<String> topics = batch.stream().map(this::topic).toList();
    try {
      tenantTopics.ensure(topics);
      return Map.of();
    } catch (Exception e) {
      if (RefusedRecords.unreachable(e)) {
        throw e;
      }
    }
    Map<String, Exception> unavailable = new HashMap<>();
    for (String topic : new TreeSet<>(topics)) {
      try {
        tenantTopics.ensure(List.of(topic));
      } catch (Exception e) {
        if (RefusedRecords.unreachable(e)) {
          throw e;
        }
        unavailable.put(topic, e);
      }
    }
    return unavailable;
  }

  /** The cursor moves past the events taken or parked, up to the first that waits. */
  @Override
  void record(List<OutboxMessage> batch, Fate[] fates, List<Outbox.Parked> parked) {
    long upTo = cursor();
    for (int i = 0; i < batch.size() && fates[i] != Fate.PENDING; i++) {
      upTo = batch.get(i).id();
    }
    outbox.eventsPublished(upTo, parked);
    cursor = upTo;
  }
}
