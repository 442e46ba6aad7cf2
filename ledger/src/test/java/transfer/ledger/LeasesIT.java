package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;

/**
 * What a lease holder writes, fenced by its epoch: heartbeats and checkpoints, completions, failed
 * attempts and their retries, hand-backs.
 */
class LeasesIT extends LedgerFixture {
  LeasesIT() {
    super("2026-01-01T00:00:00Z");
  }

  @BeforeEach
  void parkQueuedTasks() throws Exception {
    // claimNext ranks every queued task of the schema: park those other tests left behind.
    db.parkQueuedTasks();
  }

  @Test
  void aSupersededEpochCanNoLongerWrite() {
    TaskRow t = submit();
    long e1 = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    clock.advance(Duration.ofSeconds(31));
    // The reaper is global: tasks of other tests in this database may be reaped too.
    assertThat(ledger.reaping().reapExpiredLeases(1000).requeued()).isGreaterThanOrEqualTo(1);
    assertThat(state(t)).isEqualTo(TaskState.QUEUED);
    // The reaper re-queued it: the frozen worker's heartbeat is refused even before a new claim.
    assertThat(heartbeat(t.id(), e1)).isFalse();
    long e2 = TestClaims.claim(ledger, t.id(), "w2", Duration.ofSeconds(30)).orElseThrow().epoch();
    assertThat(e2).isEqualTo(e1 + 1);
    assertThat(heartbeat(t.id(), e1)).isFalse();
    assertThat(ledger.leases().completeDownload(Lease.of(t.id(), e1), "file:///x", 1, "00", 1))
        .isFalse();
    assertThat(
            ledger
                .leases()
                .failAttempt(Lease.of(t.id(), e1), TaskError.of("x", "y", true), Duration.ZERO))
        .isEqualTo(Leases.FailOutcome.FENCED);
    assertThat(heartbeat(t.id(), e2)).isTrue();
    assertThat(ledger.leases().completeDownload(Lease.of(t.id(), e2), "file:///x", 1, "00", 1))
        .isTrue();
    TaskRow done = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(done.state()).isEqualTo(TaskState.COMPLETED);
    assertThat(done.attempt()).isEqualTo(2);
  }

  @Test
  void completionWritesOneCompletedEventWithAnIdDerivedFromTheTask() {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    assertThat(ledger.leases().completeDownload(Lease.of(t.id(), e), "file:///x", 5, "ab", 5))
        .isTrue();
    assertThat(ledger.leases().completeDownload(Lease.of(t.id(), e), "file:///x", 5, "ab", 5))
        .isFalse();
    var events = numberedEvents(tenant, session, 0, 100);
    assertThat(events)
        .extracting(n -> n.get("type").asText())
        .containsExactly(
            "transfer.task.progress",
            "transfer.task.downloaded",
            "transfer.task.completed",
            "transfer.session.drained");
    assertThat(events.get(2).get("id").asText()).isEqualTo(t.id() + ":completed");
    assertThat(events).extracting(n -> n.get("sequence").asLong()).containsExactly(1L, 2L, 3L, 4L);
  }

  @Test
  void aRetryableFailureWaitsForItsBackoffThenIsQueuedAgain() {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    var outcome =
        ledger
            .leases()
            .failAttempt(
                Lease.of(t.id(), e),
                TaskError.of(ErrorCodes.CONNECTION_FAILED, "reset", true),
                Duration.ofSeconds(10));
    assertThat(outcome).isEqualTo(Leases.FailOutcome.RETRY_SCHEDULED);
    assertThat(state(t)).isEqualTo(TaskState.WAITING);
    ledger.reaping().promoteDueTasks(1000);
    assertThat(state(t)).isEqualTo(TaskState.WAITING);
    clock.advance(Duration.ofSeconds(10));
    assertThat(ledger.reaping().promoteDueTasks(1000)).isGreaterThanOrEqualTo(1);
    assertThat(state(t)).isEqualTo(TaskState.QUEUED);
  }

  @Test
  void aFinalFailureEndsTheTaskWithOneCompletionEvent() {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    var outcome =
        ledger
            .leases()
            .failAttempt(
                Lease.of(t.id(), e),
                new TaskError(ErrorCodes.HTTP_STATUS, "404", 404, false),
                Duration.ZERO);
    assertThat(outcome).isEqualTo(Leases.FailOutcome.FAILED);
    TaskRow failed = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(failed.state()).isEqualTo(TaskState.FAILED);
    assertThat(failed.error().httpStatus()).isEqualTo(404);
    assertThat(numberedEvents(tenant, session, 0, 10))
        .extracting(n -> n.get("type").asText())
        .containsExactly("transfer.task.completed", "transfer.session.drained");
  }

  @Test
  void theLastRetryableFailureBecomesAttemptsExhausted() {
    SessionConfig oneAttempt = oneAttempt();
    ledger.sessions().upsertSession(tenant, session, oneAttempt);
    TaskRequest r = download("http://127.0.0.1/x");
    TaskRow t =
        ledger
            .submissions()
            .submit(tenant, session, r, oneAttempt.withDefaults(), null, null)
            .task();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    ledger
        .leases()
        .failAttempt(
            Lease.of(t.id(), e), TaskError.of(ErrorCodes.STALLED, "quiet", true), Duration.ZERO);
    TaskRow failed = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(failed.state()).isEqualTo(TaskState.FAILED);
    assertThat(failed.error().code()).isEqualTo(ErrorCodes.ATTEMPTS_EXHAUSTED);
    assertThat(failed.error().message()).contains(ErrorCodes.STALLED);
  }

  @Test
  void aFinalFailureAfterADurablePrefixOffersResumeData() {
    ledger.sessions().upsertSession(tenant, session, oneAttempt());
    TaskRow t = submit(withPriority("http://a.test/x", 0.9));
    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    checkpoint(t.id(), c.epoch(), 500, "\"v1\"");
    Leases.FailOutcome outcome =
        ledger
            .leases()
            .failAttempt(
                Lease.of(t.id(), c.epoch()),
                TaskError.of(ErrorCodes.CONNECTION_FAILED, "reset", true),
                Duration.ZERO);
    assertThat(outcome).isEqualTo(Leases.FailOutcome.FAILED_RESUMABLE);
    JsonNode data = lastOfType("transfer.task.completed").get("data");
    assertThat(data.get("error").get("code").asText()).isEqualTo(ErrorCodes.ATTEMPTS_EXHAUSTED);
    assertThat(data.get("resumeData").asText()).isEqualTo(task(t.id()).resumeData());
    assertThat(submit(resumeWith(data.get("resumeData").asText())).bytesDurable()).isEqualTo(500);
  }

  @Test
  void aHandedBackTaskIsQueuedAtOnceWithoutSpendingAnAttempt() throws Exception {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    assertThat(
            ledger
                .leases()
                .release(Lease.of(t.id(), e), new Leases.Checkpoint(7, e, "\"v1\"", null)))
        .isTrue();
    TaskRow back = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(back.state()).isEqualTo(TaskState.QUEUED);
    assertThat(back.attempt()).isZero();
    assertThat(back.leaseOwner()).isNull();
    assertThat(back.bytesDurable()).isEqualTo(7);
    assertThat(back.durableEpoch()).isEqualTo(e);
    assertThat(back.etag()).isEqualTo("\"v1\"");
    assertThat(TestClaims.claim(ledger, t.id(), "w2", Duration.ofSeconds(30))).isPresent();
  }

  @Test
  void aCheckpointIsRecordedWithItsEpochAndValidators() {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    ledger
        .leases()
        .heartbeat(
            Lease.of(t.id(), e),
            Duration.ofSeconds(30),
            new Leases.Heartbeat(
                100,
                new Leases.Checkpoint(64, e, "\"a\"", "Tue, 01 Jan 2030 00:00:00 GMT"),
                200L,
                true,
                100));
    TaskRow row = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(row.bytesDurable()).isEqualTo(64);
    assertThat(row.durableEpoch()).isEqualTo(e);
    assertThat(row.etag()).isEqualTo("\"a\"");
    // A heartbeat without a checkpoint keeps the last one.
    ledger
        .leases()
        .heartbeat(
            Lease.of(t.id(), e),
            Duration.ofSeconds(30),
            new Leases.Heartbeat(150, null, 200L, false, 0));
    assertThat(ledger.taskControl().task(tenant, session, t.id()).orElseThrow().bytesDurable())
        .isEqualTo(64);
  }

  @Test
  void aResumableUploadsResourceIsKeptUntilAPatchGivesTheTaskAnotherUrl() {
    TaskRow t = submit();
    Lease lease =
        TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().lease();
    String resource = "https://up.example.com/files/abc";
    assertThat(
            ledger
                .leases()
                .heartbeat(
                    lease,
                    Duration.ofSeconds(30),
                    new Leases.Heartbeat(0, null, 10L, false, 0, null, resource)))
        .isTrue();
    assertThat(uploadResource(t)).isEqualTo(resource);
    // Heartbeats that name none keep it, and so does a failed attempt.
    ledger
        .leases()
        .heartbeat(lease, Duration.ofSeconds(30), new Leases.Heartbeat(5, null, 10L, false, 0));
    ledger
        .leases()
        .failAttempt(lease, TaskError.of("connection_failed", "cut", true), Duration.ofHours(1));
    assertThat(uploadResource(t)).isEqualTo(resource);
    // New headers keep it; a new URL creates a new one.
    ledger
        .taskControl()
        .patch(
            tenant,
            session,
            t.id(),
            new transfer.contracts.TaskPatch(null, java.util.Map.of("X-Token", "2"), null, null));
    assertThat(uploadResource(t)).isEqualTo(resource);
    ledger
        .taskControl()
        .patch(
            tenant,
            session,
            t.id(),
            new transfer.contracts.TaskPatch("https://up.example.com/v2/", null, null, null));
    assertThat(uploadResource(t)).isNull();
  }

  private String uploadResource(TaskRow t) {
    return ledger.taskControl().task(tenant, session, t.id()).orElseThrow().uploadResource();
  }
}
