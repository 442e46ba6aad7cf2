package transfer.api.trace;

import io.opentelemetry.api.trace.Span;
import jakarta.enterprise.context.RequestScoped;
import java.util.Map;
import transfer.telemetry.TraceContext;
import transfer.telemetry.TraceContexts;

/**
 * The server span of the current request ({@link RequestTracing}), for the resources that store its
 * context (a submit: with the tasks it writes) or name what they did on it.
 */
@RequestScoped
public class RequestTrace {
  private Span span = Span.getInvalid();

  void set(Span span) {
    this.span = span;
  }

  /** The request's span; an invalid (no-op) span when the request is not traced. */
  public Span span() {
    return span;
  }

  /** The span's context as the ledger stores it; null when there is none (tracing disabled). */
  public TraceContext stored() {
    Map<String, String> h = TraceContexts.headers(span);
    return TraceContext.of(h.get(TraceContexts.TRACEPARENT), h.get(TraceContexts.TRACESTATE));
  }
}
