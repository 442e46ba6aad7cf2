package transfer.worker.claim;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.jboss.logging.Logger;
import transfer.contracts.KafkaClientProperties;
import transfer.contracts.Topics;

/**
 * Where a record that is no doorbell goes: moved to {@link Topics#DEAD_LETTERS} as it came ({@link
 * DeadLetters}), after which its partition goes on; or, when it cannot be moved, its partition is
 * held at it (the consumer does not commit past it) and tries again after a backoff of 1 s doubling
 * to 30 s. An unreadable doorbell is never dropped silently. Used by the consumer's thread only.
 */
final class DeadLetterRouter {
  /**
   * The lines about dead letters are the doorbell consumer's: an operator finds them (and
   * DeadLetterClusterIT matches them) under its category.
   */
  private static final Logger LOG = Logger.getLogger(DoorbellConsumer.class);

  private final String workerId;
  private final Supplier<Producer<byte[], byte[]>> producers;
  private Producer<byte[], byte[]> producer; // made on need

  /** Partitions held at an unreadable doorbell because it could not be moved yet. */
  private final Map<TopicPartition, Backoff> held = new HashMap<>();

  /**
   * Writes as {@code workerId}, with the service's Kafka configuration ({@code kafka.*} keys:
   * brokers, security, timeouts).
   */
  DeadLetterRouter(String workerId, Map<String, Object> kafkaConfig) {
    this(workerId, () -> newProducer(workerId, kafkaConfig));
  }

  DeadLetterRouter(String workerId, Supplier<Producer<byte[], byte[]>> producers) {
    this.workerId = workerId;
    this.producers = producers;
  }

  /**
   * Moves {@code r}, which is no doorbell, to {@link Topics#DEAD_LETTERS}, key and value unchanged,
   * with headers naming where it came from and why; true once Kafka acknowledged it. False when it
   * could not be moved: its partition is held, and may try again once {@link #mayRetry}.
   */
  boolean route(ConsumerRecord<byte[], byte[]> r, DeadLetters.Unreadable why) {
    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
    try {
      if (producer == null) {
        producer = producers.get();
      }
      RecordMetadata moved = DeadLetters.send(producer, r, why, workerId);
      held.remove(tp);
      LOG.warnf(
          "doorbell at %s-%d offset %d (key %s) is unreadable: %s (%s). Moved to %s-%d offset %d;"
              + " the partition goes on with the next doorbell",
          r.topic(),
          r.partition(),
          r.offset(),
          DeadLetters.printable(r.key()),
          why.code(),
          why.getMessage(),
          moved.topic(),
          moved.partition(),
          moved.offset());
      return true;
    } catch (RuntimeException e) {
      Backoff next = Backoff.after(held.get(tp));
      held.put(tp, next);
      LOG.warnf(
          "doorbell at %s-%d offset %d is unreadable (%s) and could not be moved to %s (%s);"
              + " the partition waits at it and tries again in %d s",
          r.topic(),
          r.partition(),
          r.offset(),
          why.code(),
          Topics.DEAD_LETTERS,
          DeadLetters.describe(e),
          next.delayMillis() / 1000);
      return false;
    }
  }

  /** Whether {@code tp} is held at a record that could not be moved. */
  boolean holds(TopicPartition tp) {
    return held.containsKey(tp);
  }

  /**
   * Whether {@code tp} may be read again at {@code nowMillis}: not held, or its backoff is over.
   */
  boolean mayRetry(TopicPartition tp, long nowMillis) {
    Backoff b = held.get(tp);
    return b == null || b.dueMillis() <= nowMillis;
  }

  /** These partitions went to another consumer: whoever reads them now tries their records. */
  void forget(Collection<TopicPartition> partitions) {
    partitions.forEach(held::remove);
  }

  void close() {
    if (producer != null) {
      producer.close(Duration.ofSeconds(5));
    }
  }

  /** When a held partition tries its unreadable record again. */
  record Backoff(long delayMillis, long dueMillis) {
    static final long FIRST_MILLIS = 1_000;
    static final long MAX_MILLIS = 30_000;

    static Backoff after(Backoff previous) {
      long delay =
          previous == null ? FIRST_MILLIS : Math.min(MAX_MILLIS, previous.delayMillis() * 2);
      return new Backoff(delay, System.currentTimeMillis() + delay);
    }
  }

  private static Producer<byte[], byte[]> newProducer(
      String workerId, Map<String, Object> kafkaConfig) {
    KafkaClientProperties.Merged p =
        KafkaClientProperties.merge(
            kafkaConfig,
            Map.of(
                ProducerConfig.CLIENT_ID_CONFIG, workerId + "-dead-letters",
                // Bounded, so that the consumer thread (which also keeps the group membership)
                // never waits long: a failed move is retried by the backoff above instead.
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 5_000,
                ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000,
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 10_000,
                ProducerConfig.LINGER_MS_CONFIG, 0),
            KafkaClientProperties.idempotentProducer(ByteArraySerializer.class.getName()));
    LOG.infof("dead-letter producer: Kafka producer %s", p.describe());
    return new KafkaProducer<>(p.properties());
  }
}
