package transfer.worker.attempt;

import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Locale;
import org.jboss.logging.Logger;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;
import transfer.ledger.Claim;
import transfer.storage.StorageLayout;
import transfer.worker.storage.ObjectReader;

/**
 * One attempt of one upload: the stored source streams from its file into the request body with
 * back-pressure ({@link ObjectReader}, which also computes SHA-256), and the target's answer
 * decides the outcome. Every attempt sends from byte 0 (no resumable-upload protocol is assumed);
 * there is no checkpoint. SHA-256 of the bytes sent is compared with the digest recorded for the
 * source before the body's last chunk leaves, so a source that changed in storage is never
 * delivered whole. See DESIGN.md, "Uploads".
 */
final class UploadAttempt extends Attempt {
  private final MessageDigest sha256;
  private final HttpMethod method;

  private ObjectReader reader;
  private long size;
  private long sent;

  private boolean bodySent;
  private int answeredStatus;
  private boolean answerEnded;

  UploadAttempt(Claim claim, Deps deps) {
    this(claim, deps, storedContext(claim.task()));
  }

  UploadAttempt(Claim claim, Deps deps, io.opentelemetry.context.Context parent) {
    super(claim, deps, parent);
    this.method = methodOf(task.request().method());
    this.sha256 = newSha256();
  }

  @Override
  protected String method() {
    return method.name();
  }

  @Override
  protected long transferred() {
    return sent;
  }

  @Override
  protected Long expectedBytes() {
    return task.sourceSize();
  }

  @Override
  protected TaskError stallError() {
    return TaskError.of(
        ErrorCodes.STALLED,
        "the target took no byte and sent no answer for "
            + session.requestTimeout().toSeconds()
            + " s (requestTimeout)",
        true);
  }

  @Override
  protected void run() {
    blocking(() -> checkedSource(task.sourceLocation(), task.sourceSize(), deps.storageRoot()))
        .onSuccess(this::open)
        .onFailure(this::sourceFailed);
  }

  private void sourceFailed(Throwable e) {
    if (e instanceof SourceMissing missing) {
      fail(TaskError.of(ErrorCodes.SOURCE_MISSING, missing.getMessage(), false));
    } else if (e instanceof NoSuchFileException) {
      fail(
          TaskError.of(
              ErrorCodes.SOURCE_MISSING,
              "the stored source " + e.getMessage() + " is gone",
              false));
    } else {
      fail(storageError(e));
    }
  }

  private void open(Path source) {
    if (done) {
      return;
    }
    size = task.sourceSize();
    if (size > deps.maxBytes()) {
      fail(
          TaskError.of(
              ErrorCodes.SIZE_LIMIT_EXCEEDED,
              "the source has "
                  + size
                  + " bytes, more than the limit of "
                  + deps.maxBytes()
                  + " per task (transfer.fetch.max-bytes)",
              false));
      return;
    }
    // Never more than Content-Length: a longer file fails the digest check instead.
    deps.storage()
        .openReader(source, size, sha256)
        .onFailure(this::sourceFailed)
        .onSuccess(
            r -> {
              reader = r;
              if (done) {
                r.abort();
                return;
              }
              // Reading starts once the request is there to take the bytes.
              send();
            });
  }

  private void send() {
    lastActivityNanos = System.nanoTime();
    deps.egress()
        .route(task.url(), task.id())
        .onFailure(e -> fail(egressError(e)))
        .onSuccess(this::send);
  }

  private void send(Egress.Route route) {
    if (done) {
      return;
    }
    RequestOptions o =
        route
            .apply(
                withHeaders(
                    new RequestOptions()
                        .setMethod(method)
                        // A redirect would need the body again, to a URL nobody vetted: not
                        // followed.
                        .setFollowRedirects(false),
                    route))
            // No idle timeout: Vert.x's would count only the answer; the watchdog covers both ways.
            .putHeader(HttpHeaders.CONTENT_LENGTH, String.valueOf(size))
            .putHeader(HttpHeaders.USER_AGENT, "transfer-cluster-worker");
    if (o.getHeaders().get(HttpHeaders.CONTENT_TYPE) == null) {
      o.putHeader(HttpHeaders.CONTENT_TYPE, "application/octet-stream");
    }
    connecting(route);
    deps.client()
        .request(o)
        .onSuccess(this::stream)
        .onFailure(e -> fail(Failures.ofConnection(e, session.requestTimeout())));
  }

  private void stream(HttpClientRequest req) {
    request = req;
    if (done) {
      req.reset();
      return;
    }
    lastActivityNanos = System.nanoTime();
    req.exceptionHandler(e -> fail(Failures.ofConnection(e, session.requestTimeout())));
    req.response()
        .onSuccess(this::onAnswer)
        .onFailure(e -> fail(Failures.ofConnection(e, session.requestTimeout())));
    firstProgressSoon(); // unless the transfer is over by then
    reader.exceptionHandler(
        e ->
            fail(
                e instanceof ObjectReader.Shorter
                    ? TaskError.of(ErrorCodes.SOURCE_MISSING, e.getMessage(), false)
                    : storageError(e)));
    reader.handler(this::write);
    reader.endHandler(this::onSourceEnd);
    reader.start();
  }

  /**
   * Sends a chunk. The reader reads ahead by a bounded number of chunks, each released once its
   * write completed: that is the back-pressure.
   */
  private void write(ObjectReader.Chunk chunk) {
    if (done) {
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
                bytes.increment(len);
                lastActivityNanos = System.nanoTime();
              } else {
                fail(Failures.ofConnection(ar.cause(), session.requestTimeout()));
              }
            });
  }

  /**
   * The whole source is read and hashed: the digest decides whether its last chunk (and the end) go
   * out.
   */
  private void onSourceEnd(ObjectReader.Chunk last) {
    if (done) {
      if (last != null) {
        reader.release(last);
      }
      return;
    }
    String digest = HexFormat.of().formatHex(sha256.digest());
    String expected = task.sourceSha256();
    if (expected != null && !expected.equalsIgnoreCase(digest)) {
      fail(
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
              lastActivityNanos = System.nanoTime();
              maybeComplete();
            })
        .onFailure(e -> fail(Failures.ofConnection(e, session.requestTimeout())));
  }

  private void onAnswer(HttpClientResponse resp) {
    lastActivityNanos = System.nanoTime();
    if (done) {
      return;
    }
    int status = resp.statusCode();
    if (status < 200 || status >= 300) {
      fail(
          statusError(status),
          Failures.retryAfter(resp.getHeader(HttpHeaders.RETRY_AFTER), deps.clock()));
      return;
    }
    answeredStatus = status;
    // The answer's body is read (and dropped) so the connection can serve the next request.
    resp.handler(b -> lastActivityNanos = System.nanoTime());
    resp.exceptionHandler(e -> fail(Failures.ofConnection(e, session.requestTimeout())));
    resp.endHandler(
        v -> {
          answerEnded = true;
          maybeComplete();
        });
  }

  /**
   * Completes once both sides are done: every byte is in the connection and the target answered
   * 2xx. A target that answers early and then drops the connection fails the write instead.
   */
  private void maybeComplete() {
    if (done || finishing || !bodySent || !answerEnded) {
      return;
    }
    finishing = true;
    cancelTimers();
    connectionDone(); // body sent and answer read: the connection goes back to the pool
    long total = sent;
    int status = answeredStatus;
    long sinceLastEvent = lastEventBytes < 0 ? total : total - lastEventBytes;
    blocking(() -> leases.completeUpload(lease, total, status, sinceLastEvent))
        .onComplete(
            ar -> {
              if (ar.failed()) {
                // The target has the bytes but the ledger does not know: the attempt is retried.
                finishing = false;
                fail(storageError(ar.cause()));
                return;
              }
              done = true;
              countCompletion(ar.result());
              if (ar.result()) {
                logf(
                    Logger.Level.INFO,
                    "task %s: uploaded %d bytes, the target answered %d (epoch %d)",
                    task.id(),
                    total,
                    status,
                    epoch);
              } else {
                logf(
                    Logger.Level.WARN,
                    "task %s: the target took the body (%d) but epoch %d was superseded; not"
                        + " recorded",
                    task.id(),
                    status,
                    epoch);
              }
              finished.tryComplete();
            });
  }

  @Override
  protected void stopIo() {
    super.stopIo();
    if (reader != null) {
      reader.abort();
    }
  }

  // ------------------------------------------------------------ pure rules (unit-tested)

  /** The task's method: PUT unless it says POST (the api-service accepts only these two). */
  static HttpMethod methodOf(String method) {
    return method != null && method.trim().equalsIgnoreCase("POST")
        ? HttpMethod.POST
        : HttpMethod.PUT;
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

  /**
   * The stored source of an upload, checked: a {@code file:} URI whose real path is under the
   * storage root (no link leads out of it) and a regular file of exactly {@code size} bytes.
   *
   * @throws SourceMissing when it is not (final: another attempt would find the same)
   * @throws IOException when storage could not be read (retried)
   */
  static Path checkedSource(String location, Long size, Path root) throws IOException {
    if (location == null || size == null) {
      throw new SourceMissing("the task records no stored source");
    }
    Path path =
        StorageLayout.file(location)
            .orElseThrow(
                () -> new SourceMissing("the source location " + location + " is not a file: URI"));
    Path rootPath = root.toAbsolutePath().normalize();
    if (!path.startsWith(rootPath)) {
      throw new SourceMissing("the source " + path + " is outside the storage root");
    }
    if (!Files.exists(path)) {
      throw new SourceMissing("the stored source " + path + " is gone");
    }
    Path real = path.toRealPath();
    if (!real.startsWith(rootPath.toRealPath())) {
      throw new SourceMissing("the source " + path + " leads outside the storage root");
    }
    if (!Files.isRegularFile(real)) {
      throw new SourceMissing("the source " + path + " is not a regular file");
    }
    long actual = Files.size(real);
    if (actual != size) {
      throw new SourceMissing(
          "the stored source " + path + " has " + actual + " bytes, it had " + size);
    }
    return real;
  }

  /** The source cannot be sent, now or later. */
  static final class SourceMissing extends IOException {
    SourceMissing(String message) {
      super(message);
    }
  }
}
