package transfer.api.relay;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import java.io.IOException;
import org.apache.kafka.clients.producer.RecordMetadata;
import transfer.contracts.Topics;
import transfer.ledger.OutboxMessage;
import transfer.telemetry.TraceContexts;

/**
 * The relay's PRODUCER span of one outbox record ({@code send transfer-tasks}, {@code send
 * transfer-events}), as OpenTelemetry's messaging conventions name it: child of the context stored
 * with the row, or a new trace when none was. A doorbell's span names its task, an event's span its
 * session, CloudEvent id and type (read from the head of the payload, without parsing the rest).
 */
final class PublishSpans {
  private static final JsonFactory JSON = new JsonFactory();

  private PublishSpans() {}

  static Span start(Tracer tracer, OutboxMessage m) {
    Context parent =
        m.trace() == null
            ? Context.root()
            : TraceContexts.fromHeaders(m.trace().traceparent(), m.trace().tracestate());
    SpanBuilder b =
        tracer
            .spanBuilder("send " + m.topic())
            .setSpanKind(SpanKind.PRODUCER)
            .setParent(parent)
            .setAttribute("messaging.system", "kafka")
            .setAttribute("messaging.operation.type", "send")
            .setAttribute("messaging.operation.name", "send")
            .setAttribute("messaging.destination.name", m.topic())
            .setAttribute("messaging.kafka.message.key", m.key());
    if (Topics.TASKS.equals(m.topic())) {
      b.setAttribute("transfer.task.id", m.key());
    } else if (Topics.EVENTS.equals(m.topic())) {
      b.setAttribute("transfer.session.id", m.key());
      eventHead(m.payload(), b);
    }
    return b.startSpan();
  }

  /** Ends the span when Kafka answered: where the record went, or why it did not. */
  static void end(Span span, RecordMetadata ack, Exception e) {
    if (e != null) {
      span.recordException(e);
      span.setStatus(StatusCode.ERROR, e.getClass().getSimpleName());
    } else if (ack != null) {
      span.setAttribute("messaging.destination.partition.id", String.valueOf(ack.partition()));
      span.setAttribute("messaging.kafka.offset", ack.offset());
    }
    span.end();
  }

  /**
   * The CloudEvent's {@code id}, {@code type} and {@code subject} (the task), which the ledger
   * writes before its {@code data}: the parser stops at {@code data}.
   */
  private static void eventHead(String payload, SpanBuilder b) {
    try (JsonParser p = JSON.createParser(payload)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return;
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        if ("data".equals(name)) {
          return;
        }
        if (value == JsonToken.VALUE_STRING) {
          switch (name) {
            case "id" -> b.setAttribute("cloudevents.event_id", p.getText());
            case "type" -> b.setAttribute("cloudevents.event_type", p.getText());
            case "subject" -> b.setAttribute("transfer.task.id", p.getText());
            default -> {}
          }
        } else {
          p.skipChildren();
        }
      }
    } catch (IOException | RuntimeException e) {
      // Not a CloudEvent we wrote: the span goes without these attributes.
    }
  }
}
