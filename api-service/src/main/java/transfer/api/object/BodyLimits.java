package transfer.api.object;

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
import java.util.Optional;
import java.util.regex.Pattern;
import transfer.api.auth.AdminKey;
import transfer.api.auth.ApiKeyFilter;
import transfer.api.auth.ApiKeys;
import transfer.api.problem.EarlyAnswers;
import transfer.api.problem.Problem;
import transfer.api.quota.QuotaExceeded;

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
  private final ApiKeys keys;
  private final AdminKey admin;

  public BodyLimits(ObjectMapper mapper, ApiKeys keys, AdminKey admin) {
    this.mapper = mapper;
    this.keys = keys;
    this.admin = admin;
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
        authenticateThenReadChunked(ctx);
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
   * A chunked body is read here, before Quarkus REST's filters run, so the caller's key is checked
   * first: a request to {@code /v1} without a key this server knows is answered 401 (or 429 past
   * the address's budget of key lookups) before a byte of its body is read, and an unauthenticated
   * client cannot make the server hold bodies in memory. The lookup is {@link ApiKeys}'s, cached,
   * on a worker thread; {@link transfer.api.auth.ApiKeyFilter} then judges the request in full as
   * for any other.
   */
  private void authenticateThenReadChunked(RoutingContext ctx) {
    String path = ctx.normalizedPath();
    if (path == null || !path.startsWith("/v1")) {
      readChunked(ctx);
      return;
    }
    HttpServerRequest request = ctx.request();
    request.pause();
    String header = request.getHeader(HttpHeaders.AUTHORIZATION);
    String address = ApiKeyFilter.clientAddress(request);
    boolean adminPath = ApiKeyFilter.isAdminPath(path);
    ctx.vertx()
        .executeBlocking(() -> knownCaller(header, adminPath, address), false)
        .onComplete(
            ar -> {
              if (ar.succeeded() && ar.result()) {
                readChunked(ctx);
              } else if (ar.failed() && ar.cause() instanceof QuotaExceeded q) {
                ctx.response()
                    .putHeader(HttpHeaders.RETRY_AFTER, Long.toString(q.retryAfterSeconds()));
                refuseUnread(ctx, q.toProblem(path));
              } else {
                ctx.response().putHeader("WWW-Authenticate", "Bearer");
                refuseUnread(
                    ctx,
                    new Problem(
                        Problem.typeUri("unauthorized"),
                        "Unauthorized",
                        401,
                        ar.failed()
                            ? "the API key could not be checked; retry"
                            : "send a valid API key as 'Authorization: Bearer <key>' (a body is"
                                + " read only from a known caller)",
                        path,
                        null));
              }
            });
  }

  /** Whether the header names a key that may call this path (its lookup cached, and budgeted). */
  private boolean knownCaller(String header, boolean adminPath, String address) {
    Optional<String> key = ApiKeyFilter.bearerKey(header);
    if (key.isEmpty()) {
      return false;
    }
    if (adminPath) {
      return admin.enabled() && admin.matches(key.get());
    }
    // The admin key opens no tenant endpoint.
    return !admin.matches(key.get()) && keys.tenantOf(key.get(), address).isPresent();
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

  /** Answers {@code problem} without reading (the rest of) the body, then drops it and closes. */
  private void refuseUnread(RoutingContext ctx, Problem problem) {
    EarlyAnswers.refuseUnread(ctx, mapper, problem);
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
    refuseUnread(ctx, problem);
  }
}
