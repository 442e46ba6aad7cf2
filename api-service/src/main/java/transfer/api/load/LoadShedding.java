package transfer.api.load;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.logging.Log;
import io.quarkus.vertx.http.runtime.RouteConstants;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import transfer.api.ApiConfig;
import transfer.api.metrics.ApiMetrics;
import transfer.api.problem.EarlyAnswers;
import transfer.api.problem.Problem;

/**
 * Load shedding: at most {@code transfer.api.max-in-flight} requests are served at once; one more
 * is answered 503 {@code overloaded} with {@code Retry-After: 1} on the event loop, before it is
 * authenticated or given a thread. Past that point an overload would only queue: requests wait for
 * one of the worker threads, then for one of the database pool's connections (5 s, then a 503
 * anyway), and every client's latency grows with the queue. Answering at once keeps the queue short
 * and tells clients when to come back (the Java client's {@code TransferApiException} carries the
 * Retry-After).
 *
 * <p>Counted: requests to {@code /v1/}. Not counted, having caps of their own: event streams (per
 * tenant), staged objects' bodies (uploads per tenant, and a minimum pace) and a task's content (a
 * download of stored bytes). Health and metrics ({@code /q/}) are never shed.
 *
 * <p>A request counts until its answer is sent or its connection closes, whichever comes first: a
 * client that gives up frees its place while its work may still finish (bounded by the database
 * pool's acquisition timeout and the statements' socket timeout). Counting to the end of the work
 * would need a release on every path out of the resource, and one path missed would leak places
 * until the instance sheds everything; an end handler runs exactly once on every path.
 */
@Singleton
public class LoadShedding {
  // Every request about a staged object (its body's PUT and GET; HEAD and DELETE too, for one
  // simple rule), a session's event stream, and a task's content.
  private static final Pattern LONG_LIVED =
      Pattern.compile("/v1/sessions/[^/]+/(events/stream|objects/[^/]+|tasks/[^/]+/content)");

  private final int limit;
  private final ObjectMapper mapper;
  private final ApiMetrics metrics;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicLong lastWarned = new AtomicLong();

  public LoadShedding(ApiConfig config, ObjectMapper mapper, ApiMetrics metrics) {
    this.limit = config.api().maxInFlight();
    this.mapper = mapper;
    this.metrics = metrics;
  }

  void register(@Observes Router router) {
    // First of the application's routes: before the body limits, authentication and the resources.
    router.route().order(RouteConstants.ROUTE_ORDER_UPLOAD_LIMIT).handler(this::admit);
  }

  /** Whether the request counts against the limit. */
  static boolean counted(String path) {
    return path != null && path.startsWith("/v1/") && !LONG_LIVED.matcher(path).matches();
  }

  /** Requests served now (tests and operations). */
  public int inFlight() {
    return inFlight.get();
  }

  private void admit(RoutingContext ctx) {
    if (limit <= 0 || !counted(ctx.normalizedPath())) {
      ctx.next();
      return;
    }
    if (inFlight.incrementAndGet() > limit) {
      inFlight.decrementAndGet();
      shed(ctx);
      return;
    }
    ctx.addEndHandler(v -> inFlight.decrementAndGet());
    ctx.next();
  }

  private void shed(RoutingContext ctx) {
    metrics.shed();
    long now = System.nanoTime();
    long last = lastWarned.get();
    if (now - last > 10_000_000_000L && lastWarned.compareAndSet(last, now)) {
      Log.warnf(
          "overloaded: serving %d requests at once (transfer.api.max-in-flight); answering more"
              + " with 503 and Retry-After: 1 (transfer_api_requests_shed_total counts them; this"
              + " line repeats at most every 10 s)",
          limit);
    }
    ctx.response().putHeader(HttpHeaders.RETRY_AFTER, "1");
    EarlyAnswers.refuseUnread(
        ctx,
        mapper,
        new Problem(
            Problem.typeUri("overloaded"),
            "Service Unavailable",
            503,
            "this server is serving as many requests as it takes at once ("
                + limit
                + "); nothing was done, retry after 1 s",
            ctx.normalizedPath(),
            null));
  }
}
