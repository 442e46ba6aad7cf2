package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import transfer.contracts.TaskState;

/** The queue's gauges: open tasks by state and the outbox. */
class QueueStatisticsIT extends LedgerFixture {
  QueueStatisticsIT() {
    super("2026-01-01T00:00:00Z");
  }

  @Test
  void queueStatsCountOpenTasksByStateAndTheOutbox() {
    QueueStatistics.QueueStats before = ledger.queueStatistics().queueStats();
    TaskRow queued = submit();
    TaskRow running = submit();
    TestClaims.claim(ledger, running.id(), "w1", Duration.ofSeconds(30)).orElseThrow();

    QueueStatistics.QueueStats after = ledger.queueStatistics().queueStats();
    // Tests of this JVM run one after another: nothing else changes the queue meanwhile.
    assertThat(after.tasks().get(TaskState.QUEUED))
        .isEqualTo(before.tasks().getOrDefault(TaskState.QUEUED, 0L) + 1);
    assertThat(after.tasks().get(TaskState.RUNNING))
        .isEqualTo(before.tasks().getOrDefault(TaskState.RUNNING, 0L) + 1);
    assertThat(after.tasks()).doesNotContainKeys(TaskState.COMPLETED, TaskState.FAILED);
    assertThat(after.oldest().get(TaskState.QUEUED)).isBeforeOrEqualTo(queued.updatedAt());
    // Each submit wrote its doorbell to the outbox, and no relay runs here.
    assertThat(after.outboxRows()).isGreaterThanOrEqualTo(before.outboxRows() + 2);
    assertThat(after.oldestOutbox()).isNotNull();
  }
}
