package transfer.api.problem;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;

/**
 * A problem answered by a route before the request reached its resource (a body too large, a caller
 * not known, a server too busy): the body, if any, was not read.
 */
public final class EarlyAnswers {
  private static final long DRAIN_MAX_BYTES = 64L * 1024 * 1024;
  private static final long DRAIN_MAX_MILLIS = 3_000;

  private EarlyAnswers() {}

  /** Answers {@code problem} without reading (the rest of) the body, then drops it and closes. */
  public static void refuseUnread(RoutingContext ctx, ObjectMapper mapper, Problem problem) {
    String json;
    try {
      json = mapper.writeValueAsString(problem);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    ctx.response()
        .setStatusCode(problem.status())
        .putHeader(HttpHeaders.CONTENT_TYPE, Problem.MEDIA_TYPE)
        .putHeader(HttpHeaders.CONNECTION, "close");
    ctx.response().end(json);
    drainThenClose(ctx);
  }

  /**
   * The body was not (all) read, and the connection must not carry the rest as a next request; but
   * closing at once, with the client still sending, makes the kernel answer with a reset that can
   * destroy the answer before the client reads it. So the rest is read and dropped, and the
   * connection closes once the body ends, after {@link #DRAIN_MAX_BYTES} or after {@link
   * #DRAIN_MAX_MILLIS}.
   */
  private static void drainThenClose(RoutingContext ctx) {
    HttpServerRequest request = ctx.request();
    if (request.isEnded()) {
      request.connection().close();
      return;
    }
    long[] drained = {0};
    long timer = ctx.vertx().setTimer(DRAIN_MAX_MILLIS, id -> request.connection().close());
    request.handler(
        chunk -> {
          drained[0] += chunk.length();
          if (drained[0] > DRAIN_MAX_BYTES) {
            ctx.vertx().cancelTimer(timer);
            request.connection().close();
          }
        });
    request.endHandler(
        v -> {
          ctx.vertx().cancelTimer(timer);
          request.connection().close();
        });
    request.exceptionHandler(e -> ctx.vertx().cancelTimer(timer));
    request.resume();
  }
}
