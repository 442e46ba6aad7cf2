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
import java.nio.file.Path;
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
import transfer.contracts.Metric;
import transfer.contracts.RetryPolicy;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.ledger.Claim;
import transfer.ledger.SettableClock;
import transfer.ledger.TaskRow;
import transfer.storage.StoredFiles;
import transfer.worker.WorkerMetrics;

/**
 * One attempt of a unit test, with fakes all round: a manual scheduler and clock, a lease writer
 * whose answers the test gives, a scripted transfer, a registry and a span exporter of its own.
 * Each run names its task anew, so that the log lines it keeps are its own.
 */
final class AttemptRun {
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);
  static final LeaseTimer.Terms TERMS =
      new LeaseTimer.Terms(Duration.ofSeconds(30), Duration.ofSeconds(1), 0.8);

  private static final java.util.logging.Logger ATTEMPT_LOG =
      java.util.logging.Logger.getLogger(Attempt.class.getName());
  static final List<String> LINES = new CopyOnWriteArrayList<>();
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

  /** From now on, the attempts' log lines are kept (in {@link #LINES}). */
  static void captureLog() {
    ATTEMPT_LOG.addHandler(CAPTURE);
  }

  static void releaseLog() {
    ATTEMPT_LOG.removeHandler(CAPTURE);
  }

  private static int runs;

  final String taskId = "task-" + (++runs);
  final SettableClock clock = new SettableClock(Instant.parse("2026-01-01T00:00:00Z"));
  final ManualScheduler scheduler = new ManualScheduler(clock);
  final FakeLeaseWriter leases = new FakeLeaseWriter();
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final List<SpanData> spans = new ArrayList<>();
  final ScriptedTransfer transfer = new ScriptedTransfer(REQUEST_TIMEOUT);
  final Attempt attempt;

  AttemptRun() {
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
                    new WorkerMetrics(registry),
                    tracing.get("test"),
                    "worker-1",
                    new transfer.worker.storage.StorageHealth(null)),
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
                  .completeDownload(
                      attempt.lease(),
                      new StoredFiles.Moved(Path.of("/x"), List.of()).stored(),
                      transfer.moved,
                      "ab",
                      since,
                      null,
                      null,
                      null)
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
        null,
        0,
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
}
