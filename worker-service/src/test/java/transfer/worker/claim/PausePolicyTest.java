package transfer.worker.claim;

import static org.assertj.core.api.Assertions.assertThat;
import static transfer.worker.claim.DeadLettersTest.bytes;
import static transfer.worker.claim.DeadLettersTest.unreadable;

import java.util.List;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

/** Which partitions the consumer pauses, on Kafka's mock consumer. */
class PausePolicyTest {
  private final TopicPartition p0 = new TopicPartition("transfer-tasks", 0);
  private final TopicPartition p1 = new TopicPartition("transfer-tasks", 1);
  private final TopicPartition p2 = new TopicPartition("transfer-tasks", 2);
  private final MockConsumer<byte[], byte[]> consumer = new MockConsumer<>("earliest");
  private final MockProducer<byte[], byte[]> producer =
      new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
  private final DeadLetterRouter deadLetters = new DeadLetterRouter("w", () -> producer);
  private int free = 1;
  private final PausePolicy policy = new PausePolicy(() -> free, deadLetters);

  @Test
  void everyPartitionIsPausedWhileEverySlotIsBusyAndGoesOnWhenOneIsFree() {
    consumer.assign(List.of(p0, p1, p2));
    free = 0;
    policy.afterPoll(consumer);
    assertThat(consumer.paused()).containsExactlyInAnyOrder(p0, p1, p2);

    free = 1;
    policy.afterPoll(consumer);
    assertThat(consumer.paused()).isEmpty();
  }

  @Test
  void partitionsAssignedByARebalanceWhileFullArePausedAgain() {
    ConsumerRebalanceListener listener = policy.rebalanceListener(consumer);
    consumer.assign(List.of(p0, p1));
    free = 0;
    listener.onPartitionsAssigned(List.of(p0, p1));
    assertThat(consumer.paused()).containsExactlyInAnyOrder(p0, p1);

    free = 2;
    consumer.resume(Set.of(p0, p1));
    listener.onPartitionsAssigned(List.of(p0, p1));
    assertThat(consumer.paused()).isEmpty();
  }

  @Test
  void aPartitionHeldAtARecordThatCouldNotBeMovedWaitsForItsBackoffAcrossRebalances()
      throws Exception {
    consumer.assign(List.of(p0, p1));
    producer.sendException = new KafkaException("broker away");
    ConsumerRecord<byte[], byte[]> bad =
        new ConsumerRecord<>("transfer-tasks", 0, 5L, null, bytes("x"));
    assertThat(deadLetters.route(bad, unreadable(bad.value()))).isFalse();
    policy.holdAt(consumer, p0, 5);
    assertThat(consumer.position(p0)).isEqualTo(5);

    policy.afterPoll(consumer);
    assertThat(consumer.paused()).as("held for its backoff").containsExactly(p0);
    ConsumerRebalanceListener listener = policy.rebalanceListener(consumer);
    consumer.resume(Set.of(p0));
    listener.onPartitionsAssigned(List.of(p0, p1));
    assertThat(consumer.paused()).as("held across a rebalance").containsExactly(p0);
    assertThat(deadLetters.mayRetry(p0, System.currentTimeMillis() + 1_000)).isTrue();
    assertThat(deadLetters.mayRetry(p1, System.currentTimeMillis())).isTrue();

    // Revoked: its next owner tries the record itself.
    listener.onPartitionsRevoked(List.of(p0));
    assertThat(deadLetters.holds(p0)).isFalse();
  }
}
