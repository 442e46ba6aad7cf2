package transfer.telemetry;

/**
 * A W3C trace context as it is stored with a task, an event or an outbox row: the {@code
 * traceparent} header value ({@code 00-<trace id>-<span id>-<flags>}) and the optional {@code
 * tracestate}. The ledger stores and copies it; it never judges it (the services' telemetry writes
 * only what the W3C propagator produced, and reads it back through that propagator).
 */
public record TraceContext(String traceparent, String tracestate) {
  private static final int LENGTH = 55; // 2 + 1 + 32 + 1 + 16 + 1 + 2

  /** A context from header values; null when there is no {@code traceparent}. */
  public static TraceContext of(String traceparent, String tracestate) {
    return traceparent == null || traceparent.isEmpty()
        ? null
        : new TraceContext(traceparent, tracestate);
  }

  /** The trace id (32 hex digits), or null when the stored value is not of the expected shape. */
  public String traceId() {
    return shaped() ? traceparent.substring(3, 35) : null;
  }

  /** The span id (16 hex digits) of the span that stored it, or null. */
  public String spanId() {
    return shaped() ? traceparent.substring(36, 52) : null;
  }

  private boolean shaped() {
    return traceparent != null
        && traceparent.length() >= LENGTH
        && traceparent.charAt(2) == '-'
        && traceparent.charAt(35) == '-'
        && traceparent.charAt(52) == '-';
  }
}
