package transfer.telemetry;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * W3C trace context ({@code traceparent}, {@code tracestate}) in the three places it travels here:
 * HTTP request headers, the ledger's stored strings and Kafka record headers. Only W3C trace
 * context is propagated (no baggage: what a caller puts in baggage never reaches the cluster's
 * records). Everything a caller or a record sends is judged by the W3C propagator: a malformed
 * value is ignored (a new trace begins), never an error.
 */
public final class TraceContexts {
  public static final String TRACEPARENT = "traceparent";
  public static final String TRACESTATE = "tracestate";

  private static final TextMapPropagator W3C = W3CTraceContextPropagator.getInstance();

  private TraceContexts() {}

  /** The W3C propagator every service uses. */
  public static TextMapPropagator propagator() {
    return W3C;
  }

  /**
   * The context a span continues from these header values ({@code tracestate} may be null); {@link
   * Context#root()} when {@code traceparent} is missing or malformed.
   */
  public static Context fromHeaders(String traceparent, String tracestate) {
    if (traceparent == null) {
      return Context.root();
    }
    Map<String, String> carrier = new HashMap<>(2);
    carrier.put(TRACEPARENT, traceparent);
    if (tracestate != null) {
      carrier.put(TRACESTATE, tracestate);
    }
    return W3C.extract(Context.root(), carrier, MapGetter.INSTANCE);
  }

  /** The context of a span, as the parent of the spans that follow from it. */
  public static Context of(Span span) {
    return Context.root().with(span);
  }

  /**
   * The header values naming {@code context}'s span: {@code traceparent}, and {@code tracestate}
   * when there is one. Empty when the context holds no valid span (tracing disabled).
   */
  public static Map<String, String> headers(Context context) {
    Map<String, String> out = new HashMap<>(2);
    W3C.inject(context, out, Map::put);
    return out;
  }

  /** {@link #headers(Context)} of a span. */
  public static Map<String, String> headers(Span span) {
    return headers(of(span));
  }

  /** The context of a Kafka record's {@code traceparent} and {@code tracestate} headers. */
  public static Context fromKafka(Headers headers) {
    return W3C.extract(Context.root(), headers, KafkaGetter.INSTANCE);
  }

  /** Writes {@code context}'s span into a Kafka record's headers (replacing any earlier value). */
  public static void toKafka(Context context, Headers headers) {
    W3C.inject(context, headers, KafkaSetter.INSTANCE);
  }

  /** The trace id of a span, or null when it has none (tracing disabled). */
  public static String traceId(Span span) {
    SpanContext sc = span.getSpanContext();
    return sc.isValid() ? sc.getTraceId() : null;
  }

  /** The span id of a span, or null when it has none. */
  public static String spanId(Span span) {
    SpanContext sc = span.getSpanContext();
    return sc.isValid() ? sc.getSpanId() : null;
  }

  private enum MapGetter implements TextMapGetter<Map<String, String>> {
    INSTANCE;

    @Override
    public Iterable<String> keys(Map<String, String> carrier) {
      return carrier.keySet();
    }

    @Override
    public String get(Map<String, String> carrier, String key) {
      return carrier == null ? null : carrier.get(key);
    }
  }

  private enum KafkaGetter implements TextMapGetter<Headers> {
    INSTANCE;

    @Override
    public Iterable<String> keys(Headers carrier) {
      List<String> keys = new ArrayList<>();
      for (Header h : carrier) {
        keys.add(h.key());
      }
      return keys;
    }

    @Override
    public String get(Headers carrier, String key) {
      if (carrier == null) {
        return null;
      }
      Header h = carrier.lastHeader(key);
      return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
  }

  private enum KafkaSetter implements TextMapSetter<Headers> {
    INSTANCE;

    @Override
    public void set(Headers carrier, String key, String value) {
      if (carrier != null) {
        carrier.remove(key);
        carrier.add(key, value.getBytes(StandardCharsets.UTF_8));
      }
    }
  }
}
