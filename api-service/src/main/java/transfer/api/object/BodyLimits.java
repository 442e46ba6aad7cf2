package transfer.api.object;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.vertx.http.runtime.RouteConstants;
import io.quarkus.vertx.http.runtime.VertxHttpRecorder;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.util.List;
import java.util.regex.Pattern;
import transfer.api.problem.Problem;

/**
 * Request body limits. Quarkus applies one limit ({@code quarkus.http.limits.max-body-size}) to
 * every request, before any resource runs, so a staged object larger than it could never arrive.
 * application.properties therefore lifts that limit, and this route, which runs right after
 * Quarkus's, puts the old 10 MiB back on every request except an object PUT, whose size {@link
 * ObjectService} checks against {@code transfer.objects.max-bytes} while it streams. Without it, a
 * JSON endpoint would accept a body of any size and could be made to hold it in memory.
 */
@Singleton
public class BodyLimits {
  /** Quarkus's default limit, which every other endpoint was built for. */
  static final long OTHER_REQUESTS_MAX_BYTES = 10L * 1024 * 1024;

  private static final Pattern OBJECT_PATH = Pattern.compile("/v1/sessions/[^/]+/objects/[^/]+");

  private final ObjectMapper mapper;

  public BodyLimits(ObjectMapper mapper) {
    this.mapper = mapper;
  }

  void register(@Observes Router router) {
    router.route().order(RouteConstants.ROUTE_ORDER_UPLOAD_LIMIT + 1).handler(this::limit);
  }

  static boolean isObjectPut(HttpMethod method, String path) {
    return method == HttpMethod.PUT && path != null && OBJECT_PATH.matcher(path).matches();
  }

  private void limit(RoutingContext ctx) {
    if (isObjectPut(ctx.request().method(), ctx.normalizedPath())) {
      ctx.next();
      return;
    }
    String length = ctx.request().getHeader(HttpHeaders.CONTENT_LENGTH);
    if (length == null) {
      if (ctx.request().headers().contains(HttpHeaders.TRANSFER_ENCODING, "chunked", true)) {
        readChunked(ctx);
        return;
      }
      // No body, or an HTTP/2 body without a length: Quarkus's blocking request stream counts
      // it against this value.
      ctx.put(VertxHttpRecorder.MAX_REQUEST_SIZE_KEY, OTHER_REQUESTS_MAX_BYTES);
      ctx.next();
      return;
    }
    long declared;
    try {
      declared = Long.parseLong(length.trim());
    } catch (NumberFormatException e) {
      declared = -1; // Vert.x has already refused a malformed Content-Length
    }
    if (declared <= OTHER_REQUESTS_MAX_BYTES) {
      ctx.next();
      return;
    }
    refuse(ctx);
  }

  /**
   * A chunked body has no length to judge up front. Quarkus's own limit would answer a bare 413
   * (not problem+json) from inside the resource's read and then fail the request a second time, so
   * the body is read here, at most {@link #OTHER_REQUESTS_MAX_BYTES}, and handed to Quarkus REST as
   * the request's body (which it then reads instead of the connection).
   */
  private void readChunked(RoutingContext ctx) {
    HttpServerRequest request = ctx.request();
    Buffer body = Buffer.buffer();
    boolean[] refused = {false};
    request.handler(
        chunk -> {
          if (refused[0]) {
            return;
          }
          if ((long) body.length() + chunk.length() > OTHER_REQUESTS_MAX_BYTES) {
            refused[0] = true;
            refuse(ctx);
            return;
          }
          body.appendBuffer(chunk);
        });
    request.endHandler(
        v -> {
          if (!refused[0]) {
            ctx.setBody(body);
            ctx.next();
          }
        });
    request.exceptionHandler(
        e -> {
          if (!refused[0] && !ctx.response().ended()) {
            refused[0] = true;
            ctx.fail(e);
          }
        });
    if (request.headers().contains(HttpHeaders.EXPECT, HttpHeaders.CONTINUE, true)) {
      ctx.response().writeContinue();
    }
    request.resume();
  }

  private void refuse(RoutingContext ctx) {
    Problem problem =
        new Problem(
            Problem.typeUri("body-too-large"),
            "Content Too Large",
            413,
            "request bodies are limited to "
                + OTHER_REQUESTS_MAX_BYTES
                + " bytes; large content is staged with PUT /v1/sessions/{sid}/objects/{name}",
            ctx.normalizedPath(),
            List.of(
                new Problem.FieldError(
                    "$", "the body is larger than " + OTHER_REQUESTS_MAX_BYTES + " bytes")));
    String json;
    try {
      json = mapper.writeValueAsString(problem);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    ctx.response()
        .setStatusCode(413)
        .putHeader(HttpHeaders.CONTENT_TYPE, Problem.MEDIA_TYPE)
        .putHeader(HttpHeaders.CONNECTION, "close");
    ctx.response().end(json);
    drainThenClose(ctx);
  }

  /**
   * The body was not (all) read, and the connection must not carry the rest as a next request; but
   * closing at once, with the client still sending, makes the kernel answer with a reset that can
   * destroy the 413 before the client reads it. So the rest is read and dropped, and the connection
   * closes once the body ends, after {@link #DRAIN_MAX_BYTES} or after {@link #DRAIN_MAX_MILLIS}.
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

  private static final long DRAIN_MAX_BYTES = 64L * 1024 * 1024;
  private static final long DRAIN_MAX_MILLIS = 3_000;
}
