package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;

/** A client's control of its tasks: cancel with resumeData, suspend and resume, listing. */
class TaskControlIT extends LedgerFixture {
  TaskControlIT() {
    super("2026-03-01T00:00:00Z");
  }

  @BeforeEach
  void parkQueuedTasks() throws Exception {
    // claimNext ranks every queued task of the schema: park those other tests left behind.
    db.parkQueuedTasks();
  }

  @Test
  void cancelingARunningDownloadProducesResumeDataThatANewTaskContinuesFrom() {
    TaskRow t = submit(withPriority("http://a.test/big", 0.9));
    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    checkpoint(t.id(), c.epoch(), 4096, "\"v1\"");

    TaskControl.Canceled canceled =
        ledger.taskControl().cancel(tenant, session, t.id(), true).orElseThrow();

    assertThat(canceled.task().state()).isEqualTo(TaskState.CANCELED);
    assertThat(canceled.task().error().code()).isEqualTo(ErrorCodes.CANCELED);
    assertThat(canceled.resumeData()).isNotBlank();
    assertThat(heartbeat(t.id(), c.epoch())).as("the worker is stopped").isFalse();
    JsonNode completed = lastOfType("transfer.task.completed");
    assertThat(completed.get("data").get("error").get("code").asText()).isEqualTo("canceled");
    assertThat(completed.get("data").get("resumeData").asText()).isEqualTo(canceled.resumeData());

    TaskRequest again =
        new TaskRequest(
            TaskType.DOWNLOAD,
            null,
            null,
            null,
            null,
            null,
            null,
            0.9,
            null,
            null,
            null,
            canceled.resumeData());
    TaskRow resumed = submit(again);
    assertThat(resumed.url()).isEqualTo("http://a.test/big");
    assertThat(resumed.bytesDurable()).isEqualTo(4096);
    assertThat(resumed.durableEpoch()).isEqualTo(c.epoch());
    assertThat(resumed.etag()).isEqualTo("\"v1\"");
    assertThat(resumed.prefixOwner()).isEqualTo(t.id());

    Claim c2 = ledger.claims().claimNext("w2", TTL).orElseThrow();
    assertThat(c2.task().id()).isEqualTo(resumed.id());
    checkpoint(resumed.id(), c2.epoch(), 8192, "\"v1\"");
    assertThat(task(resumed.id()).prefixOwner())
        .as("once the new task checkpoints, its own object holds the prefix")
        .isEqualTo(resumed.id());
  }

  @Test
  void noResumeDataWithoutADurablePrefixAndAValidator() {
    TaskRow t = submit(withPriority("http://a.test/x", 0.9));
    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    checkpoint(t.id(), c.epoch(), 100, "W/\"weak\"");
    assertThat(
            ledger.taskControl().cancel(tenant, session, t.id(), true).orElseThrow().resumeData())
        .isNull();
  }

  @Test
  void cancelIsIdempotentAndAFinishedTaskCannotBeCanceled() {
    TaskRow t = submit(withPriority("http://a.test/x", 0.9));
    assertThat(ledger.taskControl().cancel(tenant, session, t.id(), false)).isPresent();
    assertThat(
            ledger
                .taskControl()
                .cancel(tenant, session, t.id(), false)
                .orElseThrow()
                .task()
                .state())
        .isEqualTo(TaskState.CANCELED);
    assertThat(numberedEvents(tenant, session, 0, 100))
        .filteredOn(e -> e.get("type").asText().equals("transfer.task.completed"))
        .hasSize(1);

    TaskRow done = submit(withPriority("http://a.test/y", 0.9));
    long e = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    ledger.leases().completeDownload(Lease.of(done.id(), e), "file:///y", 1, "00", 1);
    assertThatThrownBy(() -> ledger.taskControl().cancel(tenant, session, done.id(), false))
        .isInstanceOf(TaskControl.StateConflict.class);
    assertThat(ledger.taskControl().cancel(tenant, session, UUID.randomUUID().toString(), false))
        .isEmpty();
  }

  @Test
  void aSuspendedTaskHoldsNoLeaseAndResumesFromItsCheckpoint() throws Exception {
    TaskRow t = submit(withPriority("http://a.test/x", 0.9));
    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    checkpoint(t.id(), c.epoch(), 1000, "\"v1\"");

    TaskRow suspended = ledger.taskControl().suspend(tenant, session, t.id()).orElseThrow();
    assertThat(suspended.state()).isEqualTo(TaskState.SUSPENDED);
    assertThat(suspended.leaseOwner()).isNull();
    assertThat(suspended.attempt()).as("a suspended attempt does not count").isZero();
    assertThat(heartbeat(t.id(), c.epoch())).isFalse();
    assertThat(ledger.claims().claimNext("w2", TTL)).isEmpty();
    assertThat(ledger.taskControl().suspend(tenant, session, t.id()).orElseThrow().state())
        .isEqualTo(TaskState.SUSPENDED);

    clearOutbox();
    assertThat(ledger.taskControl().resume(tenant, session, t.id()).orElseThrow().state())
        .isEqualTo(TaskState.QUEUED);
    assertThat(outboxKeys("transfer-tasks")).contains(t.id());
    Claim again = ledger.claims().claimNext("w2", TTL).orElseThrow();
    assertThat(again.task().bytesDurable()).isEqualTo(1000);
    assertThat(again.task().durableEpoch()).isEqualTo(c.epoch());
    assertThat(again.task().attempt()).isEqualTo(1);
  }

  @Test
  void aFinishedTaskCanBeNeitherSuspendedNorResumed() {
    TaskRow t = submit(withPriority("http://a.test/x", 0.9));
    ledger.taskControl().cancel(tenant, session, t.id(), false);
    assertThatThrownBy(() -> ledger.taskControl().suspend(tenant, session, t.id()))
        .isInstanceOf(TaskControl.StateConflict.class);
    assertThatThrownBy(() -> ledger.taskControl().resume(tenant, session, t.id()))
        .isInstanceOf(TaskControl.StateConflict.class);
  }

  @Test
  void tasksArePagedInCreationOrderAndFilteredByState() {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ids.add(submit(withPriority("http://a.test/" + i, 0.1)).id());
      clock.advance(Duration.ofMillis(10));
    }
    ledger.taskControl().cancel(tenant, session, ids.get(1), false);
    ledger.taskControl().cancel(tenant, session, ids.get(3), false);

    List<TaskRow> page1 = ledger.taskControl().tasks(tenant, session, null, null, 3);
    assertThat(page1).extracting(TaskRow::id).containsExactlyElementsOf(ids.subList(0, 3));
    assertThat(ledger.taskControl().tasks(tenant, session, null, ids.get(2), 3))
        .extracting(TaskRow::id)
        .containsExactlyElementsOf(ids.subList(3, 5));
    assertThat(ledger.taskControl().tasks(tenant, session, Set.of(TaskState.CANCELED), null, 10))
        .extracting(TaskRow::id)
        .containsExactly(ids.get(1), ids.get(3));
    assertThat(ledger.taskControl().tasks(tenant, "other", null, null, 10)).isEmpty();
  }
}
