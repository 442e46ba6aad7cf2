package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.vertx.core.Future;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import org.jboss.logmanager.ExtLogRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.contracts.Metric;
import transfer.contracts.RetryPolicy;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.ledger.Claim;
import transfer.ledger.Leases;
import transfer.ledger.Leases.FailOutcome;
import transfer.ledger.SettableClock;
import transfer.ledger.TaskRow;
import transfer.worker.WorkerMetrics;

/**
 * The attempt's life cycle without Vert.x, a ledger or a network: time, the ledger's answers and
 * the transfer's progress are the test's. Whatever happens, and in whatever order, an attempt ends
 * exactly once: one outcome counted, one span, one last log line, {@code finished} completed, at
 * most one ending write the ledger took, and no timer left.
 */
class AttemptTest {
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);
  private static final LeaseTimer.Terms TERMS =
      new LeaseTimer.Terms(Duration.ofSeconds(30), Duration.ofSeconds(1), 0.8);
  private static final TaskError RESET =
      TaskError.of(ErrorCodes.CONNECTION_FAILED, "connection reset", true);

  private static final java.util.logging.Logger ATTEMPT_LOG =
      java.util.logging.Logger.getLogger(Attempt.class.getName());
  private static final List<String> LINES = new CopyOnWriteArrayList<>();
  private static final Handler CAPTURE =
      new Handler() {
        @Override
        public void publish(LogRecord r) {
          LINES.add(
              r instanceof ExtLogRecord e
                  ? e.getFormattedMessage()
                  : String.valueOf(r.getMessage()));
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  private static int runs;

  @BeforeAll
  static void captureLog() {
    ATTEMPT_LOG.addHandler(CAPTURE);
  }

  @AfterAll
  static void releaseLog() {
    ATTEMPT_LOG.removeHandler(CAPTURE);
  }

  /** One attempt with fakes all round. */
  private static final class Run {
    final String taskId = "task-" + (++runs);
    final SettableClock clock = new SettableClock(Instant.parse("2026-01-01T00:00:00Z"));
    final ManualScheduler scheduler = new ManualScheduler(clock);
    final FakeLeaseWriter leases = new FakeLeaseWriter();
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final List<SpanData> spans = new ArrayList<>();
    final ScriptedTransfer transfer = new ScriptedTransfer(REQUEST_TIMEOUT);
    final Attempt attempt;

    Run() {
      SdkTracerProvider tracing =
          SdkTracerProvider.builder()
              .addSpanProcessor(
                  SimpleSpanProcessor.create(
                      new SpanExporter() {
                        @Override
                        public CompletableResultCode export(Collection<SpanData> s) {
                          spans.addAll(s);
                          return CompletableResultCode.ofSuccess();
                        }

                        @Override
                        public CompletableResultCode flush() {
                          return CompletableResultCode.ofSuccess();
                        }

                        @Override
                        public CompletableResultCode shutdown() {
                          return CompletableResultCode.ofSuccess();
                        }
                      }))
              .build();
      TaskRow task = task(taskId);
      attempt =
          new Attempt(
              new Claim(task, session()),
              scheduler,
              leases,
              TERMS,
              clock,
              new AttemptTelemetry(
                  task,
                  task.leaseEpoch(),
                  new AttemptTelemetry.Sinks(
                      new WorkerMetrics(registry), tracing.get("test"), "worker-1"),
                  Context.root()),
              a -> transfer);
      attempt.start();
    }

    /** The body is in and checked: the attempt finishes and commits, as a transfer does. */
    void complete() {
      if (attempt.finishing()) {
        attempt.complete(
            since ->
                leases
                    .completeDownload(attempt.lease(), "file:/x", transfer.moved, "ab", since)
                    .map(
                        ok ->
                            ok
                                ? new Outcome.Completed("completed, " + transfer.moved + " bytes")
                                : Outcome.Fenced.completionNotRecorded("superseded")));
      }
    }

    double attempts(String outcome) {
      return count(registry.find(Metric.WORKER_ATTEMPTS.meterName()).tag("outcome", outcome));
    }

    double attempts() {
      return count(registry.find(Metric.WORKER_ATTEMPTS.meterName()));
    }

    private static double count(io.micrometer.core.instrument.search.Search found) {
      return found.counters().stream().mapToDouble(Counter::count).sum();
    }

    double leasesLost(String reason) {
      return registry
          .get(Metric.WORKER_LEASES_LOST.meterName())
          .tag("reason", reason)
          .counter()
          .count();
    }

    /** The lines that say how this attempt ended (not its first line, not a renewal's warning). */
    List<String> endLines() {
      return LINES.stream()
          .filter(l -> l.startsWith("task " + taskId + ": "))
          .filter(l -> !l.contains(": claimed by ") && !l.contains(": cannot renew lease"))
          .toList();
    }

    String outcome() {
      assertThat(spans).hasSize(1);
      return spans.get(0).getAttributes().get(AttributeKey.stringKey("transfer.outcome"));
    }

    /** The properties every attempt has once it ended, whatever ended it. */
    void assertEndedOnce(String as) {
      assertThat(attempt.life()).as(as).isEqualTo(Life.ENDED);
      assertThat(attempt.finished().isComplete()).as(as).isTrue();
      assertThat(attempts()).as("%s: attempts counted", as).isEqualTo(1);
      assertThat(spans).as("%s: spans", as).hasSize(1);
      assertThat(endLines()).as("%s: last log lines", as).hasSize(1);
      assertThat(leases.endings().stream().filter(c -> c.answer().future().succeeded()))
          .as("%s: ending writes the ledger took", as)
          .hasSizeLessThanOrEqualTo(1);
      assertThat(scheduler.timers()).as("%s: timers left", as).isZero();
    }
  }

  static TaskRow task(String id) {
    String url = "https://files.example.com/f";
    return new TaskRow(
        id,
        "tenant-1",
        "session-1",
        TaskType.DOWNLOAD,
        TaskState.RUNNING,
        url,
        TaskRequest.download(url),
        0.5,
        1,
        5,
        null,
        "worker-1",
        7,
        null,
        0,
        0,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        "files.example.com:443",
        false,
        null,
        null,
        null,
        null,
        null,
        null);
  }

  static SessionConfig session() {
    return new SessionConfig(
            null,
            6,
            REQUEST_TIMEOUT,
            Duration.ofDays(7),
            false,
            true,
            Map.of(),
            RetryPolicy.DEFAULT)
        .withDefaults();
  }

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

  private static void happen(Run run, Event e, boolean answerNow) {
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
      Run run = new Run();
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
      Run run = new Run();
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
    Run run = new Run();
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
    Run run = new Run();
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
    Run run = new Run();
    run.complete();
    run.leases.calls("completeDownload").get(0).answer(false);

    assertThat(run.outcome()).isEqualTo(WorkerMetrics.FENCED);
    assertThat(run.leasesLost(WorkerMetrics.SUPERSEDED)).isEqualTo(1);
    assertThat(run.endLines()).containsExactly("task " + run.taskId + ": superseded");
    run.assertEndedOnce("fenced");
  }

  @Test
  void aStallWhileWaitingOnOurOwnStorageDoesNotCount() {
    Run run = new Run();
    run.transfer.waitingOnOurselves = true;
    run.scheduler.advance(REQUEST_TIMEOUT.multipliedBy(4));
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
  void aRefusedHeartbeatStopsTheAttemptWithoutAnotherWrite() {
    Run run = new Run();
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
    Run run = new Run();
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
  private static void flowing(Run run, Duration d) {
    for (long s = 0; s < d.toSeconds(); s++) {
      run.scheduler.advance(Duration.ofSeconds(1));
      run.transfer.moved += 1000;
      run.attempt.watchdog().touch();
    }
  }

  @Test
  void aFailureTheLedgerCannotRecordIsCountedUnrecorded() {
    Run run = new Run();
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
    Run run = new Run();
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
                + ": handing back (epoch 7) after 4096 bytes; this worker is stopping");
    run.assertEndedOnce("handed back");
  }

  @Test
  void heartbeatsCarryProgressAndTheCheckpointAndOfferItAgainWhenNotWritten() {
    Run run = new Run();
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
    Run run = new Run();
    run.transfer.moved = 10;
    run.attempt.firstProgressSoon();
    run.scheduler.advance(Duration.ofMillis(LeaseTimer.FIRST_PROGRESS_DELAY_MS));
    assertThat(run.leases.calls("heartbeat")).hasSize(1);
    assertThat(run.leases.calls("heartbeat").get(0).detail())
        .isEqualTo(new Leases.Heartbeat(10, null, null, true, 10));
  }
}
