package transfer.worker.attempt;

import io.micrometer.core.instrument.Counter;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import java.util.Map;
import org.jboss.logging.Logger;
import org.jboss.logging.MDC;
import transfer.ledger.TaskRow;
import transfer.telemetry.LogFields;
import transfer.telemetry.TraceContext;
import transfer.telemetry.TraceContexts;
import transfer.worker.WorkerMetrics;
import transfer.worker.storage.StorageHealth;

/**
 * What an attempt tells the operators: its span, its metrics (bytes as they move, its end counted
 * once; the host in use is its {@link Connection}'s) and its log lines with the task's fields.
 * DESIGN.md, "Metrics", "Log fields" and "Traces".
 */
final class AttemptTelemetry {
  /** Where the attempts of this worker report. */
  /** Where an attempt's telemetry goes; {@code storage} learns of its storage failures. */
  record Sinks(WorkerMetrics metrics, Tracer tracer, String workerId, StorageHealth storage) {}

  /** Every line about an attempt is the attempt's, whichever part of it writes it. */
  private static final Logger LOG = Logger.getLogger(Attempt.class);

  private final TaskRow task;
  private final long epoch;
  private final WorkerMetrics metrics;
  private final String workerId;

  /**
   * The attempt's span ({@code download}, {@code upload}): from the claim to the attempt's end,
   * child of the doorbell's CONSUMER span or of the task's stored context. One per attempt, never
   * one per chunk: the bytes it moved are set once, when it ends.
   */
  private final Span span;

  /** Bytes moved in this attempt's direction, counted per chunk as they move. */
  private final Counter bytes;

  private final StorageHealth storage;

  private boolean spanEnded;

  AttemptTelemetry(TaskRow task, long epoch, Sinks sinks, Context parent) {
    this.task = task;
    this.epoch = epoch;
    this.metrics = sinks.metrics();
    this.storage = sinks.storage();
    this.workerId = sinks.workerId();
    this.bytes = metrics.bytes(task.type());
    this.span =
        sinks
            .tracer()
            .spanBuilder(task.type().wire())
            .setParent(parent)
            .setAttribute("transfer.task.id", task.id())
            .setAttribute("transfer.session.id", task.sessionId())
            .setAttribute("transfer.tenant", task.tenantId())
            .setAttribute("transfer.task.type", task.type().wire())
            .setAttribute("transfer.attempt", task.attempt())
            .setAttribute("transfer.epoch", epoch)
            .setAttribute("transfer.worker.id", sinks.workerId())
            .setAttribute("server.address", hostOnly(task.host()))
            .startSpan();
  }

  /**
   * The parent of an attempt of a task claimed without a doorbell of its own: its stored context.
   */
  static Context storedContext(TaskRow task) {
    TraceContext t = task.trace();
    return t == null ? Context.root() : TraceContexts.fromHeaders(t.traceparent(), t.tracestate());
  }

  private static String hostOnly(String hostPort) {
    if (hostPort == null) {
      return "";
    }
    int colon = hostPort.lastIndexOf(':');
    return colon > 0 ? hostPort.substring(0, colon) : hostPort;
  }

  /** The worker this attempt runs on, as leases and logs name it. */
  String workerId() {
    return workerId;
  }

  /** The attempt's trace context, which its events carry (README, Traces). */
  TraceContext traceContext() {
    Map<String, String> h = TraceContexts.headers(span);
    return TraceContext.of(h.get(TraceContexts.TRACEPARENT), h.get(TraceContexts.TRACESTATE));
  }

  /** The counter of bytes in this attempt's direction: increment it by each chunk as it moves. */
  Counter bytes() {
    return bytes;
  }

  WorkerMetrics metrics() {
    return metrics;
  }

  /**
   * Counts the attempt's end by its outcome (and the lease it lost, if it did), and ends its span
   * with the outcome, the error code and {@code moved}, the bytes this attempt itself moved.
   */
  void ended(Outcome outcome, long moved) {
    if (outcome.leaseLost() != null) {
      metrics.leaseLost(outcome.leaseLost());
    }
    metrics.attemptEnded(task.type(), outcome.label(), outcome.errorCode());
    storage.attemptEnded(outcome.errorCode(), () -> "task " + task.id() + ": " + outcome.line());
    endSpan(outcome.label(), outcome.errorCode(), moved);
  }

  /** The attempt is over, whichever way: its span is ended (if its end was not recorded). */
  void close(long moved) {
    endSpan("ended", null, moved);
  }

  private void endSpan(String outcome, String errorCode, long moved) {
    if (spanEnded) {
      return;
    }
    spanEnded = true;
    span.setAttribute("transfer.outcome", outcome);
    span.setAttribute("transfer.bytes", moved);
    if (errorCode != null) {
      span.setAttribute("transfer.error.code", errorCode);
      // Retries and hand-backs are the system working; failures and lost writes are errors.
      if (!WorkerMetrics.RETRY.equals(outcome)) {
        span.setStatus(StatusCode.ERROR, errorCode);
      }
    } else if (WorkerMetrics.UNRECORDED.equals(outcome)) {
      span.setStatus(StatusCode.ERROR, outcome);
    }
    span.end();
  }

  /**
   * Logs a line about this attempt's task with its ids in the MDC ({@code taskId}, {@code
   * sessionId}, {@code tenant}, {@code epoch}, and the attempt span's {@code traceId} and {@code
   * spanId}), which JSON logs carry as fields. Set and cleared around the one call, on the calling
   * thread: attempts share event-loop threads.
   */
  void logf(Logger.Level level, String format, Object... args) {
    MDC.put("epoch", epoch);
    try (LogFields f =
        LogFields.of(
            task.id(),
            task.sessionId(),
            task.tenantId(),
            TraceContexts.traceId(span),
            TraceContexts.spanId(span))) {
      LOG.logf(level, format, args);
    } finally {
      MDC.remove("epoch");
    }
  }
}
