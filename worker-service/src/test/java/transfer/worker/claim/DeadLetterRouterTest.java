package transfer.worker.claim;

import static org.assertj.core.api.Assertions.assertThat;
import static transfer.worker.claim.DeadLettersTest.bytes;
import static transfer.worker.claim.DeadLettersTest.unreadable;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

/** Where a record that is no doorbell goes, and how long its partition waits when it cannot. */
class DeadLetterRouterTest {
  private final TopicPartition p0 = new TopicPartition("transfer-tasks", 0);
  private final MockProducer<byte[], byte[]> producer =
      new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
  private final DeadLetterRouter deadLetters = new DeadLetterRouter("w", () -> producer);

  @Test
  void eachFailedMoveWaitsTwiceAsLongUpTo30Seconds() {
    producer.sendException = new KafkaException("broker away");
    ConsumerRecord<byte[], byte[]> bad =
        new ConsumerRecord<>("transfer-tasks", 0, 5L, null, bytes("x"));
    for (long seconds : new long[] {1, 2, 4, 8, 16, 30, 30}) {
      long before = System.currentTimeMillis();
      deadLetters.route(bad, unreadable(bad.value()));
      long after = System.currentTimeMillis();
      assertThat(deadLetters.mayRetry(p0, before + seconds * 1_000 - 1))
          .as("%d s", seconds)
          .isFalse();
      assertThat(deadLetters.mayRetry(p0, after + seconds * 1_000)).as("%d s", seconds).isTrue();
    }

    producer.sendException = null;
    assertThat(deadLetters.route(bad, unreadable(bad.value()))).isTrue();
    assertThat(deadLetters.holds(p0)).isFalse();
    assertThat(producer.history()).hasSize(1);
  }
}
