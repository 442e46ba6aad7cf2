package transfer.worker.attempt;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import org.jboss.logging.Logger;
import transfer.contracts.ErrorCodes;
import transfer.contracts.ReceivedResponse;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;
import transfer.contracts.TaskMetrics;
import transfer.ledger.TaskRow;
import transfer.worker.storage.BodySink;
import transfer.worker.storage.DownloadBody;
import transfer.worker.storage.DownloadStore;

/**
 * The bytes of a download: a {@code GET} (following redirects, each through the {@link Egress}
 * guard), judged before the first byte is written ({@link RedirectDecision}, {@link
 * ResumeDecision}), whose body streams into storage with back-pressure ({@link BodySink}: a
 * temporary file, or the parts of an S3 multipart upload; SHA-256 is computed on the way). It
 * becomes content only after the size and digest checks and a fenced commit. Its checkpoints are
 * {@link DownloadCheckpoints}; a retry resumes from the last one. See DESIGN.md, "Streaming and
 * storage" and "Checkpoints and resume on any worker".
 */
final class Download implements Transfer {
  private final Attempt attempt;
  private final TaskRow task;
  private final SessionConfig session;
  private final Outbound outbound;
  private final DownloadBody body;
  private final Clock clock;
  private final DownloadCheckpoints checkpoints;
  private final Allowance allowance;
  private final MessageDigest sha256 = Sha256.newDigest();

  /** Most bytes this download may have: its expectedBytes, within transfer.fetch.max-bytes. */
  private final long limit;

  private HttpClientResponse response;

  /** The URL of the current request (the last redirect's target). */
  private String currentUrl;

  /** What the origin answered with the body being stored (the task's {@code response}). */
  private ReceivedResponse answered;

  /** What the exchange cost on the wire, taken when its last byte arrived. */
  private TaskMetrics wire;

  private BodySink writer;

  /** Reading is paused until the writer drains, or until the quota has room. */
  private boolean pausedForStorage;

  private boolean pausedForRoom;

  private Long contentLength;
  private long received;

  /** Where this attempt's body began: a resumed prefix was copied, not moved. */
  private long resumedFrom;

  Download(
      Attempt attempt,
      Outbound outbound,
      DownloadStore store,
      Duration checkpointInterval,
      Allowance.Terms room,
      Clock clock) {
    this.attempt = attempt;
    this.task = attempt.task();
    this.session = attempt.session();
    this.outbound = outbound;
    this.body = store.body(task, attempt.epoch());
    this.clock = clock;
    this.checkpoints = new DownloadCheckpoints(attempt, body, checkpointInterval);
    this.allowance = new Allowance(attempt, room);
    Long expected = task.request().expectedBytes();
    this.limit = expected != null ? Math.min(expected, outbound.maxBytes()) : outbound.maxBytes();
  }

  @Override
  public String method() {
    return "GET";
  }

  @Override
  public long moved() {
    return received;
  }

  @Override
  public long movedInThisAttempt() {
    return received - resumedFrom;
  }

  @Override
  public Long expectedBytes() {
    return contentLength != null ? contentLength : task.request().expectedBytes();
  }

  @Override
  public TaskError stallError() {
    return Failures.ofConnection(new TimeoutException("stalled"), session.requestTimeout());
  }

  @Override
  public boolean waitingOnOurselves() {
    // A full writer is our disk being slow, and a grant of quota room the ledger; not the origin.
    return response != null && (pausedForRoom || (writer != null && writer.full()));
  }

  @Override
  public TaskError ownStallError(java.time.Duration requestTimeout) {
    if (pausedForRoom) {
      return Failures.ofStorage(
          new TimeoutException(
              "no room in the tenant's quota was granted for "
                  + requestTimeout.toSeconds()
                  + " s (the ledger is slow or unreachable)"));
    }
    return Transfer.super.ownStallError(requestTimeout);
  }

  @Override
  public Checkpoints checkpoints() {
    return checkpoints;
  }

  @Override
  public void stop() {
    checkpoints.stop();
    if (writer != null) {
      writer.abort();
    }
  }

  @Override
  public void start() {
    attempt
        .scheduler()
        .blocking(() -> checkpoints.resumableFrom(validator() != null))
        .onSuccess(this::send)
        .onFailure(this::storageFailed);
  }

  /** A strong ETag, else Last-Modified: what {@code If-Range} may carry. */
  private String validator() {
    return ResumeDecision.validator(task.etag(), task.lastModified());
  }

  private void send(long from) {
    sendTo(task.url(), from, 0);
  }

  /**
   * One request of this attempt: to the task's URL, or to where a redirect sent it ({@code hop} >
   * 0). Each goes through the {@link Egress} guard, and connects to the address it checked.
   */
  private void sendTo(String url, long from, int hop) {
    if (attempt.over()) {
      return;
    }
    attempt.watchdog().touch();
    attempt.taskMetrics().routing();
    outbound
        .egress()
        .route(url, task.id())
        .onFailure(e -> attempt.fail(Failures.ofRoute(e, session.requestTimeout())))
        .onSuccess(
            route -> {
              if (attempt.over()) {
                return;
              }
              RequestOptions options = route.apply(requestOptions(route));
              attempt.connection().opening(route.destination().host());
              if (from > 0) {
                options.putHeader("Range", "bytes=" + from + "-");
                options.putHeader("If-Range", validator());
              }
              HttpClient client =
                  outbound.clients().clientOrFail(attempt, task.tenantId(), session, route.url());
              if (client == null) {
                return;
              }
              client
                  .request(options)
                  .compose(
                      req -> {
                        attempt.connection().made(req);
                        return req.send();
                      })
                  .onSuccess(resp -> onResponse(resp, from, route, hop))
                  .onFailure(this::connectionFailed);
            });
  }

  private RequestOptions requestOptions(Egress.Route route) {
    RequestOptions o =
        CallerHeaders.apply(
            new RequestOptions()
                .setMethod(HttpMethod.GET)
                // Redirects are followed here, each hop judged by the guard (see onResponse).
                .setFollowRedirects(false)
                // Vert.x's idle timeout stops counting once the response began; the watchdog
                // covers the whole exchange, body included.
                .setIdleTimeout(session.requestTimeout().toMillis()),
            task,
            session,
            route.url());
    o.putHeader(HttpHeaders.ACCEPT_ENCODING, "identity");
    o.putHeader(HttpHeaders.USER_AGENT, "transfer-cluster-worker");
    return o;
  }

  private void onResponse(HttpClientResponse resp, long from, Egress.Route route, int hop) {
    response = resp;
    attempt.taskMetrics().answered();
    attempt.watchdog().touch();
    if (attempt.over()) {
      resp.request().reset();
      return;
    }
    int status = resp.statusCode();
    RedirectDecision redirect =
        RedirectDecision.of(
            status,
            resp.getHeader(HttpHeaders.LOCATION),
            route.url(),
            hop,
            outbound.maxRedirects());
    if (redirect instanceof RedirectDecision.Refuse refuse) {
      // The body of the 3xx is not read; its connection is closed.
      resp.request().reset();
      attempt.fail(refuse.error());
      return;
    }
    if (redirect instanceof RedirectDecision.Follow follow) {
      resp.request().reset();
      attempt.taskMetrics().redirected();
      log(
          Logger.Level.DEBUG,
          "task %s: redirect %d to %s",
          task.id(),
          follow.hop(),
          Urls.redacted(follow.url()));
      sendTo(follow.url(), from, follow.hop());
      return;
    }
    currentUrl = route.url();
    // Judge the answer before the first byte is written: an error page never lands in a file.
    ResumeDecision answer = ResumeDecision.of(from, task.etag(), status, resp::getHeader);
    if (answer instanceof ResumeDecision.Continue resumed) {
      resume(resp, resumed);
    } else if (answer instanceof ResumeDecision.AskAgain again) {
      log(
          Logger.Level.INFO,
          "task %s: the origin %s to Range bytes=%d-; restarting from zero",
          task.id(),
          again.why(),
          from);
      resp.request().reset();
      send(0);
    } else if (answer instanceof ResumeDecision.WholeBody whole) {
      if (from > 0) {
        log(
            Logger.Level.INFO,
            "task %s: asked for bytes %d- but the origin answered %d (whole body); restarting"
                + " from zero",
            task.id(),
            from,
            status);
      }
      resp.pause();
      openFile(0).onSuccess(v -> startBody(resp, whole.total())).onFailure(this::storageFailed);
    } else {
      attempt.fail(
          Failures.ofStatus(status),
          Failures.retryAfter(resp.getHeader(HttpHeaders.RETRY_AFTER), clock));
    }
  }

  /**
   * A 206 that continues our {@code Range: bytes=from-}: the checkpoint's first {@code from} bytes
   * become this attempt's (copied and hashed, or the digest restored), and the body follows them.
   */
  private void resume(HttpClientResponse resp, ResumeDecision.Continue resumed) {
    long from = resumed.from();
    resp.pause();
    checkpoints
        .restore(from, sha256)
        .onFailure(this::storageFailed)
        .onSuccess(
            copied -> {
              if (!copied) {
                log(
                    Logger.Level.INFO,
                    "task %s: the checkpoint object of epoch %d is gone; restarting from zero",
                    task.id(),
                    task.durableEpoch());
                sha256.reset();
                resp.request().reset();
                send(0);
                return;
              }
              received = from;
              resumedFrom = from;
              attempt.resumedAt(from);
              checkpoints.resumedAt(from);
              log(
                  Logger.Level.INFO,
                  "task %s: resumed from byte %d (checkpoint of epoch %d) on epoch %d",
                  task.id(),
                  from,
                  task.durableEpoch(),
                  attempt.epoch());
              openFile(from)
                  .onSuccess(v -> startBody(resp, resumed.total()))
                  .onFailure(this::storageFailed);
            });
  }

  /**
   * Opens storage for the body from byte {@code from}: 0 starts over; otherwise the first {@code
   * from} bytes are the checkpoint's and the digest has seen them.
   */
  private Future<Void> openFile(long from) {
    if (from == 0) {
      sha256.reset();
      received = 0;
      resumedFrom = 0;
      checkpoints.restart();
    }
    if (writer != null) {
      writer.abort();
    }
    return body.open(from, sha256)
        .map(
            w -> {
              if (attempt.over()) {
                w.abort();
                return null;
              }
              writer = w;
              writer.exceptionHandler(this::storageFailed);
              return null;
            });
  }

  /** Streams the body of an accepted response; {@code total} is the whole object's size. */
  private void startBody(HttpClientResponse resp, Long total) {
    if (attempt.over()) {
      resp.request().reset();
      return;
    }
    if (total != null && total > limit) {
      attempt.fail(sizeError("the origin announced " + total + " bytes"));
      return;
    }
    attempt.watchdog().touch(); // a prefix copy may have taken a while
    contentLength = total;
    answered = ReceivedResponse.ofDownload(resp.statusCode(), resp::getHeader, total, currentUrl);
    checkpoints.start(
        writer, resp.getHeader(HttpHeaders.ETAG), resp.getHeader(HttpHeaders.LAST_MODIFIED));
    attempt.firstProgressSoon(); // unless the transfer is over by then
    resp.handler(this::onData);
    resp.exceptionHandler(this::connectionFailed);
    resp.endHandler(v -> onEnd());
    resp.resume();
  }

  /** More than the task announced (expectedBytes) or than any task may have (max-bytes). */
  private TaskError sizeError(String what) {
    return Failures.ofSize(what, task.request().expectedBytes(), outbound.maxBytes());
  }

  private void onData(Buffer buf) {
    if (attempt.over()) {
      return;
    }
    int len = buf.length();
    received += len;
    attempt.telemetry().bytes().increment(len);
    attempt.watchdog().touch();
    if (received > limit) {
      attempt.fail(sizeError("the body went past " + limit + " bytes"));
      return;
    }
    if (contentLength != null && received > contentLength) {
      attempt.fail(
          TaskError.of(
              ErrorCodes.CONNECTION_FAILED,
              "the origin sent more than its Content-Length of " + contentLength,
              true));
      return;
    }
    if (!writer.write(buf)) {
      pausedForStorage = true;
      response.pause();
      writer.drainHandler(
          v -> {
            // Waiting for our own disk is not the origin stalling.
            attempt.watchdog().touch();
            pausedForStorage = false;
            resumeUnlessPaused();
          });
    }
    if (allowance.needs(received)) {
      askForRoom();
    }
  }

  /** Stops reading until the tenant's quota has room for what was received (Allowance). */
  private void askForRoom() {
    pausedForRoom = true;
    response.pause();
    allowance
        .ask(received, contentLength)
        .onComplete(
            ar -> {
              if (attempt.over()) {
                return;
              }
              if (ar.failed()) {
                storageFailed(ar.cause());
              } else if (ar.result() != null) {
                attempt.fail(ar.result());
              } else {
                attempt.watchdog().touch(); // the ledger's answer, not the origin
                pausedForRoom = false;
                resumeUnlessPaused();
              }
            });
  }

  private void resumeUnlessPaused() {
    if (!pausedForStorage && !pausedForRoom) {
      response.resume();
    }
  }

  private void onEnd() {
    if (attempt.over()) {
      return;
    }
    if (contentLength != null && received != contentLength) {
      attempt.fail(
          TaskError.of(
              ErrorCodes.CONNECTION_FAILED,
              "the body ended after " + received + " of " + contentLength + " bytes",
              true));
      return;
    }
    if (!attempt.finishing()) {
      return;
    }
    checkpoints.stop();
    wire = attempt.taskMetrics().snapshot(movedInThisAttempt());
    long size = received;
    writer
        .finish()
        .onFailure(e -> attempt.finishFailed(Failures.ofStorage(e)))
        .onSuccess(
            v ->
                new DownloadCompletion(attempt, body)
                    .verifyAndCommit(size, Sha256.hex(sha256), answered, wire));
  }

  private void connectionFailed(Throwable e) {
    attempt.fail(Failures.ofConnection(e, session.requestTimeout()));
  }

  private void storageFailed(Throwable e) {
    attempt.fail(Failures.ofStorage(e));
  }

  private void log(Logger.Level level, String format, Object... args) {
    attempt.telemetry().logf(level, format, args);
  }
}
