package transfer.worker.attempt;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.jboss.logging.Logger;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;
import transfer.ledger.Claim;
import transfer.ledger.Leases;
import transfer.ledger.Leases.FailOutcome;
import transfer.storage.StorageLayout;
import transfer.worker.storage.ObjectWriter;

/**
 * One attempt of one download, from the claim to a final ledger write. The body streams from the
 * response into a temporary file with back-pressure ({@link ObjectWriter}, which also computes
 * SHA-256); it becomes content only after the size and digest checks and a fenced commit. The
 * lease, the stall watchdog and the failure bookkeeping are {@link Attempt}'s; this class adds
 * checkpoints and resume. See DESIGN.md.
 */
final class DownloadAttempt extends Attempt {
  private final MessageDigest sha256;
  private final Long checkpointEpoch;
  private final long checkpointBytes;

  /** Most bytes this download may have: its expectedBytes, within transfer.fetch.max-bytes. */
  private final long limit;

  private HttpClientResponse response;
  private ObjectWriter writer;
  private Path temporary;
  private Long contentLength;
  private String etag;
  private String lastModified;
  private long received;

  /** Where this attempt's body began: a resumed prefix was copied, not moved. */
  private long resumedFrom;

  private long durable;
  private boolean checkpointPending;
  private boolean ownCheckpointRecorded;
  private long checkpointTimer = -1;

  DownloadAttempt(Claim claim, Deps deps) {
    this(claim, deps, storedContext(claim.task()));
  }

  DownloadAttempt(Claim claim, Deps deps, io.opentelemetry.context.Context parent) {
    super(claim, deps, parent);
    this.checkpointEpoch = task.durableEpoch();
    this.checkpointBytes = task.bytesDurable();
    Long expected = task.request().expectedBytes();
    this.limit = expected != null ? Math.min(expected, deps.maxBytes()) : deps.maxBytes();
    this.sha256 = newSha256();
  }

  @Override
  protected String method() {
    return "GET";
  }

  @Override
  protected long transferred() {
    return received;
  }

  @Override
  protected long movedInThisAttempt() {
    return received - resumedFrom;
  }

  @Override
  protected Long expectedBytes() {
    return contentLength != null ? contentLength : task.request().expectedBytes();
  }

  @Override
  protected void run() {
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
      logf(
          Logger.Level.INFO,
          "task %s: checkpoint at byte %d (epoch %d) has no stored object; starting from zero",
          task.id(),
          checkpointBytes,
          checkpointEpoch);
      return 0;
    }
    return checkpointBytes;
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
    if (done) {
      return;
    }
    lastActivityNanos = System.nanoTime();
    deps.egress()
        .route(url, task.id())
        .onFailure(e -> fail(egressError(e)))
        .onSuccess(
            route -> {
              if (done) {
                return;
              }
              RequestOptions options = route.apply(requestOptions(route));
              connecting(route);
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
                  .onSuccess(resp -> onResponse(resp, from, route, hop))
                  .onFailure(e -> fail(Failures.ofConnection(e, session.requestTimeout())));
            });
  }

  private RequestOptions requestOptions(Egress.Route route) {
    RequestOptions o =
        withHeaders(
            new RequestOptions()
                .setMethod(HttpMethod.GET)
                // Redirects are followed here, each hop judged by the guard (see onRedirect).
                .setFollowRedirects(false)
                // Vert.x's idle timeout stops counting once the response began; the watchdog
                // covers the whole exchange, body included.
                .setIdleTimeout(session.requestTimeout().toMillis()),
            route);
    o.putHeader(HttpHeaders.ACCEPT_ENCODING, "identity");
    o.putHeader(HttpHeaders.USER_AGENT, "transfer-cluster-worker");
    return o;
  }

  private void onResponse(HttpClientResponse resp, long from, Egress.Route route, int hop) {
    response = resp;
    lastActivityNanos = System.nanoTime();
    if (done) {
      resp.request().reset();
      return;
    }
    int status = resp.statusCode();
    RedirectDecision redirect =
        RedirectDecision.of(
            status, resp.getHeader(HttpHeaders.LOCATION), route.url(), hop, deps.maxRedirects());
    if (redirect instanceof RedirectDecision.Refuse refuse) {
      // The body of the 3xx is not read; its connection is closed.
      resp.request().reset();
      fail(refuse.error());
      return;
    }
    if (redirect instanceof RedirectDecision.Follow follow) {
      resp.request().reset();
      logf(
          Logger.Level.DEBUG,
          "task %s: redirect %d to %s",
          task.id(),
          follow.hop(),
          Urls.redacted(follow.url()));
      sendTo(follow.url(), from, follow.hop());
      return;
    }
    // Judge the answer before the first byte is written: an error page never lands in a file.
    ResumeDecision answer = ResumeDecision.of(from, task.etag(), status, resp::getHeader);
    if (answer instanceof ResumeDecision.Continue resumed) {
      resume(resp, resumed);
    } else if (answer instanceof ResumeDecision.AskAgain again) {
      logf(
          Logger.Level.INFO,
          "task %s: the origin %s to Range bytes=%d-; restarting from zero",
          task.id(),
          again.why(),
          from);
      resp.request().reset();
      send(0);
    } else if (answer instanceof ResumeDecision.WholeBody whole) {
      if (from > 0) {
        logf(
            Logger.Level.INFO,
            "task %s: asked for bytes %d- but the origin answered %d (whole body); restarting"
                + " from zero",
            task.id(),
            from,
            status);
      }
      resp.pause();
      openFile(0)
          .onSuccess(v -> startBody(resp, whole.total()))
          .onFailure(e -> fail(storageError(e)));
    } else {
      fail(
          Failures.ofStatus(status),
          Failures.retryAfter(resp.getHeader(HttpHeaders.RETRY_AFTER), deps.clock()));
    }
  }

  /**
   * A 206 that continues our {@code Range: bytes=from-}: the earlier attempt's first {@code from}
   * bytes are copied into this attempt's object (and hashed), and the body follows them.
   */
  private void resume(HttpClientResponse resp, ResumeDecision.Continue resumed) {
    long from = resumed.from();
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
                logf(
                    Logger.Level.INFO,
                    "task %s: the checkpoint object of epoch %d is gone; restarting from zero",
                    task.id(),
                    checkpointEpoch);
                sha256.reset();
                resp.request().reset();
                send(0);
                return;
              }
              received = from;
              resumedFrom = from;
              durable = from;
              checkpointPending = true;
              logf(
                  Logger.Level.INFO,
                  "task %s: resumed from byte %d (checkpoint of epoch %d) on epoch %d",
                  task.id(),
                  from,
                  checkpointEpoch,
                  epoch);
              openFile(from)
                  .onSuccess(v -> startBody(resp, resumed.total()))
                  .onFailure(e -> fail(storageError(e)));
            });
  }

  /**
   * Opens the temporary object for the body from byte {@code from}: 0 empties it; otherwise it
   * holds the first {@code from} bytes (a copied prefix) and the digest has seen them.
   */
  private Future<Void> openFile(long from) {
    if (from == 0) {
      sha256.reset();
      received = 0;
      resumedFrom = 0;
      durable = 0;
    }
    if (writer != null) {
      writer.abort();
    }
    return deps.storage()
        .openWriter(temporary, from, from == 0, sha256)
        .map(
            w -> {
              if (done) {
                w.abort();
                return null;
              }
              writer = w;
              writer.exceptionHandler(e -> fail(storageError(e)));
              return null;
            });
  }

  /** Streams the body of an accepted response; {@code total} is the whole object's size. */
  private void startBody(HttpClientResponse resp, Long total) {
    if (done) {
      resp.request().reset();
      return;
    }
    if (total != null && total > limit) {
      fail(sizeError("the origin announced " + total + " bytes"));
      return;
    }
    lastActivityNanos = System.nanoTime(); // a prefix copy may have taken a while
    contentLength = total;
    etag = resp.getHeader(HttpHeaders.ETAG);
    lastModified = resp.getHeader(HttpHeaders.LAST_MODIFIED);
    checkpointTimer =
        deps.vertx().setPeriodic(deps.checkpointInterval().toMillis(), id -> checkpointFlush());
    firstProgressSoon(); // unless the transfer is over by then
    resp.handler(this::onData);
    resp.exceptionHandler(e -> fail(Failures.ofConnection(e, session.requestTimeout())));
    resp.endHandler(v -> onEnd());
    resp.resume();
  }

  /** More than the task announced (expectedBytes) or than any task may have (max-bytes). */
  private TaskError sizeError(String what) {
    Long expected = task.request().expectedBytes();
    String bound =
        expected != null && expected <= deps.maxBytes()
            ? "the task's expectedBytes of " + expected
            : "the limit of " + deps.maxBytes() + " bytes per task (transfer.fetch.max-bytes)";
    return TaskError.of(
        ErrorCodes.SIZE_LIMIT_EXCEEDED,
        what + ", more than " + bound + "; the body was cut",
        false);
  }

  private void onData(Buffer buf) {
    if (done) {
      return;
    }
    int len = buf.length();
    received += len;
    bytes.increment(len);
    lastActivityNanos = System.nanoTime();
    if (received > limit) {
      fail(sizeError("the body went past " + limit + " bytes"));
      return;
    }
    if (contentLength != null && received > contentLength) {
      fail(
          TaskError.of(
              ErrorCodes.CONNECTION_FAILED,
              "the origin sent more than its Content-Length of " + contentLength,
              true));
      return;
    }
    if (!writer.write(buf)) {
      response.pause();
      writer.drainHandler(
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
    finishing = true;
    cancelTimers();
    connectionDone(); // the body is in: the connection goes back to the pool
    long size = received;
    writer
        .finish()
        .onFailure(
            e -> {
              finishing = false;
              fail(storageError(e));
            })
        .onSuccess(v -> verifyAndCommit(size));
  }

  /** Every byte is written and hashed: the digest decides, then the fenced commit. */
  private void verifyAndCommit(long size) {
    if (done) {
      return;
    }
    String digest = HexFormat.of().formatHex(sha256.digest());
    String expected = task.request().sha256();
    if (expected != null && !expected.equalsIgnoreCase(digest)) {
      finishing = false;
      fail(
          TaskError.of(
              ErrorCodes.CHECKSUM_MISMATCH,
              "SHA-256 of the body is " + digest + ", expected " + expected.toLowerCase(),
              false));
      return;
    }
    long sinceLastEvent = lastEventBytes < 0 ? size : size - lastEventBytes;
    blocking(
            () -> {
              Path stored =
                  deps.storage()
                      .commit(temporary, task.tenantId(), task.sessionId(), task.id(), epoch);
              boolean committed =
                  leases.completeDownload(
                      lease, StorageLayout.location(stored), size, digest, sinceLastEvent);
              if (committed) {
                deps.storage().deleteTemporaries(task.id(), Long.MAX_VALUE);
              } else {
                deps.storage().deleteQuietly(stored);
              }
              return committed;
            })
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
              countCompletion(ar.result());
              if (ar.result()) {
                logf(
                    Logger.Level.INFO,
                    "task %s: completed, %d bytes, sha256 %s (epoch %d)",
                    task.id(),
                    size,
                    digest,
                    epoch);
              } else {
                logf(
                    Logger.Level.WARN,
                    "task %s: finished the body but epoch %d was superseded; discarded it",
                    task.id(),
                    epoch);
              }
              finished.tryComplete();
            });
  }

  @Override
  protected Leases.Checkpoint takeCheckpoint() {
    Leases.Checkpoint cp = checkpointPending ? checkpoint() : null;
    checkpointPending = false;
    return cp;
  }

  @Override
  protected void checkpointRecorded(Leases.Checkpoint cp) {
    if (!ownCheckpointRecorded) {
      // Our own object now holds the durable prefix: earlier attempts' are garbage.
      ownCheckpointRecorded = true;
      blocking(
          () -> {
            deps.storage().deleteTemporaries(task.id(), epoch);
            return null;
          });
    }
  }

  @Override
  protected void checkpointNotRecorded(Leases.Checkpoint cp) {
    checkpointPending = true; // report it again at the next heartbeat
  }

  @Override
  protected Leases.Checkpoint handBackCheckpoint() {
    // The temporary object stays: the next worker resumes from this checkpoint.
    return durable > 0 ? checkpoint() : null;
  }

  /** Forces written bytes to disk; the next heartbeat records them as durable. */
  private void checkpointFlush() {
    if (done || finishing) {
      return;
    }
    // Errors reach the writer's exception handler, which fails the attempt.
    writer
        .flush()
        .onSuccess(
            flushed -> {
              if (flushed > durable) {
                durable = flushed;
                checkpointPending = true;
              }
            });
  }

  private Leases.Checkpoint checkpoint() {
    return new Leases.Checkpoint(durable, epoch, etag, lastModified);
  }

  @Override
  protected void failureRecorded(FailOutcome outcome) {
    // A retry resumes from the checkpoint, and a failure that offers resumeData keeps the durable
    // prefix (retention removes it); only a plain final failure drops them.
    if (outcome == FailOutcome.FAILED) {
      deps.storage().deleteTemporaries(task.id(), Long.MAX_VALUE);
    }
  }

  @Override
  protected void stopIo() {
    super.stopIo();
    if (writer != null) {
      writer.abort();
    }
  }

  @Override
  protected boolean waitingOnOurselves() {
    // A full writer is our disk being slow, not the origin stalling.
    return response != null && writer != null && writer.full();
  }

  @Override
  protected void cancelTimers() {
    super.cancelTimers();
    if (checkpointTimer >= 0) {
      deps.vertx().cancelTimer(checkpointTimer);
    }
  }
}
