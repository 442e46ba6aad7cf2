package transfer.worker.attempt;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.net.URI;
import java.net.URISyntaxException;
import transfer.contracts.ErrorCodes;
import transfer.contracts.ReceivedResponse;
import transfer.contracts.TaskError;
import transfer.contracts.TaskRequest;
import transfer.ledger.TaskRow;

/**
 * Where a resumable upload's bytes go (tus 1.0, or the IETF's resumable uploads): the resource the
 * target created for the task, and the offset it holds. An attempt asks the resource the ledger
 * recorded for its offset ({@code HEAD}); without one, or when the target no longer knows it (404,
 * 410), it creates one ({@code POST} to the task's URL with {@code Upload-Length}, no body) and has
 * the ledger record it at once, so that an attempt on any worker continues there. The body then
 * goes in one {@code PATCH} from that offset ({@link #patch}). The resource's URL is judged by the
 * egress rules like any other, and the caller's headers go to the task's origin only. DESIGN.md,
 * "Resumable uploads".
 */
final class UploadResource {

  /** The resource and the offset the target holds; {@code done}: its answer when it holds all. */
  record Found(String url, long offset, ReceivedResponse done) {}

  /** Why the target's answer is not a resumable-upload answer: final, the task cannot go on. */
  static final class NotResumable extends RuntimeException {
    final TaskError error;

    NotResumable(TaskError error) {
      super(error.message(), null, false, false);
      this.error = error;
    }
  }

  private final Attempt attempt;
  private final Outbound outbound;
  private final TaskRow task;
  private final String protocol;
  private final long size;

  UploadResource(Attempt attempt, Outbound outbound, long size) {
    this.attempt = attempt;
    this.outbound = outbound;
    this.task = attempt.task();
    this.protocol = task.request().resumable();
    this.size = size;
  }

  /** The resource and its offset: the recorded one, or a new one. */
  Future<Found> find() {
    String recorded = task.uploadResource();
    if (recorded == null) {
      return create();
    }
    return exchange(HttpMethod.HEAD, recorded, o -> {})
        .compose(
            resp -> {
              int status = resp.statusCode();
              if (status == 404 || status == 410) {
                // The target forgot it (expired, or it never kept it): start over.
                return create();
              }
              if (status < 200 || status >= 300) {
                return Future.failedFuture(new StatusFailure(resp));
              }
              long offset = offsetOf(resp.headers(), "HEAD " + status, size, protocol);
              if (offset == size) {
                return Future.succeededFuture(new Found(recorded, offset, answer(resp, recorded)));
              }
              return Future.succeededFuture(new Found(recorded, offset, null));
            });
  }

  /** Creates the resource at the task's URL, and has the ledger record it. */
  private Future<Found> create() {
    return exchange(
            HttpMethod.POST,
            task.url(),
            o -> {
              o.putHeader("Upload-Length", String.valueOf(size));
              o.putHeader(HttpHeaders.CONTENT_LENGTH, "0");
              if (TaskRequest.RESUMABLE_IETF.equals(protocol)) {
                o.putHeader("Upload-Complete", "?0");
              }
            })
        .compose(
            resp -> {
              int status = resp.statusCode();
              if (status < 200 || status >= 300) {
                return Future.failedFuture(new StatusFailure(resp));
              }
              String url = resolve(task.url(), resp.getHeader(HttpHeaders.LOCATION));
              attempt.uploadResource(url);
              return Future.succeededFuture(new Found(url, 0, null));
            });
  }

  /** The request options of the body: {@code PATCH} from {@code offset} to the end. */
  RequestOptions patch(RequestOptions o, long offset) {
    headers(o);
    o.setMethod(HttpMethod.PATCH);
    o.putHeader("Upload-Offset", String.valueOf(offset));
    o.putHeader(HttpHeaders.CONTENT_LENGTH, String.valueOf(size - offset));
    if (TaskRequest.RESUMABLE_IETF.equals(protocol)) {
      o.putHeader("Upload-Complete", "?1");
      o.putHeader(HttpHeaders.CONTENT_TYPE, "application/partial-upload");
    } else {
      o.putHeader(HttpHeaders.CONTENT_TYPE, "application/offset+octet-stream");
    }
    return o;
  }

  /**
   * Checks the answer to the body: the target must hold every byte now (tus answers its new {@code
   * Upload-Offset}; a target that leaves it out is taken at its 2xx).
   */
  void checkComplete(MultiMap headers, int status) {
    if (headers.get("Upload-Offset") != null) {
      long offset = offsetOf(headers, "PATCH " + status, size, protocol);
      if (offset != size) {
        throw new NotResumable(
            new TaskError(
                ErrorCodes.HTTP_STATUS,
                "the target answered "
                    + status
                    + " to the whole body but holds "
                    + offset
                    + " of "
                    + size
                    + " bytes",
                status,
                true));
      }
    }
  }

  /** The protocol's own headers, on every request of it. */
  private void headers(RequestOptions o) {
    if (TaskRequest.RESUMABLE_IETF.equals(protocol)) {
      o.putHeader("Upload-Draft-Interop-Version", TaskRequest.IETF_INTEROP_VERSION);
    } else {
      o.putHeader("Tus-Resumable", "1.0.0");
    }
    o.putHeader(HttpHeaders.USER_AGENT, "transfer-cluster-worker");
  }

  /** One bodiless exchange with {@code url}: its answer, its body read and dropped. */
  private Future<HttpClientResponse> exchange(
      HttpMethod method, String url, java.util.function.Consumer<RequestOptions> more) {
    attempt.watchdog().touch();
    attempt.taskMetrics().routing();
    return outbound
        .egress()
        .route(url, task.id())
        .recover(e -> Future.failedFuture(new RouteFailure(e)))
        .compose(
            route -> {
              RequestOptions o =
                  route.apply(
                      CallerHeaders.apply(
                          new RequestOptions().setMethod(method).setFollowRedirects(false),
                          task,
                          attempt.session(),
                          route.url()));
              headers(o);
              more.accept(o);
              attempt.connection().opening(route.destination().host());
              HttpClient client;
              try {
                client = outbound.clients().client(task.tenantId(), attempt.session(), url);
              } catch (Egress.Refused r) {
                return Future.failedFuture(new RouteFailure(r));
              }
              return client
                  .request(o)
                  .compose(
                      req -> {
                        attempt.connection().made(req);
                        return req.send();
                      })
                  .compose(
                      resp -> {
                        attempt.taskMetrics().answered();
                        attempt.watchdog().touch();
                        resp.handler(b -> attempt.watchdog().touch());
                        return resp.end().map(v -> resp);
                      });
            });
  }

  /** A non-2xx answer to one of the protocol's requests. */
  static final class StatusFailure extends RuntimeException {
    final int status;
    final String retryAfter;

    StatusFailure(HttpClientResponse resp) {
      super("HTTP " + resp.statusCode(), null, false, false);
      this.status = resp.statusCode();
      this.retryAfter = resp.getHeader(HttpHeaders.RETRY_AFTER);
    }
  }

  /** The destination was refused or could not be resolved ({@link Failures#ofRoute}). */
  static final class RouteFailure extends RuntimeException {
    RouteFailure(Throwable cause) {
      super(cause.getMessage(), cause, false, false);
    }
  }

  // ------------------------------------------------------------ pure rules (unit-tested)

  /**
   * The offset in {@code Upload-Offset}: a number from 0 to the size, or the target does not speak
   * the protocol.
   */
  static long offsetOf(MultiMap headers, String answer, long size, String protocol) {
    String value = headers.get("Upload-Offset");
    long offset;
    try {
      offset = value == null ? -1 : Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      offset = -1;
    }
    if (offset < 0 || offset > size) {
      throw new NotResumable(
          TaskError.of(
              ErrorCodes.HTTP_STATUS,
              "the target's answer ("
                  + answer
                  + ") has "
                  + (value == null ? "no Upload-Offset" : "Upload-Offset " + value)
                  + " for a "
                  + size
                  + "-byte upload: it does not speak "
                  + protocolName(protocol),
              false));
    }
    return offset;
  }

  /**
   * The resource's URL: {@code location} resolved against the URL it answered, http or https only.
   * Its destination is judged when it is used, as every URL is.
   */
  static String resolve(String base, String location) {
    if (location == null || location.isBlank()) {
      throw new NotResumable(
          TaskError.of(
              ErrorCodes.HTTP_STATUS,
              "the target created no upload resource (its answer has no Location): it does not"
                  + " speak the resumable protocol the task names",
              false));
    }
    try {
      URI resolved = new URI(base).resolve(new URI(location.trim()));
      String scheme = resolved.getScheme() == null ? "" : resolved.getScheme();
      if (!scheme.equalsIgnoreCase("http") && !scheme.equalsIgnoreCase("https")) {
        throw new URISyntaxException(location, "not http or https");
      }
      return resolved.toString();
    } catch (URISyntaxException e) {
      throw new NotResumable(
          TaskError.of(
              ErrorCodes.HTTP_STATUS,
              "the target's upload resource is not an http(s) URL: " + location,
              false));
    }
  }

  static String protocolName(String protocol) {
    return TaskRequest.RESUMABLE_IETF.equals(protocol) ? "the IETF's resumable uploads" : "tus 1.0";
  }

  private static ReceivedResponse answer(HttpClientResponse resp, String url) {
    return ReceivedResponse.ofUpload(resp.statusCode(), resp.headers(), new byte[0], false)
        .withFinalUrl(url);
  }
}
