package transfer.worker.attempt;

import io.micrometer.core.instrument.Counter;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.quarkus.logging.Log;
import io.smallrye.common.vertx.VertxContext;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.RequestOptions;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeoutException;
import org.jboss.logging.Logger;
import org.jboss.logging.MDC;
import transfer.contracts.ErrorCodes;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;
import transfer.ledger.Claim;
import transfer.ledger.Lease;
import transfer.ledger.Leases;
import transfer.ledger.Leases.FailOutcome;
import transfer.ledger.TaskRow;
import transfer.telemetry.LogFields;
import transfer.telemetry.TraceContext;
import transfer.telemetry.TraceContexts;
import transfer.worker.WorkerMetrics;
import transfer.worker.storage.FileStorage;

/**
 * What every attempt of a task does between its claim and its last ledger write, whatever the
 * direction of the bytes: the lease (heartbeats carrying progress, self-fencing when it cannot be
 * renewed), the stall watchdog, and the fenced bookkeeping of a failure, a hand-back or being
 * superseded. Subclasses move the bytes and say what a checkpoint is. Every attempt is counted once
 * when it ends ({@link WorkerMetrics#attemptEnded}), with its outcome and error code.
 *
 * <p>Everything but the ledger calls runs on one Vert.x context, so the fields need no locks;
 * ledger calls run on worker threads ({@link #blocking}). See DESIGN.md.
 */
abstract class Attempt {
  protected final TaskRow task;
  protected final long epoch;
  protected final SessionConfig session;
  protected final Deps deps;
  protected final Promise<Void> finished = Promise.promise();

  /** Bytes moved in this attempt's direction, counted per chunk as they move. */
  protected final Counter bytes;

  protected Context context;
  protected HttpClientRequest request;

  /** The transfer is over and its outcome is being committed: no heartbeat, stall or failure. */
  protected boolean finishing;

  /** The attempt has ended (or is writing its end); nothing more may be started. */
  protected boolean done;

  /** Bytes reported by the last progress event; -1 before the first one. */
  protected long lastEventBytes = -1;

  /** When the other side last moved bytes, or we last stopped waiting on our own storage. */
  protected long lastActivityNanos;

  private boolean heartbeatInFlight;
  private long heartbeatTimer = -1;
  private long firstProgressTimer = -1;
  private long watchdogTimer = -1;
  private Instant lastRenewed;

  /** The label the current request's host is counted under, or null while none is in flight. */
  private String connectionKey;

  /** What every attempt needs from the worker. */
  record Deps(
      Vertx vertx,
      HttpClient client,
      Leases leases,
      FileStorage storage,
      Path storageRoot,
      Clock clock,
      String workerId,
      Duration leaseTtl,
      Duration heartbeatInterval,
      Duration checkpointInterval,
      double selfFenceFraction,
      Egress egress,
      long maxBytes,
      int maxRedirects,
      WorkerMetrics metrics,
      Tracer tracer) {}

  /**
   * The attempt's span ({@code download}, {@code upload}): from the claim to the attempt's end,
   * child of the doorbell's CONSUMER span or of the task's stored context. One per attempt, never
   * one per chunk: the bytes it moved are set once, when it ends.
   */
  protected final Span span;

  /** The ledger's statements of a lease holder. */
  protected final Leases leases;

  /**
   * What this attempt's writes name: the task, the epoch of its claim, and the attempt's trace
   * context, which its events carry (README, Traces).
   */
  protected final Lease lease;

  private boolean spanEnded;

  protected Attempt(Claim claim, Deps deps, io.opentelemetry.context.Context parent) {
    this.task = claim.task();
    this.epoch = claim.epoch();
    this.session = claim.session();
    this.deps = deps;
    this.bytes = deps.metrics().bytes(task.type());
    this.span =
        deps.tracer()
            .spanBuilder(task.type().wire())
            .setParent(parent)
            .setAttribute("transfer.task.id", task.id())
            .setAttribute("transfer.session.id", task.sessionId())
            .setAttribute("transfer.tenant", task.tenantId())
            .setAttribute("transfer.task.type", task.type().wire())
            .setAttribute("transfer.attempt", task.attempt())
            .setAttribute("transfer.epoch", epoch)
            .setAttribute("transfer.worker.id", deps.workerId())
            .setAttribute("server.address", hostOnly(task.host()))
            .startSpan();
    Map<String, String> h = TraceContexts.headers(span);
    this.leases = deps.leases();
    this.lease =
        claim
            .lease()
            .withTrace(
                TraceContext.of(h.get(TraceContexts.TRACEPARENT), h.get(TraceContexts.TRACESTATE)));
  }

  /**
   * The parent of an attempt of a task claimed without a doorbell of its own: its stored context.
   */
  static io.opentelemetry.context.Context storedContext(TaskRow task) {
    TraceContext t = task.trace();
    return t == null
        ? io.opentelemetry.context.Context.root()
        : TraceContexts.fromHeaders(t.traceparent(), t.tracestate());
  }

  private static String hostOnly(String hostPort) {
    if (hostPort == null) {
      return "";
    }
    int colon = hostPort.lastIndexOf(':');
    return colon > 0 ? hostPort.substring(0, colon) : hostPort;
  }

  String taskId() {
    return task.id();
  }

  /** Completes when the attempt has ended and written (or been fenced from writing) its outcome. */
  Future<Void> finished() {
    return finished.future();
  }

  void start() {
    // A duplicated context of its own: it keeps the event loop of the context it comes from, and
    // gives this attempt its own local data, where Quarkus keeps the MDC of the code that runs on
    // it (logf: the task's ids on every line about it).
    context = VertxContext.getOrCreateDuplicatedContext(deps.vertx().getOrCreateContext());
    // Whichever way the attempt ended, its host is no longer in use (and its span is over, if the
    // end was not counted: it always is).
    finished
        .future()
        .onComplete(
            ar -> {
              connectionDone();
              endSpan("ended", null);
            });
    context.runOnContext(v -> begin());
  }

  // ------------------------------------------------------------ what a subclass provides

  /** The HTTP method, for logs. */
  protected abstract String method();

  /** Starts moving bytes; called on the attempt's context once the lease timers run. */
  protected abstract void run();

  /** Bytes moved so far in this attempt, as progress reports them. */
  protected abstract long transferred();

  /** The size progress reports as expected, if known. */
  protected abstract Long expectedBytes();

  /** The checkpoint to record with this heartbeat, or null; called once per heartbeat. */
  protected Leases.Checkpoint takeCheckpoint() {
    return null;
  }

  /** A heartbeat recorded {@code checkpoint} (non-null). */
  protected void checkpointRecorded(Leases.Checkpoint checkpoint) {}

  /** A heartbeat carrying {@code checkpoint} (non-null) could not be written. */
  protected void checkpointNotRecorded(Leases.Checkpoint checkpoint) {}

  /** The checkpoint handed to the next worker on a graceful stop, or null. */
  protected Leases.Checkpoint handBackCheckpoint() {
    return null;
  }

  /** True while the quiet is our own doing (say, a full disk queue), not the other side's. */
  protected boolean waitingOnOurselves() {
    return false;
  }

  /** The error of a stall: nothing from the other side for {@code requestTimeout}. */
  protected TaskError stallError() {
    return Failures.ofConnection(new TimeoutException("stalled"), session.requestTimeout());
  }

  /** Runs on a worker thread right after the ledger recorded a failure of this attempt. */
  protected void failureRecorded(FailOutcome outcome) {}

  /** Stops every I/O of the attempt; subclasses close what they opened, then call this. */
  protected void stopIo() {
    cancelTimers();
    if (request != null) {
      request.reset();
    }
    connectionDone();
  }

  /** A request of this attempt goes to {@code route}'s host (a redirect moves it to another). */
  protected void connecting(Egress.Route route) {
    connectionDone();
    connectionKey = deps.metrics().connectionOpened(route.destination().host());
  }

  /** The attempt's request is over: ended, reset, or the attempt stopped. Idempotent. */
  protected void connectionDone() {
    deps.metrics().connectionClosed(connectionKey);
    connectionKey = null;
  }

  /**
   * Counts this attempt's end ({@code errorCode} null when it had no error) and ends its span with
   * the outcome, the error code and the bytes it moved.
   */
  protected void ended(String outcome, String errorCode) {
    deps.metrics().attemptEnded(task.type(), outcome, errorCode);
    endSpan(outcome, errorCode);
  }

  private void endSpan(String outcome, String errorCode) {
    if (spanEnded) {
      return;
    }
    spanEnded = true;
    span.setAttribute("transfer.outcome", outcome);
    span.setAttribute("transfer.bytes", movedInThisAttempt());
    if (errorCode != null) {
      span.setAttribute("transfer.error.code", errorCode);
      // Retries and hand-backs are the system working; failures and lost writes are errors.
      if (!WorkerMetrics.RETRY.equals(outcome)) {
        span.setStatus(StatusCode.ERROR, errorCode);
      }
    } else if (WorkerMetrics.UNRECORDED.equals(outcome)) {
      span.setStatus(StatusCode.ERROR, outcome);
    }
    span.end();
  }

  /** Bytes this attempt itself moved (a resumed download's copied prefix not included). */
  protected long movedInThisAttempt() {
    return transferred();
  }

  /** Cancels the attempt's periodic timers; subclasses cancel theirs, then call this. */
  protected void cancelTimers() {
    if (watchdogTimer >= 0) {
      deps.vertx().cancelTimer(watchdogTimer);
    }
    if (heartbeatTimer >= 0) {
      deps.vertx().cancelTimer(heartbeatTimer);
    }
    if (firstProgressTimer >= 0) {
      deps.vertx().cancelTimer(firstProgressTimer);
    }
  }

  /**
   * The longest a transfer's first progress event waits after the bytes start to move. A transfer
   * that ends sooner reports one progress event, with its completion (the first and the last in
   * one), instead of a heartbeat transaction and an event of its own: for a small file, that was a
   * quarter of its database work.
   */
  static final long FIRST_PROGRESS_DELAY_MS = 100;

  /**
   * Schedules the first progress event (with what the other side announced), unless it ends first.
   */
  protected void firstProgressSoon() {
    long delay =
        Math.max(1, Math.min(FIRST_PROGRESS_DELAY_MS, deps.heartbeatInterval().toMillis()));
    firstProgressTimer =
        deps.vertx()
            .setTimer(
                delay,
                id -> {
                  firstProgressTimer = -1;
                  if (lastEventBytes < 0) {
                    heartbeat();
                  }
                });
  }

  // ------------------------------------------------------------ the lease

  private void begin() {
    lastRenewed = deps.clock().instant();
    logf(
        Logger.Level.INFO,
        "task %s: claimed by %s, epoch %d, attempt %d of %d, %s %s",
        task.id(),
        deps.workerId(),
        epoch,
        task.attempt(),
        task.maxAttempts(),
        method(),
        Urls.redacted(task.url()));
    heartbeatTimer =
        deps.vertx().setPeriodic(deps.heartbeatInterval().toMillis(), id -> heartbeat());
    lastActivityNanos = System.nanoTime();
    long stallMillis = session.requestTimeout().toMillis();
    watchdogTimer =
        deps.vertx()
            .setPeriodic(
                Math.max(100, Math.min(1000, stallMillis / 4)), id -> watchdog(stallMillis));
    run();
  }

  /** Graceful stop: abort the transfer and queue the task again for another worker, at once. */
  Future<Void> handBack() {
    context.runOnContext(
        v -> {
          // Finishing: the completion is being committed; the caller waits for it instead (a
          // hand-back now would refuse that completion and throw the finished body away).
          if (done || finishing) {
            return;
          }
          done = true;
          stopIo();
          ended(WorkerMetrics.HANDED_BACK, null);
          logf(
              Logger.Level.INFO,
              "task %s: handing back (epoch %d) after %d bytes; this worker is stopping",
              task.id(),
              epoch,
              transferred());
          Leases.Checkpoint cp = handBackCheckpoint();
          blocking(() -> leases.release(lease, cp)).onComplete(ar -> finished.tryComplete());
        });
    return finished.future();
  }

  /** Renews the lease with the progress so far: at most one progress event per heartbeat. */
  protected void heartbeat() {
    if (done || finishing) {
      return;
    }
    // Judged at every tick, not only when a renewal fails: cut off from the database without a
    // reset (a network partition), the last renewal may never answer, and the attempt must still
    // stop before the reaper can give the task to another worker.
    long sinceRenewed = Duration.between(lastRenewed, deps.clock().instant()).toMillis();
    if (sinceRenewed > selfFenceMillis()) {
      fenced(
          "could not renew the lease for "
              + sinceRenewed
              + " ms"
              + (heartbeatInFlight ? ", the ledger has not answered the last renewal" : "")
              + " (self-fencing)",
          WorkerMetrics.NOT_RENEWED);
      return;
    }
    if (heartbeatInFlight) {
      return;
    }
    heartbeatInFlight = true;
    long total = transferred();
    boolean progress = total != lastEventBytes;
    long since = lastEventBytes < 0 ? total : total - lastEventBytes;
    Long expected = expectedBytes();
    Leases.Checkpoint cp = takeCheckpoint();
    Leases.Heartbeat hb = new Leases.Heartbeat(total, cp, expected, progress, since);
    // The lease runs from about when the renewal was sent, not from when its answer came back (a
    // slow answer must not stretch the time this attempt believes it has).
    Instant sent = deps.clock().instant();
    blocking(() -> leases.heartbeat(lease, deps.leaseTtl(), hb))
        .onComplete(
            ar -> {
              heartbeatInFlight = false;
              if (ar.succeeded() && ar.result()) {
                lastRenewed = sent;
                if (progress) {
                  lastEventBytes = total;
                }
                if (cp != null) {
                  checkpointRecorded(cp);
                }
              } else if (ar.succeeded()) {
                if (!finishing) {
                  fenced(
                      "the task was suspended, canceled or taken over by another worker",
                      WorkerMetrics.SUPERSEDED);
                }
              } else {
                if (cp != null) {
                  checkpointNotRecorded(cp);
                }
                Duration since0 = Duration.between(lastRenewed, deps.clock().instant());
                logf(
                    Logger.Level.WARN,
                    "task %s: cannot renew lease (%s); last renewed %d ms ago",
                    task.id(),
                    ar.cause().getMessage(),
                    since0.toMillis());
                if (since0.toMillis() > selfFenceMillis() && !finishing) {
                  fenced(
                      "could not renew the lease for " + since0.toMillis() + " ms (self-fencing)",
                      WorkerMetrics.NOT_RENEWED);
                }
              }
            });
  }

  /**
   * Logs a line about this attempt's task with its ids in the MDC ({@code taskId}, {@code
   * sessionId}, {@code tenant}, {@code epoch}, and the attempt span's {@code traceId} and {@code
   * spanId}), which JSON logs carry as fields. Set and cleared around the one call, on the calling
   * thread: attempts share event-loop threads.
   */
  protected void logf(Logger.Level level, String format, Object... args) {
    MDC.put("epoch", epoch);
    try (LogFields f =
        LogFields.of(
            task.id(),
            task.sessionId(),
            task.tenantId(),
            TraceContexts.traceId(span),
            TraceContexts.spanId(span))) {
      Log.logf(level, format, args);
    } finally {
      MDC.remove("epoch");
    }
  }

  /** How long without a renewal before the attempt stops by itself. */
  private long selfFenceMillis() {
    return (long) (deps.leaseTtl().toMillis() * deps.selfFenceFraction());
  }

  /**
   * Another worker owns the task (or we could not prove we still do): stop without writing. {@code
   * reason} is the lease-lost label: {@link WorkerMetrics#SUPERSEDED} or {@link
   * WorkerMetrics#NOT_RENEWED}.
   */
  protected void fenced(String why, String reason) {
    if (done) {
      return;
    }
    done = true;
    stopIo();
    deps.metrics().leaseLost(reason);
    ended(WorkerMetrics.FENCED, null);
    // Whatever the attempt stored stays: the attempt that superseded us may be resuming from it.
    logf(
        Logger.Level.WARN,
        "task %s: epoch %d stopped: %s; nothing more is written",
        task.id(),
        epoch,
        why);
    finished.tryComplete();
  }

  protected void fail(TaskError error) {
    fail(error, null);
  }

  /** Records the attempt as failed (retried after a backoff, or final) under the fence. */
  protected void fail(TaskError error, Duration retryAfter) {
    if (done || finishing) {
      return;
    }
    done = true;
    stopIo();
    Duration backoff = Failures.backoff(session.retry(), task.attempt(), retryAfter);
    blocking(
            () -> {
              FailOutcome outcome = leases.failAttempt(lease, error, backoff);
              failureRecorded(outcome);
              return outcome;
            })
        .onComplete(
            ar -> {
              countFailure(ar.failed() ? null : ar.result(), error.code());
              if (ar.failed()) {
                logf(
                    Logger.Level.ERROR,
                    "task %s: attempt %d failed (%s: %s) and the ledger could not record it (%s);"
                        + " the lease will expire and the reaper retries it",
                    task.id(),
                    task.attempt(),
                    error.code(),
                    error.message(),
                    ar.cause().getMessage());
              } else if (ar.result() == FailOutcome.RETRY_SCHEDULED) {
                logf(
                    Logger.Level.INFO,
                    "task %s: attempt %d failed (%s: %s); retrying in %d ms",
                    task.id(),
                    task.attempt(),
                    error.code(),
                    error.message(),
                    backoff.toMillis());
              } else if (ar.result() == FailOutcome.FAILED
                  || ar.result() == FailOutcome.FAILED_RESUMABLE) {
                logf(
                    Logger.Level.INFO,
                    "task %s: failed for good after attempt %d (%s: %s)",
                    task.id(),
                    task.attempt(),
                    error.code(),
                    error.message());
              } else {
                logf(
                    Logger.Level.WARN,
                    "task %s: attempt %d failed (%s) but epoch %d was superseded; not recorded",
                    task.id(),
                    task.attempt(),
                    error.code(),
                    epoch);
              }
              finished.tryComplete();
            });
  }

  /** Counts a failed attempt by what the ledger made of it (null: it could not be asked). */
  private void countFailure(FailOutcome outcome, String errorCode) {
    if (outcome == null) {
      ended(WorkerMetrics.UNRECORDED, errorCode);
    } else if (outcome == FailOutcome.RETRY_SCHEDULED) {
      ended(WorkerMetrics.RETRY, errorCode);
    } else if (outcome == FailOutcome.FENCED) {
      deps.metrics().leaseLost(WorkerMetrics.SUPERSEDED);
      ended(WorkerMetrics.FENCED, errorCode);
    } else {
      ended(WorkerMetrics.FAILED, errorCode);
    }
  }

  /** The completion's fenced commit answered {@code committed}: counts the attempt's end. */
  protected void countCompletion(boolean committed) {
    if (committed) {
      ended(WorkerMetrics.COMPLETED, null);
    } else {
      deps.metrics().leaseLost(WorkerMetrics.SUPERSEDED);
      ended(WorkerMetrics.FENCED, null);
    }
  }

  /**
   * A stalled exchange: nothing from the other side for {@code requestTimeout} while we wanted it.
   */
  private void watchdog(long stallMillis) {
    if (done || finishing || waitingOnOurselves()) {
      return;
    }
    long quietMillis = (System.nanoTime() - lastActivityNanos) / 1_000_000;
    if (quietMillis >= stallMillis) {
      fail(stallError());
    }
  }

  // ------------------------------------------------------------ helpers

  /** Session headers first, the task's own on top (URLSession's httpAdditionalHeaders). */
  protected RequestOptions withHeaders(RequestOptions o, Egress.Route route) {
    if (!RedirectDecision.carriesCallerHeaders(task.url(), route.url())) {
      return o;
    }
    for (Map.Entry<String, String> h : session.headers().entrySet()) {
      o.putHeader(h.getKey(), h.getValue());
    }
    if (task.request().headers() != null) {
      for (Map.Entry<String, String> h : task.request().headers().entrySet()) {
        o.putHeader(h.getKey(), h.getValue());
      }
    }
    return o;
  }

  /** The task error for a route the guard did not give. */
  protected TaskError egressError(Throwable e) {
    return e instanceof Egress.Refused r
        ? r.error()
        : Failures.ofConnection(e, session.requestTimeout());
  }

  protected static TaskError storageError(Throwable e) {
    return TaskError.of(ErrorCodes.STORAGE_FAILED, "storage: " + e.getMessage(), true);
  }

  /** The digest every attempt computes over the bytes it moves. */
  protected static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  protected <T> Future<T> blocking(Callable<T> work) {
    return deps.vertx().executeBlocking(work, false);
  }
}
