package transfer.worker.transfer;

import io.quarkus.logging.Log;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import transfer.contracts.ErrorCodes;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;
import transfer.ledger.Ledger;
import transfer.ledger.Ledger.FailOutcome;
import transfer.ledger.TaskRow;

/**
 * One attempt of one download, from the claim to a final ledger write. Everything but the ledger
 * calls runs on one Vert.x context, so the fields need no locks; ledger calls run on worker
 * threads. The body streams from the response into a temporary file with back-pressure while
 * SHA-256 is computed; it becomes content only after the size and digest checks and a fenced
 * commit. See DESIGN.md for leases, fencing and failure handling.
 */
final class DownloadAttempt {
  private final TaskRow task;
  private final long epoch;
  private final SessionConfig session;
  private final Deps deps;
  private final Promise<Void> finished = Promise.promise();
  private final MessageDigest sha256;
  private final Long checkpointEpoch;
  private final long checkpointBytes;

  private Context context;
  private HttpClientRequest request;
  private HttpClientResponse response;
  private AsyncFile file;
  private Path temporary;
  private Long contentLength;
  private String etag;
  private String lastModified;
  private long received;
  private long written;
  private long durable;
  private boolean checkpointPending;
  private boolean ownCheckpointRecorded;
  private long lastEventBytes = -1;
  private boolean heartbeatInFlight;
  private boolean finishing;
  private boolean done;
  private long heartbeatTimer = -1;
  private long checkpointTimer = -1;
  private long watchdogTimer = -1;

  /** When the origin last sent something, or we last stopped waiting on our own storage. */
  private long lastActivityNanos;

  private Instant lastRenewed;

  /** What every attempt needs from the worker. */
  record Deps(
      Vertx vertx,
      HttpClient client,
      Ledger ledger,
      transfer.worker.storage.FileStorage storage,
      Clock clock,
      String workerId,
      Duration leaseTtl,
      Duration heartbeatInterval,
      Duration checkpointInterval,
      double selfFenceFraction) {}

  DownloadAttempt(TaskRow.Claim claim, Deps deps) {
    this.task = claim.task();
    this.epoch = claim.epoch();
    this.session = claim.session();
    this.deps = deps;
    this.checkpointEpoch = task.durableEpoch();
    this.checkpointBytes = task.bytesDurable();
    try {
      this.sha256 = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  String taskId() {
    return task.id();
  }

  /** Completes when the attempt has ended and written (or been fenced from writing) its outcome. */
  Future<Void> finished() {
    return finished.future();
  }

  void start() {
    context = deps.vertx().getOrCreateContext();
    context.runOnContext(v -> begin());
  }

  /** Graceful stop: abort the transfer and queue the task again for another worker, at once. */
  Future<Void> handBack() {
    context.runOnContext(
        v -> {
          if (done) {
            return;
          }
          done = true;
          stopIo();
          Log.infof(
              "task %s: handing back (epoch %d) after %d bytes; this worker is stopping",
              task.id(), epoch, received);
          // The temporary object stays: the next worker resumes from this checkpoint.
          Ledger.Checkpoint cp = durable > 0 ? checkpoint() : null;
          blocking(() -> deps.ledger().release(task.id(), epoch, cp))
              .onComplete(ar -> finished.tryComplete());
        });
    return finished.future();
  }

  private void begin() {
    lastRenewed = deps.clock().instant();
    Log.infof(
        "task %s: claimed by %s, epoch %d, attempt %d of %d, GET %s",
        task.id(),
        deps.workerId(),
        epoch,
        task.attempt(),
        task.maxAttempts(),
        redacted(task.url()));
    heartbeatTimer =
        deps.vertx().setPeriodic(deps.heartbeatInterval().toMillis(), id -> heartbeat());
    lastActivityNanos = System.nanoTime();
    long stallMillis = session.requestTimeout().toMillis();
    watchdogTimer =
        deps.vertx()
            .setPeriodic(
                Math.max(100, Math.min(1000, stallMillis / 4)), id -> watchdog(stallMillis));
    blocking(
            () -> {
              temporary = deps.storage().temporary(task.id(), epoch);
              return resumableFrom();
            })
        .onSuccess(this::send)
        .onFailure(e -> fail(storageError(e)));
  }

  /**
   * Where this attempt may start: the last checkpoint, when its temporary object is still there and
   * a validator lets us ask for the rest of the same version ({@code If-Range}); else zero.
   */
  private long resumableFrom() throws java.io.IOException {
    if (checkpointBytes <= 0 || checkpointEpoch == null || validator() == null) {
      return 0;
    }
    Path earlier = deps.storage().temporary(task.prefixOwner(), checkpointEpoch);
    if (!java.nio.file.Files.isRegularFile(earlier)
        || java.nio.file.Files.size(earlier) < checkpointBytes) {
      Log.infof(
          "task %s: checkpoint at byte %d (epoch %d) has no stored object; starting from zero",
          task.id(), checkpointBytes, checkpointEpoch);
      return 0;
    }
    return checkpointBytes;
  }

  /** A strong ETag, else Last-Modified: what {@code If-Range} may carry. */
  private String validator() {
    String e = task.etag();
    if (e != null && !e.startsWith("W/")) {
      return e;
    }
    return task.lastModified();
  }

  private void send(long from) {
    if (done) {
      return;
    }
    lastActivityNanos = System.nanoTime();
    RequestOptions options = requestOptions();
    if (from > 0) {
      options.putHeader("Range", "bytes=" + from + "-");
      options.putHeader("If-Range", validator());
    }
    deps.client()
        .request(options)
        .compose(
            req -> {
              request = req;
              return req.send();
            })
        .onSuccess(resp -> onResponse(resp, from))
        .onFailure(e -> fail(Failures.ofConnection(e, session.requestTimeout())));
  }

  private RequestOptions requestOptions() {
    RequestOptions o =
        new RequestOptions()
            .setMethod(HttpMethod.GET)
            .setAbsoluteURI(task.url())
            .setFollowRedirects(true)
            // Vert.x's idle timeout stops counting once the response began; the watchdog below
            // covers the whole exchange, body included.
            .setIdleTimeout(session.requestTimeout().toMillis());
    // Session headers first, the task's own on top (URLSession's httpAdditionalHeaders).
    for (Map.Entry<String, String> h : session.headers().entrySet()) {
      o.putHeader(h.getKey(), h.getValue());
    }
    if (task.request().headers() != null) {
      for (Map.Entry<String, String> h : task.request().headers().entrySet()) {
        o.putHeader(h.getKey(), h.getValue());
      }
    }
    o.putHeader(HttpHeaders.ACCEPT_ENCODING, "identity");
    o.putHeader(HttpHeaders.USER_AGENT, "transfer-cluster-worker");
    return o;
  }

  private void onResponse(HttpClientResponse resp, long from) {
    response = resp;
    lastActivityNanos = System.nanoTime();
    if (done) {
      resp.request().reset();
      return;
    }
    int status = resp.statusCode();
    if (from > 0 && status == 206) {
      resume(resp, from);
      return;
    }
    // Judge the answer before the first byte is written: an error page never lands in a file.
    if (status < 200 || status >= 300 || status == 206) {
      fail(
          Failures.ofStatus(status),
          Failures.retryAfter(resp.getHeader(HttpHeaders.RETRY_AFTER), deps.clock()));
      return;
    }
    if (from > 0) {
      // The origin ignored Range, or If-Range found another version: the whole body follows.
      Log.infof(
          "task %s: asked for bytes %d- but the origin answered %d (whole body); restarting from"
              + " zero",
          task.id(), from, status);
    }
    resp.pause();
    openFile(true)
        .onSuccess(v -> startBody(resp, parseLength(resp.getHeader(HttpHeaders.CONTENT_LENGTH))))
        .onFailure(e -> fail(storageError(e)));
  }

  /**
   * A 206 to our {@code Range: bytes=from-}: continue only if it is the same version, starting
   * exactly where we asked, as one range. Otherwise fetch the whole body again: bytes of two
   * versions are never mixed.
   */
  private void resume(HttpClientResponse resp, long from) {
    ContentRange range = ContentRange.parse(resp.getHeader("Content-Range"));
    String type = resp.getHeader(HttpHeaders.CONTENT_TYPE);
    String etagNow = resp.getHeader(HttpHeaders.ETAG);
    String why = null;
    if (type != null && type.toLowerCase().startsWith("multipart/byteranges")) {
      why = "answered multipart/byteranges";
    } else if (range == null || range.start() != from) {
      why = "answered Content-Range " + resp.getHeader("Content-Range");
    } else if (task.etag() != null && etagNow != null && !task.etag().equals(etagNow)) {
      why = "changed its ETag from " + task.etag() + " to " + etagNow;
    }
    if (why != null) {
      Log.infof(
          "task %s: the origin %s to Range bytes=%d-; restarting from zero", task.id(), why, from);
      resp.request().reset();
      send(0);
      return;
    }
    resp.pause();
    Path earlier;
    try {
      earlier = deps.storage().temporary(task.prefixOwner(), checkpointEpoch);
    } catch (java.io.IOException e) {
      fail(storageError(e));
      return;
    }
    blocking(() -> deps.storage().copyPrefix(earlier, temporary, from, sha256))
        .onFailure(e -> fail(storageError(e)))
        .onSuccess(
            copied -> {
              if (!copied) {
                Log.infof(
                    "task %s: the checkpoint object of epoch %d is gone; restarting from zero",
                    task.id(), checkpointEpoch);
                sha256.reset();
                resp.request().reset();
                send(0);
                return;
              }
              received = from;
              written = from;
              durable = from;
              checkpointPending = true;
              Log.infof(
                  "task %s: resumed from byte %d (checkpoint of epoch %d) on epoch %d",
                  task.id(), from, checkpointEpoch, epoch);
              openFile(false)
                  .onSuccess(
                      v -> {
                        file.setWritePos(from);
                        Long total =
                            range.total() != null
                                ? range.total()
                                : add(
                                    from, parseLength(resp.getHeader(HttpHeaders.CONTENT_LENGTH)));
                        startBody(resp, total);
                      })
                  .onFailure(e -> fail(storageError(e)));
            });
  }

  private Future<Void> openFile(boolean truncate) {
    if (truncate) {
      sha256.reset();
      received = 0;
      written = 0;
      durable = 0;
    }
    return deps.vertx()
        .fileSystem()
        .open(
            temporary.toString(),
            new OpenOptions().setWrite(true).setCreate(true).setTruncateExisting(truncate))
        .map(
            f -> {
              file = f;
              file.exceptionHandler(e -> fail(storageError(e)));
              return null;
            });
  }

  /** Streams the body of an accepted response; {@code total} is the whole object's size. */
  private void startBody(HttpClientResponse resp, Long total) {
    if (done) {
      resp.request().reset();
      return;
    }
    lastActivityNanos = System.nanoTime(); // a prefix copy may have taken a while
    contentLength = total;
    etag = resp.getHeader(HttpHeaders.ETAG);
    lastModified = resp.getHeader(HttpHeaders.LAST_MODIFIED);
    checkpointTimer =
        deps.vertx().setPeriodic(deps.checkpointInterval().toMillis(), id -> checkpointFlush());
    heartbeat(); // the first progress event, with what the origin announced
    resp.handler(this::onData);
    resp.exceptionHandler(e -> fail(Failures.ofConnection(e, session.requestTimeout())));
    resp.endHandler(v -> onEnd());
    resp.resume();
  }

  private static Long parseLength(String header) {
    try {
      return header == null ? null : Long.parseLong(header.trim());
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static Long add(long a, Long b) {
    return b == null ? null : a + b;
  }

  private void onData(Buffer buf) {
    if (done) {
      return;
    }
    int len = buf.length();
    sha256.update(buf.getByteBuf().nioBuffer());
    received += len;
    lastActivityNanos = System.nanoTime();
    if (contentLength != null && received > contentLength) {
      fail(
          TaskError.of(
              ErrorCodes.CONNECTION_FAILED,
              "the origin sent more than its Content-Length of " + contentLength,
              true));
      return;
    }
    file.write(buf).onSuccess(v -> written += len);
    if (file.writeQueueFull()) {
      response.pause();
      file.drainHandler(
          v -> {
            // Waiting for our own disk is not the origin stalling.
            lastActivityNanos = System.nanoTime();
            response.resume();
          });
    }
  }

  private void onEnd() {
    if (done) {
      return;
    }
    if (contentLength != null && received != contentLength) {
      fail(
          TaskError.of(
              ErrorCodes.CONNECTION_FAILED,
              "the body ended after " + received + " of " + contentLength + " bytes",
              true));
      return;
    }
    String digest = HexFormat.of().formatHex(sha256.digest());
    String expected = task.request().sha256();
    if (expected != null && !expected.equalsIgnoreCase(digest)) {
      fail(
          TaskError.of(
              ErrorCodes.CHECKSUM_MISMATCH,
              "SHA-256 of the body is " + digest + ", expected " + expected.toLowerCase(),
              false));
      return;
    }
    finishing = true;
    cancelTimers();
    long size = received;
    long sinceLastEvent = lastEventBytes < 0 ? size : size - lastEventBytes;
    file.close()
        .compose(
            v ->
                blocking(
                    () -> {
                      Path stored =
                          deps.storage()
                              .commit(
                                  temporary, task.tenantId(), task.sessionId(), task.id(), epoch);
                      boolean committed =
                          deps.ledger()
                              .completeDownload(
                                  task.id(),
                                  epoch,
                                  stored.toUri().toString(),
                                  size,
                                  digest,
                                  sinceLastEvent);
                      if (committed) {
                        deps.storage().deleteTemporaries(task.id(), Long.MAX_VALUE);
                      } else {
                        deps.storage().deleteQuietly(stored);
                      }
                      return committed;
                    }))
        .onComplete(
            ar -> {
              done = true;
              if (ar.failed()) {
                // The object may be stored but the ledger write failed: retry the attempt.
                finishing = false;
                done = false;
                fail(storageError(ar.cause()));
                return;
              }
              if (ar.result()) {
                Log.infof(
                    "task %s: completed, %d bytes, sha256 %s (epoch %d)",
                    task.id(), size, digest, epoch);
              } else {
                Log.warnf(
                    "task %s: finished the body but epoch %d was superseded; discarded it",
                    task.id(), epoch);
              }
              finished.tryComplete();
            });
  }

  private void heartbeat() {
    if (done || finishing || heartbeatInFlight) {
      return;
    }
    heartbeatInFlight = true;
    long total = received;
    boolean progress = total != lastEventBytes;
    long since = lastEventBytes < 0 ? total : total - lastEventBytes;
    Long expected = contentLength != null ? contentLength : task.request().expectedBytes();
    Ledger.Checkpoint cp = checkpointPending ? checkpoint() : null;
    checkpointPending = false;
    Ledger.Heartbeat hb = new Ledger.Heartbeat(total, cp, expected, progress, since);
    blocking(() -> deps.ledger().heartbeat(task.id(), epoch, deps.leaseTtl(), hb))
        .onComplete(
            ar -> {
              heartbeatInFlight = false;
              if (ar.succeeded() && ar.result()) {
                lastRenewed = deps.clock().instant();
                if (progress) {
                  lastEventBytes = total;
                }
                if (cp != null && !ownCheckpointRecorded) {
                  // Our own object now holds the durable prefix: earlier attempts' are garbage.
                  ownCheckpointRecorded = true;
                  blocking(
                      () -> {
                        deps.storage().deleteTemporaries(task.id(), epoch);
                        return null;
                      });
                }
              } else if (ar.failed() && cp != null) {
                checkpointPending = true; // report it again at the next heartbeat
              } else if (ar.succeeded()) {
                if (!finishing) {
                  fenced("the task was suspended, canceled or taken over by another worker");
                }
              } else {
                Duration since0 = Duration.between(lastRenewed, deps.clock().instant());
                long limit = (long) (deps.leaseTtl().toMillis() * deps.selfFenceFraction());
                Log.warnf(
                    "task %s: cannot renew lease (%s); last renewed %d ms ago",
                    task.id(), ar.cause().getMessage(), since0.toMillis());
                if (since0.toMillis() > limit && !finishing) {
                  fenced(
                      "could not renew the lease for " + since0.toMillis() + " ms (self-fencing)");
                }
              }
            });
  }

  /** Forces written bytes to disk; the next heartbeat records them as durable. */
  private void checkpointFlush() {
    if (done || finishing) {
      return;
    }
    long target = received;
    file.flush()
        .onSuccess(
            v -> {
              // Only when every write up to target has completed is the prefix contiguous.
              if (written >= target && target > durable) {
                durable = target;
                checkpointPending = true;
              }
            });
  }

  private Ledger.Checkpoint checkpoint() {
    return new Ledger.Checkpoint(durable, epoch, etag, lastModified);
  }

  /** Another worker owns the task (or we could not prove we still do): stop without writing. */
  private void fenced(String why) {
    if (done) {
      return;
    }
    done = true;
    stopIo();
    // The object stays: the attempt that superseded us may be resuming from it.
    Log.warnf("task %s: epoch %d stopped: %s; nothing more is written", task.id(), epoch, why);
    finished.tryComplete();
  }

  private void fail(TaskError error) {
    fail(error, null);
  }

  private void fail(TaskError error, Duration retryAfter) {
    if (done || finishing) {
      return;
    }
    done = true;
    stopIo();
    Duration backoff = Failures.backoff(session.retry(), task.attempt(), retryAfter);
    blocking(
            () -> {
              FailOutcome outcome = deps.ledger().failAttempt(task.id(), epoch, error, backoff);
              // A retry resumes from the checkpoint, and a failure that offers resumeData keeps
              // the durable prefix (retention removes it); only a plain final failure drops them.
              if (outcome == FailOutcome.FAILED) {
                deps.storage().deleteTemporaries(task.id(), Long.MAX_VALUE);
              }
              return outcome;
            })
        .onComplete(
            ar -> {
              if (ar.failed()) {
                Log.errorf(
                    "task %s: attempt %d failed (%s: %s) and the ledger could not record it (%s);"
                        + " the lease will expire and the reaper retries it",
                    task.id(),
                    task.attempt(),
                    error.code(),
                    error.message(),
                    ar.cause().getMessage());
              } else if (ar.result() == FailOutcome.RETRY_SCHEDULED) {
                Log.infof(
                    "task %s: attempt %d failed (%s: %s); retrying in %d ms",
                    task.id(), task.attempt(), error.code(), error.message(), backoff.toMillis());
              } else if (ar.result() == FailOutcome.FAILED
                  || ar.result() == FailOutcome.FAILED_RESUMABLE) {
                Log.infof(
                    "task %s: failed for good after attempt %d (%s: %s)",
                    task.id(), task.attempt(), error.code(), error.message());
              } else {
                Log.warnf(
                    "task %s: attempt %d failed (%s) but epoch %d was superseded; not recorded",
                    task.id(), task.attempt(), error.code(), epoch);
              }
              finished.tryComplete();
            });
  }

  private void stopIo() {
    cancelTimers();
    if (request != null) {
      request.reset();
    }
    if (file != null) {
      file.close();
    }
  }

  /** A stalled exchange: nothing from the origin for {@code requestTimeout} while we wanted it. */
  private void watchdog(long stallMillis) {
    if (done || finishing || (response != null && file != null && file.writeQueueFull())) {
      return;
    }
    long quietMillis = (System.nanoTime() - lastActivityNanos) / 1_000_000;
    if (quietMillis >= stallMillis) {
      fail(
          Failures.ofConnection(
              new java.util.concurrent.TimeoutException("stalled"), session.requestTimeout()));
    }
  }

  private void cancelTimers() {
    if (watchdogTimer >= 0) {
      deps.vertx().cancelTimer(watchdogTimer);
    }
    if (heartbeatTimer >= 0) {
      deps.vertx().cancelTimer(heartbeatTimer);
    }
    if (checkpointTimer >= 0) {
      deps.vertx().cancelTimer(checkpointTimer);
    }
  }

  private static TaskError storageError(Throwable e) {
    return TaskError.of(ErrorCodes.STORAGE_FAILED, "storage: " + e.getMessage(), true);
  }

  private <T> Future<T> blocking(java.util.concurrent.Callable<T> work) {
    return deps.vertx().executeBlocking(work, false);
  }

  /** The URL without its query, which may carry credentials, for logs. */
  static String redacted(String url) {
    int q = url.indexOf('?');
    return q < 0 ? url : url.substring(0, q) + "?…";
  }
}
