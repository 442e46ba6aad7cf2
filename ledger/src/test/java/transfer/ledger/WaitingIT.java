package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;
import transfer.contracts.TaskState;
import transfer.contracts.WaitReasons;

/**
 * Waiting for connectivity in the ledger: attempts that ended in a fault the task waits out do not
 * count against its attempts, a waiting spell is announced once, bytes moved end the spell, the
 * deadline still ends the task, and the attempts that count keep their meaning.
 */
class WaitingIT extends LedgerFixture {
  private static final TaskError REFUSED =
      TaskError.of(ErrorCodes.CONNECTION_FAILED, "Connection refused", true);

  WaitingIT() {
    super("2026-03-01T00:00:00Z");
  }

  @BeforeEach
  void parkQueuedTasks() throws Exception {
    db.parkQueuedTasks();
  }

  /** Claims the task, fails the attempt with {@code error}, and lets its backoff pass. */
  private Leases.FailOutcome failOnce(TaskRow t, TaskError error, String waitReason) {
    long e = TestClaims.claim(ledger, t.id(), "w1", TTL).orElseThrow().epoch();
    Leases.FailOutcome outcome =
        ledger.leases().failAttempt(Lease.of(t.id(), e), error, Duration.ofSeconds(5), waitReason);
    clock.advance(Duration.ofSeconds(5));
    ledger.reaping().promoteDueTasks(1000);
    return outcome;
  }

  /** The ledger's change of task {@code t} of this session. */
  private java.util.Optional<TaskRow> patch(TaskRow t, transfer.contracts.TaskPatch change) {
    return ledger.taskControl().patch(tenant, session, t.id(), change);
  }

  private List<JsonNode> waitingEvents(TaskRow t) {
    return numberedEvents(tenant, session, 0, 1000).stream()
        .filter(e -> e.get("type").asText().equals("transfer.task.waiting"))
        .filter(e -> e.get("subject").asText().equals(t.id()))
        .toList();
  }

  @Test
  void faultsTheTaskWaitsOutDoNotUseUpItsAttemptsAndAreAnnouncedOncePerSpell() {
    ledger.sessions().upsertSession(tenant, session, oneAttempt());
    TaskRow t = submit(download("http://127.0.0.1/x"));
    for (int i = 0; i < 4; i++) {
      assertThat(failOnce(t, REFUSED, WaitReasons.CONNECTIVITY))
          .isEqualTo(Leases.FailOutcome.RETRY_SCHEDULED);
    }
    TaskRow waiting = task(t.id());
    assertThat(waiting.attempt()).isEqualTo(4);
    assertThat(waiting.uncountedAttempts()).isEqualTo(4);
    assertThat(waiting.countedAttempts()).isZero();
    assertThat(waiting.waitingReason()).isEqualTo(WaitReasons.CONNECTIVITY);

    List<JsonNode> announced = waitingEvents(t);
    assertThat(announced).as("one event for the whole spell").hasSize(1);
    JsonNode data = announced.get(0).get("data");
    assertThat(data.get("reason").asText()).isEqualTo(WaitReasons.CONNECTIVITY);
    assertThat(data.at("/error/code").asText()).isEqualTo(ErrorCodes.CONNECTION_FAILED);
    assertThat(data.get("nextAttemptAt").asText()).isEqualTo("2026-03-01T00:00:05Z");
    assertThat(data.get("deadlineAt").asText()).isEqualTo(waiting.deadlineAt().toString());
    assertThat(data.get("attempt").asInt()).isEqualTo(1);

    // Another reason is another spell.
    failOnce(
        t,
        new TaskError(ErrorCodes.HTTP_STATUS, "the origin answered HTTP 503", 503, true),
        WaitReasons.ORIGIN_UNAVAILABLE);
    assertThat(waitingEvents(t))
        .extracting(e -> e.at("/data/reason").asText())
        .containsExactly(WaitReasons.CONNECTIVITY, WaitReasons.ORIGIN_UNAVAILABLE);

    // Bytes moved again end the spell: the next fault is announced anew.
    long e = TestClaims.claim(ledger, t.id(), "w1", TTL).orElseThrow().epoch();
    checkpoint(t.id(), e, 1000, "\"v\"");
    assertThat(task(t.id()).waitingReason()).isNull();
    ledger
        .leases()
        .failAttempt(Lease.of(t.id(), e), REFUSED, Duration.ZERO, WaitReasons.CONNECTIVITY);
    assertThat(waitingEvents(t)).hasSize(3);

    // The session allows one counted attempt: the first fault that counts is the last.
    clock.advance(Duration.ofSeconds(1));
    ledger.reaping().promoteDueTasks(1000);
    assertThat(failOnce(t, TaskError.of(ErrorCodes.CHECKSUM_MISMATCH, "another body", true), null))
        .isEqualTo(Leases.FailOutcome.FAILED_RESUMABLE);
    TaskRow failed = task(t.id());
    assertThat(failed.state()).isEqualTo(TaskState.FAILED);
    assertThat(failed.error().code()).isEqualTo(ErrorCodes.ATTEMPTS_EXHAUSTED);
    assertThat(failed.error().message()).startsWith("gave up after 1 attempts");
  }

  @Test
  void aTaskThatWaitsFailsAtItsDeadlineNamingWhatItWaitedFor() {
    TaskRow t = submit();
    failOnce(t, REFUSED, WaitReasons.CONNECTIVITY);
    long e = TestClaims.claim(ledger, t.id(), "w1", TTL).orElseThrow().epoch();
    ledger
        .leases()
        .failAttempt(Lease.of(t.id(), e), REFUSED, Duration.ofDays(30), WaitReasons.CONNECTIVITY);
    assertThat(state(t)).isEqualTo(TaskState.WAITING);
    clock.advance(Duration.between(clock.instant(), task(t.id()).deadlineAt()).plusSeconds(1));
    assertThat(ledger.reaping().failOverdue(1000)).isGreaterThanOrEqualTo(1);
    TaskRow failed = task(t.id());
    assertThat(failed.state()).isEqualTo(TaskState.FAILED);
    assertThat(failed.error().code()).isEqualTo(ErrorCodes.RESOURCE_TIMEOUT);
    assertThat(failed.error().message())
        .contains("it was waiting (connectivity)")
        .contains("connection_failed: Connection refused");
  }

  @Test
  void aFinalErrorNeverWaitsWhateverTheWorkerSaid() {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", TTL).orElseThrow().epoch();
    assertThat(
            ledger
                .leases()
                .failAttempt(
                    Lease.of(t.id(), e),
                    new TaskError(ErrorCodes.HTTP_STATUS, "404", 404, false),
                    Duration.ZERO,
                    WaitReasons.ORIGIN_UNAVAILABLE))
        .isEqualTo(Leases.FailOutcome.FAILED);
    assertThat(waitingEvents(t)).isEmpty();
  }

  @Test
  void anExpiredLeaseCountsOnlyTheAttemptsThatCount() {
    ledger.sessions().upsertSession(tenant, session, oneAttempt());
    TaskRow t = submit(download("http://127.0.0.1/x"));
    failOnce(t, REFUSED, WaitReasons.CONNECTIVITY);
    failOnce(t, REFUSED, WaitReasons.CONNECTIVITY);
    // Attempt 3 (the first that counts) loses its worker: no counted attempt is left after it.
    TestClaims.claim(ledger, t.id(), "w1", TTL).orElseThrow();
    clock.advance(TTL.plusSeconds(1));
    ledger.reaping().reapExpiredLeases(1000);
    TaskRow failed = task(t.id());
    assertThat(failed.state()).isEqualTo(TaskState.FAILED);
    assertThat(failed.error().message()).startsWith("gave up after 1 attempts");
  }

  @Test
  void aTaskWhoseCredentialsWereRefusedWaitsForAPatchAndIsQueuedByIt() {
    TaskRow t = submit(download("http://a.test/signed?sig=old"));
    long e = TestClaims.claim(ledger, t.id(), "w1", TTL).orElseThrow().epoch();
    TaskError refused =
        new TaskError(ErrorCodes.CREDENTIALS_REQUIRED, "the origin answered HTTP 403", 403, true);
    assertThat(
            ledger
                .leases()
                .failAttempt(
                    Lease.of(t.id(), e),
                    refused,
                    Duration.ofSeconds(1),
                    WaitReasons.CREDENTIALS_REQUIRED))
        .isEqualTo(Leases.FailOutcome.RETRY_SCHEDULED);
    TaskRow waiting = task(t.id());
    assertThat(waiting.state()).isEqualTo(TaskState.WAITING);
    assertThat(waiting.waitingReason()).isEqualTo(WaitReasons.CREDENTIALS_REQUIRED);
    assertThat(waiting.nextAttemptAt()).as("no attempt is due").isNull();
    clock.advance(Duration.ofDays(1));
    ledger.reaping().promoteDueTasks(1000);
    assertThat(state(t))
        .as("nothing but a PATCH or the deadline moves it")
        .isEqualTo(TaskState.WAITING);
    JsonNode asked =
        numberedEvents(tenant, session, 0, 1000).stream()
            .filter(ev -> ev.get("type").asText().equals("transfer.task.credentials_required"))
            .filter(ev -> ev.get("subject").asText().equals(t.id()))
            .findFirst()
            .orElseThrow();
    assertThat(asked.at("/data/httpStatus").asInt()).isEqualTo(403);
    assertThat(asked.at("/data/error/code").asText()).isEqualTo(ErrorCodes.CREDENTIALS_REQUIRED);

    TaskRow patched =
        patch(
                t,
                new transfer.contracts.TaskPatch(
                    "http://b.test:8080/signed?sig=new",
                    java.util.Map.of("Authorization", "Bearer fresh"),
                    0.9,
                    null))
            .orElseThrow();
    assertThat(patched.state()).isEqualTo(TaskState.QUEUED);
    assertThat(patched.url()).isEqualTo("http://b.test:8080/signed?sig=new");
    assertThat(patched.host()).isEqualTo("b.test:8080");
    assertThat(patched.priority()).isEqualTo(0.9);
    assertThat(patched.request().headers()).containsEntry("Authorization", "Bearer fresh");
    assertThat(patched.waitingReason()).isNull();
    assertThat(TestClaims.claim(ledger, t.id(), "w2", TTL)).as("claimable at once").isPresent();
  }

  @Test
  void aRunningTaskTakesANewPriorityButNotANewUrlAndAFinalOneNothing() {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", TTL).orElseThrow().epoch();
    assertThat(
            patch(t, new transfer.contracts.TaskPatch(null, null, 0.1, "d"))
                .orElseThrow()
                .priority())
        .isEqualTo(0.1);
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> patch(t, new transfer.contracts.TaskPatch("http://c.test/x", null, null, null)))
        .isInstanceOf(TaskControl.StateConflict.class)
        .hasMessageContaining("suspend it first");
    ledger.leases().completeDownload(Lease.of(t.id(), e), "file:///x", 1, "00", 1);
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> patch(t, new transfer.contracts.TaskPatch(null, null, 0.2, null)))
        .isInstanceOf(TaskControl.StateConflict.class);
  }

  @Test
  void aTaskLeftWaitingForCredentialsFailsAtItsDeadlineSayingSo() {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", TTL).orElseThrow().epoch();
    ledger
        .leases()
        .failAttempt(
            Lease.of(t.id(), e),
            new TaskError(ErrorCodes.CREDENTIALS_REQUIRED, "HTTP 401", 401, true),
            Duration.ZERO,
            WaitReasons.CREDENTIALS_REQUIRED);
    clock.advance(Duration.between(clock.instant(), task(t.id()).deadlineAt()).plusSeconds(1));
    ledger.reaping().failOverdue(1000);
    TaskRow failed = task(t.id());
    assertThat(failed.state()).isEqualTo(TaskState.FAILED);
    assertThat(failed.error().code()).isEqualTo(ErrorCodes.CREDENTIALS_REQUIRED);
    assertThat(failed.error().httpStatus()).isEqualTo(401);
    assertThat(failed.error().retryable()).isFalse();
  }

  @Test
  void aTaskThatWaitsForItsBeginTimeSaysSo() {
    TaskRow t =
        submit(beginningAt("http://a.test/later", clock.instant().plus(Duration.ofHours(1))));
    TaskRow stored = task(t.id());
    assertThat(stored.state()).isEqualTo(TaskState.WAITING);
    assertThat(stored.waitingReason()).isEqualTo(WaitReasons.BEGIN_AT);
    // A new URL does not start it before its time.
    TaskRow patched =
        patch(t, new transfer.contracts.TaskPatch("http://a.test/elsewhere", null, null, null))
            .orElseThrow();
    assertThat(patched.state()).isEqualTo(TaskState.WAITING);
    assertThat(patched.url()).isEqualTo("http://a.test/elsewhere");
  }
}
