package transfer.worker.attempt;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.time.Clock;
import java.time.Duration;
import java.util.function.Function;
import org.jboss.logging.Logger;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;
import transfer.contracts.WaitReasons;
import transfer.ledger.Claim;
import transfer.ledger.Lease;
import transfer.ledger.Leases;
import transfer.ledger.TaskRow;
import transfer.worker.storage.LeaseGate;

/**
 * One attempt of one task, from its claim to its end, and the one place that end is decided and
 * recorded. Its life is a {@link Life}: it runs, may finish (the completion being committed), and
 * ends exactly once, whatever ends it first (its completion, a failure, a stall, a lost lease, a
 * hand-back), through one {@link Outcome}: the end's ledger write, then the outcome counted, its
 * span ended, one log line, and {@link #finished()} completed.
 *
 * <p>Its parts: the {@link Transfer} moves the bytes (a download or an upload), the {@link
 * LeaseTimer} keeps the lease, the {@link StallWatchdog} watches the other side, {@link Progress}
 * remembers what was reported, the {@link Connection} is its request in flight, and {@link
 * AttemptTelemetry} holds the span, the metrics and the log fields. Everything runs on the
 * attempt's {@link Scheduler} context, one thread at a time, so no field needs a lock; ledger
 * writes go through a {@link LeaseWriter}. See DESIGN.md, "The attempt".
 */
final class Attempt {
  private final TaskRow task;
  private final long epoch;
  private final SessionConfig session;
  private final Lease lease;
  private final LeaseWriter leases;
  private final Scheduler scheduler;
  private final AttemptTelemetry telemetry;
  private final Connection connection;
  private final AttemptMetrics taskMetrics;
  private final Progress progress = new Progress();
  private final StallWatchdog watchdog;
  private final LeaseTimer leaseTimer;
  private final Transfer transfer;
  private final Promise<Void> finished = Promise.promise();

  private Life life = Life.RUNNING;

  /**
   * @param transfer makes what moves this attempt's bytes, given the attempt
   */
  Attempt(
      Claim claim,
      Scheduler scheduler,
      LeaseWriter leases,
      LeaseTimer.Terms terms,
      Clock clock,
      AttemptTelemetry telemetry,
      Function<Attempt, Transfer> transfer) {
    this.task = claim.task();
    this.epoch = claim.epoch();
    this.session = claim.session();
    this.scheduler = scheduler;
    this.leases = leases;
    this.telemetry = telemetry;
    this.taskMetrics = new AttemptMetrics(scheduler, clock, task.attempt());
    this.connection = new Connection(telemetry.metrics(), taskMetrics);
    // Every write names the claim's epoch; its events carry the attempt's trace context.
    this.lease = claim.lease().withTrace(telemetry.traceContext());
    this.transfer = transfer.apply(this);
    this.watchdog =
        new StallWatchdog(
            scheduler,
            session.requestTimeout(),
            () -> life == Life.RUNNING,
            // A quiet while the transfer waits on our own storage is not the other side's.
            () -> this.transfer.waitingOnOurselves(),
            () -> fail(this.transfer.stallError()),
            () -> fail(this.transfer.ownStallError(session.requestTimeout())));
    this.leaseTimer = new LeaseTimer(this, terms, clock, progress);
  }

  /**
   * Starts the attempt on its context: its first log line, the lease timer, the watchdog, then the
   * bytes.
   */
  void start() {
    // Whichever way the attempt ended, its host is no longer in use and its span is over.
    finished
        .future()
        .onComplete(
            ar -> {
              connection.done();
              telemetry.close(transfer.movedInThisAttempt());
            });
    scheduler.run(this::begin);
  }

  private void begin() {
    if (life != Life.RUNNING) {
      return; // handed back before it began
    }
    telemetry.logf(
        Logger.Level.INFO,
        "task %s: claimed by %s, epoch %d, attempt %d of %d, %s %s",
        task.id(),
        telemetry.workerId(),
        epoch,
        task.attempt(),
        task.maxAttempts(),
        transfer.method(),
        Urls.redacted(task.url()));
    leaseTimer.start();
    watchdog.start();
    transfer.start();
  }

  // ------------------------------------------------------------ what its parts see

  TaskRow task() {
    return task;
  }

  String taskId() {
    return task.id();
  }

  long epoch() {
    return epoch;
  }

  SessionConfig session() {
    return session;
  }

  /** What this attempt's writes name: the task, the epoch of its claim, its trace context. */
  Lease lease() {
    return lease;
  }

  LeaseWriter leases() {
    return leases;
  }

  Scheduler scheduler() {
    return scheduler;
  }

  AttemptTelemetry telemetry() {
    return telemetry;
  }

  Connection connection() {
    return connection;
  }

  /** What this attempt's exchange costs on the wire, for its completion event. */
  AttemptMetrics taskMetrics() {
    return taskMetrics;
  }

  StallWatchdog watchdog() {
    return watchdog;
  }

  Transfer transfer() {
    return transfer;
  }

  /** Where the attempt is in its life. */
  Life life() {
    return life;
  }

  /** True while the attempt moves bytes: not finishing, and its end not decided. */
  boolean running() {
    return life == Life.RUNNING;
  }

  /** True once the attempt's end is decided: nothing more may be started. */
  boolean over() {
    return life == Life.ENDING || life == Life.ENDED;
  }

  /** Completes when the attempt has ended and written (or been fenced from writing) its outcome. */
  Future<Void> finished() {
    return finished.future();
  }

  /**
   * The first progress event goes soon (with what the other side announced), unless it ends first.
   */
  void firstProgressSoon() {
    leaseTimer.firstProgressSoon();
  }

  // ------------------------------------------------------------ how it ends

  /**
   * Graceful stop: the transfer aborted and the task queued again for another worker, at once, with
   * the checkpoint. An attempt that is finishing is not handed back: its completion is being
   * committed, and the caller waits for it instead (a hand-back now would refuse that completion
   * and throw the finished body away).
   */
  Future<Void> handBack() {
    return handBack("this worker is stopping");
  }

  /** {@link #handBack()}, for the reason {@code why} (for the log). */
  Future<Void> handBack(String why) {
    scheduler.run(
        () -> {
          if (!move(Life.RUNNING, Life.ENDING)) {
            return;
          }
          stopIo();
          Leases.Checkpoint cp = transfer.checkpoints().handBack();
          leases
              .release(lease, cp)
              .onComplete(ar -> end(new Outcome.HandedBack(epoch, transfer.moved(), why)));
        });
    return finished.future();
  }

  /**
   * Another worker owns the task (or this attempt cannot prove it still does): stop at once,
   * without writing. Whatever the attempt stored stays: the attempt that superseded it may be
   * resuming from it. {@code reason} is the lease-lost label ({@link
   * transfer.worker.WorkerMetrics#SUPERSEDED}, {@link transfer.worker.WorkerMetrics#NOT_RENEWED}).
   * Ignored unless the attempt runs.
   */
  void lost(String why, String reason) {
    if (!move(Life.RUNNING, Life.ENDING)) {
      return;
    }
    stopIo();
    end(Outcome.Fenced.leaseLost(epoch, why, reason));
  }

  void fail(TaskError error) {
    fail(error, null);
  }

  /** The transfer continues stored bytes from {@code offset} (a {@code transfer.task.resumed}). */
  void resumedAt(long offset) {
    progress.resumedAt(offset);
  }

  /**
   * A resumable upload's target created this resource: a heartbeat records it at once, so that a
   * later attempt on any worker continues there.
   */
  void uploadResource(String url) {
    progress.uploadResource(url);
    leaseTimer.renewSoon();
  }

  /** A resumption no heartbeat has announced yet, for the completion to announce; or null. */
  Long unannouncedResumption() {
    return progress.unannouncedResumption();
  }

  /**
   * Records the attempt as failed under the fence: retried after a backoff (not before {@code
   * retryAfter}, when the other side said), or final. Ignored unless the attempt runs: an error
   * after its end was decided, or while its completion is committed, changes nothing.
   */
  void fail(TaskError error, Duration retryAfter) {
    if (move(Life.RUNNING, Life.ENDING)) {
      writeFailure(error, retryAfter);
    }
  }

  /**
   * The bytes are all moved: from now on only the completion ends the attempt ({@link #complete},
   * or {@link #finishFailed}). The lease timer and the watchdog stop, and the exchange's connection
   * goes back to the pool. False when the attempt was not running.
   */
  boolean finishing() {
    if (!move(Life.RUNNING, Life.FINISHING)) {
      return false;
    }
    leaseTimer.stop();
    watchdog.stop();
    connection.done();
    return true;
  }

  /** A gate that renews the lease once more before a body becomes visible where it was named. */
  LeaseGate leaseGate() {
    return leaseTimer.gate();
  }

  /**
   * The completion could not be made (storage, a digest, the ledger): the attempt fails instead.
   */
  void finishFailed(TaskError error) {
    if (move(Life.FINISHING, Life.ENDING)) {
      writeFailure(error, null);
    }
  }

  /** A completion's fenced ledger write: {@link Outcome.Completed}, or {@link Outcome.Fenced}. */
  @FunctionalInterface
  interface Commit {
    /**
     * Writes the completion; {@code bytesSinceLastEvent} is what its last progress event adds to
     * the ones reported before.
     */
    Future<Outcome> write(long bytesSinceLastEvent);
  }

  /**
   * Commits the completion of a finishing attempt. When the commit itself fails (the ledger or the
   * storage), the attempt fails with {@code storage_failed} and is retried.
   */
  void complete(Commit commit) {
    if (life != Life.FINISHING) {
      return;
    }
    Future<Outcome> written;
    try {
      written = commit.write(progress.sinceLastEvent(transfer.moved()));
    } catch (RuntimeException e) {
      written = Future.failedFuture(e);
    }
    written.onComplete(
        ar -> {
          if (ar.failed()) {
            finishFailed(Failures.ofStorage(ar.cause()));
          } else {
            end(ar.result());
          }
        });
  }

  private void writeFailure(TaskError failure, Duration retryAfter) {
    stopIo();
    TaskError error = Failures.credentialsRequired(failure, session);
    Duration backoff = Failures.backoff(session.retry(), task.attempt(), retryAfter);
    // A fault of the way to the origin (when the session waits for connectivity) or of our own
    // storage does not use up one of the task's attempts: it waits, until its deadline.
    String waitReason = WaitReasons.uncounted(error, session.waits());
    leases
        .failAttempt(lease, error, backoff, waitReason)
        .compose(recorded -> transfer.checkpoints().afterFailure(recorded).map(recorded))
        .onComplete(
            ar ->
                end(
                    ar.failed()
                        ? new Outcome.Unrecorded(task.attempt(), error, ar.cause().getMessage())
                        : Outcome.ofFailure(ar.result(), task.attempt(), error, backoff, epoch)));
  }

  /**
   * Records the attempt's end, once: counted by its outcome, its span ended, its last log line;
   * then {@link #finished()} completes and the slot is free.
   */
  private void end(Outcome outcome) {
    if (!move(life, Life.ENDED)) {
      return;
    }
    telemetry.ended(outcome, transfer.movedInThisAttempt());
    telemetry.logf(outcome.level(), "task %s: %s", task.id(), outcome.line());
    finished.tryComplete();
  }

  /** Stops every timer and I/O of the attempt. */
  private void stopIo() {
    leaseTimer.stop();
    watchdog.stop();
    connection.reset();
    transfer.stop();
  }

  /**
   * Moves from {@code from} to {@code to}; false (and nothing changes) if it is not at {@code
   * from}.
   */
  private boolean move(Life from, Life to) {
    if (life != from || !from.mayBecome(to)) {
      return false;
    }
    life = to;
    return true;
  }
}
