package transfer.worker.attempt;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.nio.file.NoSuchFileException;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.Locale;
import transfer.contracts.ErrorCodes;
import transfer.contracts.ReceivedResponse;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;
import transfer.contracts.TaskMetrics;
import transfer.contracts.TaskRequest;
import transfer.ledger.TaskRow;
import transfer.worker.storage.ObjectReader;
import transfer.worker.storage.UploadSource;
import transfer.worker.storage.UploadSources;

/**
 * The bytes of an upload: the stored source ({@link UploadSources}) streams from storage into the
 * request body with back-pressure ({@link ObjectReader}, which also computes SHA-256), and the
 * target's answer decides the outcome. An attempt sends from byte 0, unless the task names a
 * resumable protocol: then the body goes from the offset the target holds to its {@link
 * UploadResource}. SHA-256 of the whole source is compared with the digest recorded for it before
 * the body's last chunk leaves, so a source that changed in storage is never delivered whole. See
 * DESIGN.md, "Uploads" and "Resumable uploads".
 */
final class Upload implements Transfer {
  private final Attempt attempt;
  private final TaskRow task;
  private final SessionConfig session;
  private final Outbound outbound;
  private final UploadSources sources;
  private final Clock clock;
  private final MessageDigest sha256 = Sha256.newDigest();
  private final HttpMethod method;

  /** The resumable protocol's steps, or null for a plain upload. */
  private UploadResource resumable;

  private HttpClientRequest request;
  private ObjectReader reader;
  private long size;
  private long sent;

  /** Where the body goes from: what the target already holds (0 for a plain upload). */
  private long offset;

  /** Where the body goes: the task's URL, or the resumable upload's resource. */
  private String target;

  private boolean bodySent;
  private int answeredStatus;
  private ReceivedResponse answer;
  private boolean answerEnded;

  Upload(Attempt attempt, Outbound outbound, UploadSources sources, Clock clock) {
    this.attempt = attempt;
    this.task = attempt.task();
    this.session = attempt.session();
    this.outbound = outbound;
    this.sources = sources;
    this.clock = clock;
    this.method = methodOf(task.request().method());
    this.target = task.url();
  }

  @Override
  public String method() {
    return method.name();
  }

  @Override
  public long moved() {
    return offset + sent;
  }

  @Override
  public long movedInThisAttempt() {
    return sent;
  }

  @Override
  public Long expectedBytes() {
    return task.sourceSize();
  }

  @Override
  public TaskError stallError() {
    return TaskError.of(
        ErrorCodes.STALLED,
        "the target took no byte and sent no answer for "
            + session.requestTimeout().toSeconds()
            + " s (requestTimeout)",
        true);
  }

  @Override
  public void stop() {
    if (reader != null) {
      reader.abort();
    }
  }

  @Override
  public void start() {
    // Where an upload's source may be: where downloads are stored (a directory, or the bucket).
    attempt
        .scheduler()
        .blocking(() -> sources.check(task.sourceLocation(), task.sourceSize()))
        .onSuccess(this::open)
        .onFailure(this::sourceFailed);
  }

  private void sourceFailed(Throwable e) {
    if (e instanceof UploadSource.SourceMissing missing) {
      attempt.fail(TaskError.of(ErrorCodes.SOURCE_MISSING, missing.getMessage(), false));
    } else if (e instanceof NoSuchFileException) {
      attempt.fail(
          TaskError.of(
              ErrorCodes.SOURCE_MISSING,
              "the stored source " + e.getMessage() + " is gone",
              false));
    } else {
      attempt.fail(Failures.ofStorage(e));
    }
  }

  private void open(UploadSources.Source source) {
    if (attempt.over()) {
      return;
    }
    size = task.sourceSize();
    if (size > outbound.maxBytes()) {
      attempt.fail(
          TaskError.of(
              ErrorCodes.SIZE_LIMIT_EXCEEDED,
              "the source has "
                  + size
                  + " bytes, more than the limit of "
                  + outbound.maxBytes()
                  + " per task (transfer.fetch.max-bytes)",
              false));
      return;
    }
    if (task.request().resumable() != null) {
      resumable = new UploadResource(attempt, outbound, size);
      resumable.find().onSuccess(found -> resume(source, found)).onFailure(this::stepFailed);
      return;
    }
    read(source);
  }

  /** The target holds the first {@code found.offset()} bytes at its resource: the rest follows. */
  private void resume(UploadSources.Source source, UploadResource.Found found) {
    if (attempt.over()) {
      return;
    }
    target = found.url();
    offset = found.offset();
    if (found.done() != null) {
      // A former attempt sent every byte and lost the answer: the target has it all.
      bodySent = true;
      answerEnded = true;
      answer = found.done();
      answeredStatus = answer.status();
      attempt.resumedAt(offset);
      maybeComplete();
      return;
    }
    if (offset > 0) {
      attempt.resumedAt(offset);
    }
    read(source);
  }

  /** A step of the resumable protocol (HEAD, or the creation's POST) failed. */
  private void stepFailed(Throwable e) {
    if (e instanceof UploadResource.NotResumable n) {
      attempt.fail(n.error);
    } else if (e instanceof UploadResource.StatusFailure f) {
      attempt.fail(statusError(f.status), Failures.retryAfter(f.retryAfter, clock));
    } else if (e instanceof UploadResource.RouteFailure r) {
      attempt.fail(Failures.ofRoute(r.getCause(), session.requestTimeout()));
    } else {
      connectionFailed(e);
    }
  }

  private void read(UploadSources.Source source) {
    // Never more than Content-Length: a longer file fails the digest check instead.
    sources
        .open(source, offset, size, sha256)
        .onFailure(this::sourceFailed)
        .onSuccess(
            r -> {
              reader = r;
              if (attempt.over()) {
                r.abort();
                return;
              }
              // Reading starts once the request is there to take the bytes.
              send();
            });
  }

  private void send() {
    attempt.watchdog().touch();
    attempt.taskMetrics().routing();
    outbound
        .egress()
        .route(target, task.id())
        .onFailure(e -> attempt.fail(Failures.ofRoute(e, session.requestTimeout())))
        .onSuccess(this::send);
  }

  private void send(Egress.Route route) {
    if (attempt.over()) {
      return;
    }
    RequestOptions o =
        route.apply(
            CallerHeaders.apply(
                new RequestOptions()
                    .setMethod(method)
                    // A redirect would need the body again, to a URL nobody vetted: not
                    // followed.
                    .setFollowRedirects(false),
                task,
                session,
                route.url()));
    // No idle timeout: Vert.x's would count only the answer; the watchdog covers both ways.
    if (resumable != null) {
      resumable.patch(o, offset);
    } else {
      o.putHeader(HttpHeaders.CONTENT_LENGTH, String.valueOf(size))
          .putHeader(HttpHeaders.USER_AGENT, "transfer-cluster-worker");
      if (o.getHeaders().get(HttpHeaders.CONTENT_TYPE) == null) {
        o.putHeader(HttpHeaders.CONTENT_TYPE, "application/octet-stream");
      }
    }
    attempt.connection().opening(route.destination().host());
    HttpClient client =
        outbound.clients().clientOrFail(attempt, task.tenantId(), session, route.url());
    if (client == null) {
      return;
    }
    client.request(o).onSuccess(this::stream).onFailure(this::connectionFailed);
  }

  private void stream(HttpClientRequest req) {
    request = req;
    attempt.connection().made(req);
    if (attempt.over()) {
      req.reset();
      return;
    }
    attempt.watchdog().touch();
    req.exceptionHandler(this::connectionFailed);
    req.response().onSuccess(this::onAnswer).onFailure(this::connectionFailed);
    attempt.firstProgressSoon(); // unless the transfer is over by then
    reader.exceptionHandler(
        e ->
            attempt.fail(
                e instanceof ObjectReader.Shorter
                    ? TaskError.of(ErrorCodes.SOURCE_MISSING, e.getMessage(), false)
                    : Failures.ofStorage(e)));
    reader.handler(this::write);
    reader.endHandler(this::onSourceEnd);
    reader.start();
  }

  /**
   * Sends a chunk. The reader reads ahead by a bounded number of chunks, each released once its
   * write completed: that is the back-pressure.
   */
  private void write(ObjectReader.Chunk chunk) {
    if (attempt.over()) {
      reader.release(chunk);
      return;
    }
    int len = chunk.length();
    request
        .write(chunk.buffer())
        .onComplete(
            ar -> {
              reader.release(chunk);
              if (ar.succeeded()) {
                // Counted once in the connection, not when queued: progress is what the target
                // got.
                sent += len;
                attempt.telemetry().bytes().increment(len);
                attempt.watchdog().touch();
              } else {
                connectionFailed(ar.cause());
              }
            });
  }

  /**
   * The whole source is read and hashed: the digest decides whether its last chunk (and the end) go
   * out.
   */
  private void onSourceEnd(ObjectReader.Chunk last) {
    if (attempt.over()) {
      if (last != null) {
        reader.release(last);
      }
      return;
    }
    String digest = Sha256.hex(sha256);
    String expected = task.sourceSha256();
    if (expected != null && !expected.equalsIgnoreCase(digest)) {
      attempt.fail(
          TaskError.of(
              ErrorCodes.SOURCE_MISSING,
              "the stored source changed: SHA-256 of its "
                  + size
                  + " bytes is now "
                  + digest
                  + ", it was "
                  + expected.toLowerCase(Locale.ROOT)
                  + " when the upload was submitted; the body was not completed",
              false));
      if (last != null) {
        reader.release(last);
      }
      return;
    }
    if (last != null) {
      write(last);
    }
    request
        .end()
        .onSuccess(
            v -> {
              bodySent = true;
              attempt.watchdog().touch();
              maybeComplete();
            })
        .onFailure(this::connectionFailed);
  }

  private void onAnswer(HttpClientResponse resp) {
    attempt.taskMetrics().answered();
    attempt.watchdog().touch();
    if (attempt.over()) {
      return;
    }
    int status = resp.statusCode();
    if (status < 200 || status >= 300) {
      attempt.fail(
          resumable != null ? appendError(status) : statusError(status),
          Failures.retryAfter(resp.getHeader(HttpHeaders.RETRY_AFTER), clock));
      return;
    }
    if (resumable != null) {
      try {
        resumable.checkComplete(resp.headers(), status);
      } catch (UploadResource.NotResumable e) {
        attempt.fail(e.error);
        return;
      }
    }
    answeredStatus = status;
    // The answer's body is read to its end so the connection can serve the next request; its
    // first 64 KiB are kept with the task (an id the POST created, an ETag's document).
    Buffer kept = Buffer.buffer();
    boolean[] more = {false};
    resp.handler(
        b -> {
          attempt.watchdog().touch();
          int room = ReceivedResponse.MAX_BODY - kept.length();
          if (b.length() > room) {
            more[0] = true;
          }
          if (room > 0) {
            kept.appendBuffer(b, 0, Math.min(room, b.length()));
          }
        });
    resp.exceptionHandler(this::connectionFailed);
    resp.endHandler(
        v -> {
          answer = ReceivedResponse.ofUpload(status, resp.headers(), kept.getBytes(), more[0]);
          if (resumable != null) {
            answer = answer.withFinalUrl(target);
          }
          answerEnded = true;
          maybeComplete();
        });
  }

  /**
   * Completes once both sides are done: every byte is in the connection and the target answered
   * 2xx. A target that answers early and then drops the connection fails the write instead.
   */
  private void maybeComplete() {
    if (!bodySent || !answerEnded || !attempt.finishing()) {
      return;
    }
    long total = offset + sent;
    int status = answeredStatus;
    ReceivedResponse received = answer;
    long epoch = attempt.epoch();
    Long resumedAt = attempt.unannouncedResumption();
    TaskMetrics wire = attempt.taskMetrics().snapshot(sent);
    // The target has the bytes; if the ledger cannot be told, the attempt is retried.
    attempt.complete(
        sinceLastEvent ->
            attempt
                .leases()
                .completeUpload(attempt.lease(), total, received, sinceLastEvent, resumedAt, wire)
                .map(
                    committed ->
                        committed
                            ? new Outcome.Completed(
                                String.format(
                                    "uploaded %d bytes, the target answered %d (epoch %d)",
                                    total, status, epoch))
                            : Outcome.Fenced.completionNotRecorded(
                                String.format(
                                    "the target took the body (%d) but epoch %d was superseded;"
                                        + " not recorded",
                                    status, epoch))));
  }

  private void connectionFailed(Throwable e) {
    attempt.fail(Failures.ofConnection(e, session.requestTimeout()));
  }

  // ------------------------------------------------------------ pure rules (unit-tested)

  /**
   * What a non-2xx answer to a resumable upload's body means: the offset it was sent from is not
   * the target's (409), or the resource is gone (404, 410): retried, and the next attempt asks (or
   * creates) again. Anything else as for a plain upload.
   */
  static TaskError appendError(int status) {
    if (status == 409 || status == 404 || status == 410) {
      return new TaskError(
          ErrorCodes.HTTP_STATUS,
          "the target answered "
              + status
              + " to the body: "
              + (status == 409
                  ? "it holds another offset; the next attempt asks it again"
                  : "the upload resource is gone; the next attempt creates another"),
          status,
          true);
    }
    return statusError(status);
  }

  /**
   * The task's method: the default ({@link TaskRequest#DEFAULT_UPLOAD_METHOD}, PUT) unless it says
   * POST (the api-service accepts only these two).
   */
  static HttpMethod methodOf(String method) {
    return method != null && method.trim().equalsIgnoreCase("POST")
        ? HttpMethod.POST
        : HttpMethod.valueOf(TaskRequest.DEFAULT_UPLOAD_METHOD);
  }

  /**
   * What a non-2xx answer to an upload means. As for downloads, except that a redirect is final:
   * following it would send the body again to a URL the client never named.
   */
  static TaskError statusError(int status) {
    if (status >= 300 && status < 400) {
      return new TaskError(
          ErrorCodes.HTTP_STATUS,
          "the target answered " + status + "; uploads do not follow redirects",
          status,
          false);
    }
    TaskError e = Failures.ofStatus(status);
    return new TaskError(
        e.code(), "the target answered HTTP " + status, e.httpStatus(), e.retryable());
  }
}
