package transfer.worker.claim;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import transfer.contracts.Topics;
import transfer.ledger.Claim;
import transfer.telemetry.TraceContext;
import transfer.telemetry.TraceContexts;

/**
 * The CONSUMER spans of the doorbells of one poll ({@code process transfer-tasks}), and the parent
 * of each attempt the poll's claim started. A doorbell only says that work exists: the claim takes
 * the best claimable tasks, which need not be the ones the doorbells named. So:
 *
 * <ul>
 *   <li>a claimed task whose doorbell was in the poll: the doorbell's span continues the record's
 *       {@code traceparent} (or, for a record without one, the task's stored context) and is the
 *       attempt's parent;
 *   <li>a claimed task without its doorbell in the poll (another doorbell woke the claim, or a
 *       freed slot did): the attempt continues the task's stored context;
 *   <li>a doorbell whose task was not claimed (a duplicate, taken already, or at a limit): its span
 *       says so ({@code transfer.claimed=false}); none when the record carries no context.
 * </ul>
 *
 * Each span runs from the poll that returned the record to the end of the claim.
 */
final class ClaimSpans {
  /**
   * A doorbell of a poll: the record, the task and session it names, and when the poll returned it.
   */
  record Bell(
      ConsumerRecord<byte[], byte[]> record, String taskId, String sessionId, Instant polledAt) {}

  private ClaimSpans() {}

  /** Ends the poll's consumer spans; answers the parent context of each claim's attempt. */
  static Map<Claim, Context> afterClaim(Tracer tracer, List<Bell> bells, List<Claim> claims) {
    Map<String, Bell> byTask = new HashMap<>();
    List<Bell> others = new ArrayList<>();
    for (Bell b : bells) {
      if (byTask.putIfAbsent(b.taskId(), b) != null) {
        others.add(b); // a second doorbell of the same task in one poll
      }
    }
    Map<Claim, Context> parents = new IdentityHashMap<>();
    for (Claim claim : claims) {
      Bell own = byTask.remove(claim.task().id());
      Context stored = stored(claim.task().trace());
      if (own == null) {
        parents.put(claim, stored);
        continue;
      }
      Context fromRecord = TraceContexts.fromKafka(own.record().headers());
      Span span =
          consumerSpan(tracer, own, valid(fromRecord) ? fromRecord : stored)
              .setAttribute("transfer.claimed", true)
              .startSpan();
      span.end();
      parents.put(claim, TraceContexts.of(span));
    }
    others.addAll(byTask.values());
    for (Bell b : others) {
      Context fromRecord = TraceContexts.fromKafka(b.record().headers());
      if (valid(fromRecord)) {
        consumerSpan(tracer, b, fromRecord)
            .setAttribute("transfer.claimed", false)
            .startSpan()
            .end();
      }
    }
    return parents;
  }

  private static SpanBuilder consumerSpan(Tracer tracer, Bell b, Context parent) {
    ConsumerRecord<byte[], byte[]> r = b.record();
    return tracer
        .spanBuilder("process " + Topics.TASKS)
        .setSpanKind(SpanKind.CONSUMER)
        .setParent(parent)
        .setStartTimestamp(
            TimeUnit.SECONDS.toNanos(b.polledAt().getEpochSecond()) + b.polledAt().getNano(),
            TimeUnit.NANOSECONDS)
        .setAttribute("messaging.system", "kafka")
        .setAttribute("messaging.operation.type", "process")
        .setAttribute("messaging.operation.name", "process")
        .setAttribute("messaging.destination.name", r.topic())
        .setAttribute("messaging.consumer.group.name", Topics.WORKER_GROUP)
        .setAttribute("messaging.destination.partition.id", String.valueOf(r.partition()))
        .setAttribute("messaging.kafka.offset", r.offset())
        .setAttribute(
            "messaging.kafka.message.key",
            r.key() == null ? "" : new String(r.key(), StandardCharsets.UTF_8))
        .setAttribute("transfer.task.id", b.taskId());
  }

  private static Context stored(TraceContext t) {
    return t == null ? Context.root() : TraceContexts.fromHeaders(t.traceparent(), t.tracestate());
  }

  private static boolean valid(Context c) {
    return Span.fromContext(c).getSpanContext().isValid();
  }
}
