package transfer.api.trace;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.quarkus.logging.Log;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.container.ResourceInfo;
import jakarta.ws.rs.core.MultivaluedMap;
import java.lang.reflect.Method;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.MDC;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;
import transfer.api.auth.Caller;
import transfer.api.problem.RequestPaths;
import transfer.telemetry.LogFields;
import transfer.telemetry.TraceContexts;

/**
 * A SERVER span for every request to the REST API under {@code /v1} (health and metrics under
 * {@code /q} are not traced), continuing the W3C {@code traceparent} the caller sent, or beginning
 * a trace. A malformed {@code traceparent} is ignored (a new trace begins), never an error. Named
 * by method and route template ({@code POST /v1/sessions/{sid}/tasks}); attributes name the
 * session, the task and the tenant. The request's log lines carry {@code traceId}, {@code spanId},
 * {@code sessionId} and {@code taskId} (from the path) as MDC fields; the tenant once it
 * authenticated ({@code ApiKeyFilter}).
 *
 * <p>Runs before authentication, so refused requests are traced too.
 */
public class RequestTracing {
  private static final String SPAN = RequestTracing.class.getName() + ".span";
  private static final String[] FIELDS = {
    LogFields.TRACE_ID, LogFields.SPAN_ID, LogFields.SESSION_ID, LogFields.TASK_ID, LogFields.TENANT
  };
  private static final Map<Method, String> ROUTES = new ConcurrentHashMap<>();

  private final Tracing tracing;
  private final RequestTrace trace;
  private final Caller caller;

  public RequestTracing(Tracing tracing, RequestTrace trace, Caller caller) {
    this.tracing = tracing;
    this.trace = trace;
    this.caller = caller;
  }

  @ServerRequestFilter(priority = Priorities.AUTHENTICATION - 100)
  public void start(ContainerRequestContext request, ResourceInfo resource) {
    try {
      trace(request, resource);
    } catch (RuntimeException e) {
      // Tracing never fails a request; the request goes on untraced.
      Log.debugf(e, "request not traced: %s", e.getMessage());
    }
  }

  private void trace(ContainerRequestContext request, ResourceInfo resource) {
    // Never UriInfo.getPath() alone: a path it cannot decode makes it throw (RequestPaths).
    String path = RequestPaths.of(request.getUriInfo());
    if (path != null && !path.startsWith("/v1")) {
      return;
    }
    // As the resources see them; a path that cannot be decoded again has none here.
    String sid = null;
    String tid = null;
    try {
      MultivaluedMap<String, String> params = request.getUriInfo().getPathParameters();
      sid = params.getFirst("sid");
      tid = params.getFirst("tid");
    } catch (RuntimeException undecodable) {
      // traced without them
    }
    Context parent =
        TraceContexts.fromHeaders(
            request.getHeaderString(TraceContexts.TRACEPARENT),
            request.getHeaderString(TraceContexts.TRACESTATE));
    String route = route(resource);
    Span span =
        tracing
            .tracer()
            .spanBuilder(request.getMethod() + " " + route)
            .setSpanKind(SpanKind.SERVER)
            .setParent(parent)
            .setAttribute("http.request.method", request.getMethod())
            .setAttribute("http.route", route)
            .setAttribute("url.path", path == null ? "" : path)
            .startSpan();
    if (sid != null) {
      span.setAttribute("transfer.session.id", sid);
    }
    if (tid != null) {
      span.setAttribute("transfer.task.id", tid);
    }
    request.setProperty(SPAN, span);
    trace.set(span);
    put(LogFields.TRACE_ID, TraceContexts.traceId(span));
    put(LogFields.SPAN_ID, TraceContexts.spanId(span));
    put(LogFields.SESSION_ID, sid);
    put(LogFields.TASK_ID, tid);
  }

  @ServerResponseFilter
  public void end(ContainerRequestContext request, ContainerResponseContext response) {
    if (!(request.getProperty(SPAN) instanceof Span span)) {
      return;
    }
    int status = response.getStatus();
    span.setAttribute("http.response.status_code", status);
    String tenant = caller.tenantIdOrNull();
    if (tenant != null) {
      span.setAttribute("transfer.tenant", tenant);
    }
    if (status >= 500) {
      span.setStatus(StatusCode.ERROR);
    }
    span.end();
    for (String f : FIELDS) {
      MDC.remove(f);
    }
  }

  /** The route template of the matched method: the class's and the method's {@code @Path}. */
  private static String route(ResourceInfo resource) {
    Method m = resource == null ? null : resource.getResourceMethod();
    if (m == null) {
      return "/v1";
    }
    return ROUTES.computeIfAbsent(
        m,
        method -> {
          Path type = resource.getResourceClass().getAnnotation(Path.class);
          Path own = method.getAnnotation(Path.class);
          String base = type == null ? "" : type.value();
          String tail = own == null ? "" : own.value();
          if (!tail.isEmpty() && !tail.startsWith("/") && !base.endsWith("/")) {
            tail = "/" + tail;
          }
          return base + tail;
        });
  }

  private static void put(String key, String value) {
    if (value != null) {
      MDC.put(key, value);
    }
  }
}
