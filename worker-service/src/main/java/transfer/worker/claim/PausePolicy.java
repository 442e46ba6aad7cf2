package transfer.worker.claim;

import java.util.Collection;
import java.util.List;
import java.util.function.IntSupplier;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.common.TopicPartition;

/**
 * Which of the consumer's partitions are paused. While every transfer slot is busy, all of them:
 * the consumer keeps polling (so it stays in the group and sees rebalances) but reads nothing it
 * could not claim for. A partition held at a record that could not be moved to the dead letters
 * ({@link DeadLetterRouter}) stays paused until its next try. A rebalance resumes every partition,
 * so they are paused again as they are assigned.
 */
final class PausePolicy {
  private final IntSupplier freeSlots;
  private final DeadLetterRouter deadLetters;

  /**
   * @param freeSlots the transfer slots free now ({@code Slots.freeSlots})
   */
  PausePolicy(IntSupplier freeSlots, DeadLetterRouter deadLetters) {
    this.freeSlots = freeSlots;
    this.deadLetters = deadLetters;
  }

  /** Keeps the pauses across rebalances of {@code consumer}'s group. */
  ConsumerRebalanceListener rebalanceListener(Consumer<?, ?> consumer) {
    return new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
        deadLetters.forget(partitions);
      }

      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        assigned(consumer, partitions);
      }
    };
  }

  /**
   * A rebalance resumed {@code partitions}: keep them paused while full, and those held at an
   * unreadable doorbell until their next try.
   */
  void assigned(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
    if (freeSlots.getAsInt() == 0) {
      consumer.pause(partitions);
    } else {
      consumer.pause(partitions.stream().filter(deadLetters::holds).toList());
    }
  }

  /**
   * Holds {@code tp} at {@code offset}, a record that could not be moved: read from there later.
   */
  void holdAt(Consumer<?, ?> consumer, TopicPartition tp, long offset) {
    consumer.seek(tp, offset);
    consumer.pause(List.of(tp));
  }

  /**
   * After a poll: with a free slot, the paused partitions go on (a held one once its backoff is
   * over); with none, every partition is paused.
   */
  void afterPoll(Consumer<?, ?> consumer) {
    if (freeSlots.getAsInt() > 0) {
      long now = System.currentTimeMillis();
      List<TopicPartition> resumable =
          consumer.paused().stream().filter(tp -> deadLetters.mayRetry(tp, now)).toList();
      if (!resumable.isEmpty()) {
        consumer.resume(resumable);
      }
    } else {
      consumer.pause(consumer.assignment());
    }
  }
}
