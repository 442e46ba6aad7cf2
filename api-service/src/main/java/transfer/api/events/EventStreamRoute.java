package transfer.api.events;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.logging.Log;
import io.quarkus.runtime.ShutdownEvent;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import transfer.api.auth.ApiKeyFilter;
import transfer.api.auth.ApiKeys;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem;
import transfer.api.problem.Problem.FieldError;
import transfer.api.quota.QuotaExceeded;
import transfer.api.quota.RateLimiter;
import transfer.api.quota.StreamSlots;
import transfer.api.request.RequestRules;
import transfer.api.session.SessionService;
import transfer.ledger.EventReplay;
import transfer.ledger.LedgerException;

/**
 * {@code GET /v1/sessions/{sid}/events/stream}: a session's events as Server-Sent Events. Each
 * message's {@code id} is the event's {@code sequence}, its {@code event} the CloudEvent type, its
 * {@code data} the CloudEvent on one line. It starts after {@code Last-Event-ID} if sent, else
 * after {@code ?after=N} (default 0), sends everything stored since, then stays open and sends new
 * events as they are stored.
 *
 * <p>Why a plain Vert.x route rather than RESTEasy Reactive ({@code Multi} or {@code
 * SseEventSink}): the stream needs exactly three things from the connection, and the route gets
 * each of them directly and explicitly from {@link HttpServerResponse}: back-pressure ({@code
 * writeQueueFull}/{@code drainHandler}: we stop reading the ledger while the client is slow),
 * disconnect detection ({@code closeHandler}: the timer and the wake-up subscription are released
 * at once), and order (every write happens on the connection's event loop, one batch after
 * another). The price is that the route is outside the JAX-RS filters, so it repeats {@link
 * transfer.api.auth.ApiKeyFilter}'s header parsing (the key lookup and hashing are {@link
 * ApiKeys}'s) and writes its errors itself, as the same {@link Problem} documents the resources
 * answer.
 */
@Singleton
public class EventStreamRoute {
  static final String PATH = "/v1/sessions/:sid/events/stream";
  static final String LAST_EVENT_ID = "Last-Event-ID";

  private final ApiKeys keys;
  private final EventReplay eventReplay;
  private final SessionService sessions;
  private final EventSignal signal;
  private final ObjectMapper mapper;
  private final ExecutorService reader;
  private final Set<EventStream> open = ConcurrentHashMap.newKeySet();
  private final StreamCounts counts = new StreamCounts();
  private volatile boolean stopping;

  /** The tenant's request-rate quota: opening a stream is a request like any other. */
  @Inject RateLimiter rate;

  /** The tenant's open streams on this instance, capped ({@code transfer.quota.event-streams}). */
  @Inject StreamSlots slots;

  public EventStreamRoute(
      ApiKeys keys,
      EventReplay eventReplay,
      SessionService sessions,
      EventSignal signal,
      ObjectMapper mapper,
      @ConfigProperty(name = "transfer.events.stream.readers", defaultValue = "4") int readers) {
    this.keys = keys;
    this.eventReplay = eventReplay;
    this.sessions = sessions;
    this.signal = signal;
    this.mapper = mapper;
    // Streams read the ledger on these threads only: however many streams are open, they use at
    // most this many database connections at once, and none while idle.
    AtomicInteger n = new AtomicInteger();
    this.reader =
        Executors.newFixedThreadPool(
            readers,
            r -> {
              Thread t = new Thread(r, "event-stream-reader-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  void register(@Observes Router router) {
    router.get(PATH).handler(this::handle);
  }

  /** Streams open now (operations and tests). */
  public int openStreams() {
    return open.size();
  }

  /** How often a stream stopped reading because its client did not keep up (tests). */
  public long backPressurePauses() {
    return counts.pauses.sum();
  }

  /** How often the streams read the ledger, all of them together (tests). */
  public long reads() {
    return counts.reads.sum();
  }

  /** Ends every open stream cleanly, so clients reconnect (with Last-Event-ID) elsewhere. */
  void stop(@Observes ShutdownEvent ev) throws InterruptedException {
    stopping = true;
    endAll();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (!open.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    reader.shutdownNow();
  }

  /** Ends every open stream's response (the client sees the stream end) and releases it. */
  void endAll() {
    for (EventStream s : open) {
      s.shutdown();
    }
  }

  private record Start(String tenantId, String sessionId, long after, String key) {}

  /** The key was missing or not valid: 401. */
  private static final class Unauthorized extends RuntimeException {
    Unauthorized(String detail) {
      super(detail, null, false, false);
    }
  }

  /** On the event loop: checks run on a worker, the stream then lives on this connection's loop. */
  private void handle(RoutingContext rc) {
    Context context = Vertx.currentContext();
    String authorization = rc.request().getHeader(HttpHeaders.AUTHORIZATION);
    String sid = rc.pathParam("sid");
    String afterParam = rc.queryParams().get("after");
    String lastEventId = rc.request().getHeader(LAST_EVENT_ID);
    String address = ApiKeyFilter.clientAddress(rc.request());
    if (stopping) {
      unavailable(
          rc, "service-unavailable", "the server is shutting down; reconnect with Last-Event-ID");
      return;
    }
    context
        .executeBlocking(() -> check(authorization, sid, afterParam, lastEventId, address), false)
        .onComplete(
            ar -> {
              if (ar.succeeded()) {
                start(rc, context, ar.result());
              } else {
                fail(rc, ar.cause());
              }
            });
  }

  /** Authenticates, validates and finds the session, in the order the other resources do. */
  private Start check(
      String authorization, String sid, String afterParam, String lastEventId, String address) {
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw new Unauthorized("send the API key as 'Authorization: Bearer <key>'");
    }
    String key = authorization.substring(7).trim();
    if (key.isEmpty() || key.length() > 512) {
      throw new Unauthorized("the API key is not valid");
    }
    String tenant =
        keys.tenantOf(key, address)
            .orElseThrow(() -> new Unauthorized("the API key is not valid or was revoked"));
    rate.acquire(tenant);

    List<FieldError> errors = new ArrayList<>();
    try {
      RequestRules.requireSessionId(sid);
    } catch (ApiException e) {
      errors.addAll(e.toProblem(null).errors());
    }
    Long after = afterParam == null ? Long.valueOf(0) : parse(afterParam);
    if (after == null) {
      errors.add(EventResource.rangeError("after", 0, Long.MAX_VALUE));
    }
    // An empty Last-Event-ID is what an EventSource that saw no id would send: not given.
    Long resume = null;
    if (lastEventId != null && !lastEventId.isBlank()) {
      resume = parse(lastEventId.trim());
      if (resume == null) {
        errors.add(EventResource.rangeError(LAST_EVENT_ID, 0, Long.MAX_VALUE));
      }
    }
    if (!errors.isEmpty()) {
      throw ApiException.invalid(errors);
    }
    sessions.find(tenant, sid);
    return new Start(tenant, sid, resume != null ? resume : after, key);
  }

  private static Long parse(String value) {
    return EventResource.parseOrNull(value, 0, Long.MAX_VALUE);
  }

  private void start(RoutingContext rc, Context context, Start s) {
    HttpServerResponse response = rc.response();
    if (response.closed() || response.ended()) {
      return; // the client left while we checked
    }
    try {
      slots.take(s.tenantId());
    } catch (QuotaExceeded e) {
      fail(rc, e);
      return;
    }
    EventStream[] self = new EventStream[1];
    EventStream stream =
        new EventStream(
            context,
            response,
            eventReplay,
            reader,
            s.tenantId(),
            s.sessionId(),
            s.after(),
            () -> closed(self[0]),
            counts);
    self[0] = stream;
    open.add(stream);
    if (stopping) {
      closed(stream);
      unavailable(
          rc, "service-unavailable", "the server is shutting down; reconnect with Last-Event-ID");
      return;
    }
    stream.start(signal);
    watchKey(context, stream, s);
  }

  /** A stream ended: no longer open, and its tenant's slot given back (once). */
  private void closed(EventStream stream) {
    if (open.remove(stream)) {
      slots.release(stream.tenantId());
    }
  }

  /**
   * A stream outlives the request that opened it: its key is checked again every key-cache period,
   * and a revoked key ends the stream, as it ends every other call.
   */
  private void watchKey(Context context, EventStream stream, Start s) {
    context
        .owner()
        .setPeriodic(
            ApiKeys.CACHE_TTL.toMillis(),
            id -> {
              if (!open.contains(stream)) {
                context.owner().cancelTimer(id);
                return;
              }
              context
                  .executeBlocking(
                      () -> keys.tenantOf(s.key()).filter(s.tenantId()::equals).isPresent(), false)
                  .onSuccess(
                      valid -> {
                        if (!valid) {
                          context.owner().cancelTimer(id);
                          Log.infof(
                              "event stream of session %s (tenant %s) ended: its API key was"
                                  + " revoked",
                              s.sessionId(), s.tenantId());
                          stream.shutdown();
                        }
                      });
            });
  }

  private void fail(RoutingContext rc, Throwable e) {
    String path = rc.normalizedPath();
    if (e instanceof ApiException api) {
      if (e instanceof QuotaExceeded q) {
        rc.response().putHeader("Retry-After", Long.toString(q.retryAfterSeconds()));
      }
      respond(rc, api.toProblem(path));
    } else if (e instanceof Unauthorized u) {
      rc.response().putHeader("WWW-Authenticate", "Bearer");
      respond(
          rc,
          new Problem(
              Problem.typeUri("unauthorized"), "Unauthorized", 401, u.getMessage(), null, null));
    } else if (e instanceof LedgerException) {
      Log.warnf("ledger unavailable answering %s: %s", path, e.getMessage());
      unavailable(
          rc,
          "ledger-unavailable",
          "the ledger (PostgreSQL) is unavailable; nothing was changed, retry in a few seconds");
    } else {
      Log.errorf(e, "unexpected error answering %s", path);
      respond(
          rc,
          new Problem(
              Problem.typeUri("internal-error"),
              "Internal Server Error",
              500,
              "the server failed unexpectedly; the request may be retried",
              path,
              null));
    }
  }

  private void unavailable(RoutingContext rc, String slug, String detail) {
    rc.response().putHeader("Retry-After", "5");
    respond(
        rc,
        new Problem(
            Problem.typeUri(slug), "Service Unavailable", 503, detail, rc.normalizedPath(), null));
  }

  private void respond(RoutingContext rc, Problem p) {
    HttpServerResponse response = rc.response();
    if (response.closed() || response.ended()) {
      return;
    }
    String body;
    try {
      body = mapper.writeValueAsString(p);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize a problem", e);
    }
    response
        .setStatusCode(p.status())
        .putHeader(HttpHeaders.CONTENT_TYPE, Problem.MEDIA_TYPE)
        .end(body);
  }
}
