package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;
import transfer.ledger.Leases;
import transfer.ledger.Leases.FailOutcome;
import transfer.worker.WorkerMetrics;

/**
 * The attempt's life cycle without Vert.x, a ledger or a network: time, the ledger's answers and
 * the transfer's progress are the test's. Whatever happens, and in whatever order, an attempt ends
 * exactly once: one outcome counted, one span, one last log line, {@code finished} completed, at
 * most one ending write the ledger took, and no timer left.
 */
class AttemptTest {
  @BeforeAll
  static void captureLog() {
    AttemptRun.captureLog();
  }

  @AfterAll
  static void releaseLog() {
    AttemptRun.releaseLog();
  }

  private static final Duration REQUEST_TIMEOUT = AttemptRun.REQUEST_TIMEOUT;
  private static final LeaseTimer.Terms TERMS = AttemptRun.TERMS;
  private static final TaskError RESET =
      TaskError.of(ErrorCodes.CONNECTION_FAILED, "connection reset", true);

  /** What may happen to a running attempt. */
  enum Event {
    /** The body is in: finishing, and the completion's commit. */
    COMPLETE,
    /** A heartbeat that touches no row. */
    FENCE,
    /** An error of the exchange. */
    FAIL,
    /** Nothing from the other side for requestTimeout. */
    STALL,
    /** A graceful stop. */
    HAND_BACK
  }

  private static void happen(AttemptRun run, Event e, boolean answerNow) {
    switch (e) {
      case COMPLETE -> run.complete();
      case FENCE -> {
        run.leases.heartbeatAnswer = answerNow ? false : null;
        run.scheduler.advance(TERMS.heartbeatInterval());
        run.leases.heartbeatAnswer = answerNow ? true : null;
      }
      case FAIL -> run.attempt.fail(RESET);
      case STALL -> run.scheduler.advance(REQUEST_TIMEOUT.plusSeconds(1));
      case HAND_BACK -> run.attempt.handBack();
    }
    if (answerNow) {
      run.leases.answerAll(FailOutcome.RETRY_SCHEDULED, true);
    }
  }

  private static List<List<Event>> permutations(List<Event> events) {
    if (events.isEmpty()) {
      return List.of(List.of());
    }
    List<List<Event>> all = new ArrayList<>();
    for (Event first : events) {
      List<Event> rest = new ArrayList<>(events);
      rest.remove(first);
      for (List<Event> tail : permutations(rest)) {
        List<Event> p = new ArrayList<>();
        p.add(first);
        p.addAll(tail);
        all.add(p);
      }
    }
    return all;
  }

  @Test
  void theFirstOfCompletionFenceFailureStallAndHandBackEndsTheAttemptAndOnlyIt() {
    Map<Event, String> expected =
        Map.of(
            Event.COMPLETE, WorkerMetrics.COMPLETED,
            Event.FENCE, WorkerMetrics.FENCED,
            Event.FAIL, WorkerMetrics.RETRY,
            Event.STALL, WorkerMetrics.RETRY,
            Event.HAND_BACK, WorkerMetrics.HANDED_BACK);
    for (List<Event> order : permutations(List.of(Event.values()))) {
      AttemptRun run = new AttemptRun();
      run.transfer.moved = 1000;
      for (Event e : order) {
        happen(run, e, true);
      }
      String as = order.toString();
      run.assertEndedOnce(as);
      assertThat(run.outcome()).as(as).isEqualTo(expected.get(order.get(0)));
      assertThat(run.attempts(expected.get(order.get(0)))).as(as).isEqualTo(1);
      if (order.get(0) == Event.STALL) {
        assertThat(((TaskError) run.leases.endings().get(0).detail()).code())
            .as(as)
            .isEqualTo(ErrorCodes.STALLED);
      }
      if (order.get(0) == Event.FENCE) {
        assertThat(run.leases.endings()).as(as).isEmpty();
        assertThat(run.leasesLost(WorkerMetrics.SUPERSEDED)).as(as).isEqualTo(1);
      }
    }
  }

  @Test
  void anAttemptEndsOnceWhenEverythingHappensBeforeTheLedgerAnswersAnything() {
    for (List<Event> order : permutations(List.of(Event.values()))) {
      AttemptRun run = new AttemptRun();
      run.leases.heartbeatAnswer = null;
      run.transfer.moved = 1000;
      for (Event e : order) {
        happen(run, e, false);
      }
      assertThat(run.attempt.finished().isComplete())
          .as("%s: ended before the ledger answered", order)
          .isFalse();
      // The ledger answers every write at last: a heartbeat "fenced", the rest as asked.
      for (FakeLeaseWriter.Call c : List.copyOf(run.leases.calls)) {
        if (!c.answered()) {
          c.answer(
              switch (c.what()) {
                case "heartbeat" -> false;
                case "failAttempt" -> FailOutcome.FAILED;
                default -> true;
              });
        }
      }
      run.assertEndedOnce(order.toString());
    }
  }

  @Test
  void aHandBackWhileFinishingWaitsForTheCompletionAndHandsNothingBack() {
    AttemptRun run = new AttemptRun();
    run.transfer.moved = 42;
    run.complete();
    assertThat(run.attempt.life()).isEqualTo(Life.FINISHING);

    Future<Void> handedBack = run.attempt.handBack();
    assertThat(handedBack.isComplete()).as("waits for the completion").isFalse();
    run.scheduler.advance(REQUEST_TIMEOUT.multipliedBy(10)); // no heartbeat, no stall now
    assertThat(run.leases.calls)
        .extracting(FakeLeaseWriter.Call::what)
        .containsExactly("completeDownload");

    run.leases.calls("completeDownload").get(0).answer(true);
    assertThat(handedBack.succeeded()).isTrue();
    assertThat(run.outcome()).isEqualTo(WorkerMetrics.COMPLETED);
    assertThat(run.leases.calls("release")).isEmpty();
    run.assertEndedOnce("completed");
    assertThat(run.endLines()).containsExactly("task " + run.taskId + ": completed, 42 bytes");
  }

  @Test
  void aCompletionThatCannotBeCommittedFailsTheAttemptInstead() {
    AttemptRun run = new AttemptRun();
    run.complete();
    run.leases.calls("completeDownload").get(0).fail("database away");

    FakeLeaseWriter.Call failure = run.leases.calls("failAttempt").get(0);
    assertThat(((TaskError) failure.detail()).code()).isEqualTo(ErrorCodes.STORAGE_FAILED);
    failure.answer(FailOutcome.RETRY_SCHEDULED);
    assertThat(run.outcome()).isEqualTo(WorkerMetrics.RETRY);
    run.assertEndedOnce("retried");
  }

  @Test
  void aCompletionTheFenceRefusesIsFencedAndALostLease() {
    AttemptRun run = new AttemptRun();
    run.complete();
    run.leases.calls("completeDownload").get(0).answer(false);

    assertThat(run.outcome()).isEqualTo(WorkerMetrics.FENCED);
    assertThat(run.leasesLost(WorkerMetrics.SUPERSEDED)).isEqualTo(1);
    assertThat(run.endLines()).containsExactly("task " + run.taskId + ": superseded");
    run.assertEndedOnce("fenced");
  }

  @Test
  void aStallWhileWaitingOnOurOwnStorageDoesNotCount() {
    AttemptRun run = new AttemptRun();
    run.transfer.waitingOnOurselves = true;
    run.scheduler.advance(REQUEST_TIMEOUT.minusSeconds(1));
    assertThat(run.leases.endings()).as("no stall while our storage is slow").isEmpty();
    assertThat(run.attempt.running()).isTrue();

    // The storage took the bytes again (a transfer's drain handler touches the watchdog).
    run.transfer.waitingOnOurselves = false;
    run.attempt.watchdog().touch();
    run.scheduler.advance(REQUEST_TIMEOUT.minusSeconds(1));
    assertThat(run.leases.endings()).as("quiet for less than requestTimeout").isEmpty();

    run.scheduler.advance(Duration.ofSeconds(2));
    FakeLeaseWriter.Call stall = run.leases.calls("failAttempt").get(0);
    assertThat(((TaskError) stall.detail()).code()).isEqualTo(ErrorCodes.STALLED);
    assertThat(run.transfer.stops).isEqualTo(1);
    stall.answer(FailOutcome.RETRY_SCHEDULED);
    run.assertEndedOnce("stalled");
  }

  @Test
  void waitingOnOurOwnStorageForTheWholeTimeoutEndsTheAttemptWithAStorageFailure() {
    AttemptRun run = new AttemptRun();
    run.transfer.waitingOnOurselves = true;
    // A hung volume: the writer never drains.
    run.scheduler.advance(REQUEST_TIMEOUT.plusSeconds(2));
    FakeLeaseWriter.Call stuck = run.leases.calls("failAttempt").get(0);
    TaskError error = (TaskError) stuck.detail();
    assertThat(error.code()).isEqualTo(ErrorCodes.STORAGE_FAILED);
    assertThat(error.message()).contains("took no bytes");
    assertThat(run.transfer.stops).isEqualTo(1);
  }

  @Test
  void aRefusedHeartbeatStopsTheAttemptWithoutAnotherWrite() {
    AttemptRun run = new AttemptRun();
    run.leases.heartbeatAnswer = false;
    run.scheduler.advance(TERMS.heartbeatInterval());

    assertThat(run.transfer.stops).isEqualTo(1);
    assertThat(run.leases.endings()).isEmpty();
    assertThat(run.leasesLost(WorkerMetrics.SUPERSEDED)).isEqualTo(1);
    assertThat(run.endLines())
        .containsExactly(
            "task "
                + run.taskId
                + ": epoch 7 stopped: the task was suspended, canceled or taken over by another"
                + " worker; nothing more is written");
    run.assertEndedOnce("fenced");
    // Nothing more happens, whatever comes later.
    run.attempt.fail(RESET);
    run.complete();
    assertThat(run.attempt.handBack().succeeded()).isTrue();
    run.assertEndedOnce("still fenced");
  }

  @Test
  void anAttemptTheLedgerNeverAnswersFencesItselfBeforeTheLeaseCouldExpire() {
    AttemptRun run = new AttemptRun();
    run.leases.heartbeatAnswer = null; // a partition: no answer, no error
    flowing(run, Duration.ofMillis(TERMS.selfFenceMillis()));
    assertThat(run.attempt.running()).isTrue();

    flowing(run, TERMS.heartbeatInterval());
    assertThat(run.leasesLost(WorkerMetrics.NOT_RENEWED)).isEqualTo(1);
    assertThat(run.endLines().get(0))
        .contains("could not renew the lease for 25000 ms, the ledger has not answered")
        .contains("(self-fencing)");
    assertThat(run.leases.calls("heartbeat")).hasSize(1); // one renewal in flight, never two
    run.assertEndedOnce("self-fenced");
  }

  /** Time passes while the other side sends bytes, a second at a time. */
  private static void flowing(AttemptRun run, Duration d) {
    for (long s = 0; s < d.toSeconds(); s++) {
      run.scheduler.advance(Duration.ofSeconds(1));
      run.transfer.moved += 1000;
      run.attempt.watchdog().touch();
    }
  }

  @Test
  void aFailureTheLedgerCannotRecordIsCountedUnrecorded() {
    AttemptRun run = new AttemptRun();
    run.attempt.fail(RESET);
    assertThat(run.transfer.stops).isEqualTo(1);
    run.leases.calls("failAttempt").get(0).fail("database away");

    assertThat(run.outcome()).isEqualTo(WorkerMetrics.UNRECORDED);
    assertThat(run.endLines().get(0))
        .isEqualTo(
            "task "
                + run.taskId
                + ": attempt 1 failed (connection_failed: connection reset) and the ledger could"
                + " not record it (database away); the lease will expire and the reaper retries"
                + " it");
    run.assertEndedOnce("unrecorded");
  }

  @Test
  void aHandBackHandsTheCheckpointOverAndDoesNotCountAsAFailure() {
    AttemptRun run = new AttemptRun();
    run.transfer.moved = 4096;
    run.attempt.handBack();
    FakeLeaseWriter.Call release = run.leases.calls("release").get(0);
    assertThat(release.detail()).isEqualTo(new Leases.Checkpoint(4096, 1, null, null));
    assertThat(run.attempt.finished().isComplete()).as("waits for the ledger").isFalse();

    release.answer(true);
    assertThat(run.outcome()).isEqualTo(WorkerMetrics.HANDED_BACK);
    assertThat(run.endLines())
        .containsExactly(
            "task "
                + run.taskId
                + ": handing back (epoch 7) after 4096 bytes: this worker is stopping");
    run.assertEndedOnce("handed back");
  }

  @Test
  void heartbeatsCarryProgressAndTheCheckpointAndOfferItAgainWhenNotWritten() {
    AttemptRun run = new AttemptRun();
    Leases.Checkpoint cp = new Leases.Checkpoint(100, 7, "\"e\"", null);
    run.transfer.moved = 150;
    run.transfer.next = cp;
    run.leases.heartbeatAnswer = null;
    run.scheduler.advance(TERMS.heartbeatInterval());
    FakeLeaseWriter.Call first = run.leases.calls("heartbeat").get(0);
    assertThat(first.detail()).isEqualTo(new Leases.Heartbeat(150, cp, null, true, 150));
    first.fail("timeout");
    assertThat(run.transfer.notRecorded).containsExactly(cp);

    run.transfer.moved = 300;
    run.transfer.next = cp; // offered again, as a transfer's checkpoints do
    run.scheduler.advance(TERMS.heartbeatInterval());
    FakeLeaseWriter.Call second = run.leases.calls("heartbeat").get(1);
    assertThat(second.detail()).isEqualTo(new Leases.Heartbeat(300, cp, null, true, 300));
    second.answer(true);
    assertThat(run.transfer.recorded).containsExactly(cp);

    run.transfer.moved = 350;
    run.scheduler.advance(TERMS.heartbeatInterval());
    assertThat(run.leases.calls("heartbeat").get(2).detail())
        .isEqualTo(new Leases.Heartbeat(350, null, null, true, 50));
  }

  @Test
  void theFirstProgressEventGoesSoonAfterTheBytesStartUnlessOneWasReported() {
    AttemptRun run = new AttemptRun();
    run.transfer.moved = 10;
    run.attempt.firstProgressSoon();
    run.scheduler.advance(Duration.ofMillis(LeaseTimer.FIRST_PROGRESS_DELAY_MS));
    assertThat(run.leases.calls("heartbeat")).hasSize(1);
    assertThat(run.leases.calls("heartbeat").get(0).detail())
        .isEqualTo(new Leases.Heartbeat(10, null, null, true, 10));
  }
}
