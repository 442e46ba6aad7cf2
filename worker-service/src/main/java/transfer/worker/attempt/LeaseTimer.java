package transfer.worker.attempt;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jboss.logging.Logger;
import transfer.ledger.Leases;
import transfer.worker.WorkerMetrics;
import transfer.worker.storage.LeaseGate;

/**
 * Keeps an attempt's lease: renews it every {@code heartbeat-interval} with the progress so far and
 * the checkpoint to record, and ends the attempt when the lease is lost (a renewal that touched no
 * row) or could not be renewed for {@code self-fence-fraction} of {@code lease-ttl} (by then the
 * reaper may have given the task to someone else). The time since the last renewal is judged at
 * every tick, not only when a renewal fails: cut off from the database without a reset (a network
 * partition), the last renewal may never answer, and the attempt must still stop. DESIGN.md,
 * "Leases and fencing".
 */
final class LeaseTimer {
  /** How the worker's attempts hold their leases. */
  record Terms(Duration ttl, Duration heartbeatInterval, double selfFenceFraction) {
    /** How long without a renewal before an attempt stops by itself. */
    long selfFenceMillis() {
      return (long) (ttl.toMillis() * selfFenceFraction);
    }
  }

  /**
   * The longest a transfer's first progress event waits after the bytes start to move. A transfer
   * that ends sooner reports one progress event, with its completion (the first and the last in
   * one), instead of a heartbeat transaction and an event of its own: for a small file, that was a
   * quarter of its database work.
   */
  static final long FIRST_PROGRESS_DELAY_MS = 100;

  private final Attempt attempt;
  private final Terms terms;
  private final Clock clock;
  private final Progress progress;

  private Instant lastRenewed;
  private boolean inFlight;
  private long periodic = -1;
  private long firstProgress = -1;

  LeaseTimer(Attempt attempt, Terms terms, Clock clock, Progress progress) {
    this.attempt = attempt;
    this.terms = terms;
    this.clock = clock;
    this.progress = progress;
  }

  /** The claim renewed the lease just now; heartbeats follow every interval. */
  void start() {
    lastRenewed = clock.instant();
    periodic = attempt.scheduler().every(terms.heartbeatInterval().toMillis(), this::renew);
  }

  /**
   * Schedules the first progress event (with what the other side announced), unless it ends first.
   */
  void firstProgressSoon() {
    long delay =
        Math.max(1, Math.min(FIRST_PROGRESS_DELAY_MS, terms.heartbeatInterval().toMillis()));
    firstProgress =
        attempt
            .scheduler()
            .after(
                delay,
                () -> {
                  firstProgress = -1;
                  if (!progress.reported()) {
                    renew();
                  }
                });
  }

  /**
   * Renews at once rather than at the next interval (which it still is when a renewal is in flight
   * now): for what a later attempt needs soon, such as a resumable upload's resource.
   */
  void renewSoon() {
    attempt.scheduler().after(1, this::renew);
  }

  void stop() {
    attempt.scheduler().cancel(periodic);
    attempt.scheduler().cancel(firstProgress);
  }

  /**
   * A gate for a storage thread (blocking): renews the lease once more, without a progress event,
   * and passes when the ledger renewed it within the self-fence time, so that the step after it
   * runs inside a lease that has just begun. The heartbeats have stopped by then: the attempt is
   * finishing.
   */
  LeaseGate gate() {
    return () -> {
      CompletableFuture<Boolean> renewed = new CompletableFuture<>();
      attempt
          .scheduler()
          .run(
              () -> {
                Transfer transfer = attempt.transfer();
                Leases.Heartbeat hb =
                    new Leases.Heartbeat(
                        transfer.moved(), null, transfer.expectedBytes(), false, 0, null);
                attempt
                    .leases()
                    .heartbeat(attempt.lease(), terms.ttl(), hb)
                    .onComplete(
                        ar -> {
                          if (ar.succeeded()) {
                            renewed.complete(ar.result());
                          } else {
                            renewed.completeExceptionally(ar.cause());
                          }
                        });
              });
      boolean held;
      try {
        held = renewed.get(terms.selfFenceMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        throw new LeaseGate.LeaseLapsed(
            "the ledger did not renew the lease within " + terms.selfFenceMillis() + " ms");
      } catch (ExecutionException e) {
        throw new LeaseGate.LeaseLapsed(
            "could not renew the lease (" + e.getCause().getMessage() + ")");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new LeaseGate.LeaseLapsed("interrupted while renewing the lease");
      }
      if (!held) {
        throw new LeaseGate.LeaseLapsed(
            "the task was suspended, canceled or taken over by another worker");
      }
    };
  }

  /** Renews the lease with the progress so far: at most one progress event per heartbeat. */
  private void renew() {
    if (!attempt.running()) {
      return;
    }
    long sinceRenewed = Duration.between(lastRenewed, clock.instant()).toMillis();
    if (sinceRenewed > terms.selfFenceMillis()) {
      attempt.lost(
          "could not renew the lease for "
              + sinceRenewed
              + " ms"
              + (inFlight ? ", the ledger has not answered the last renewal" : "")
              + " (self-fencing)",
          WorkerMetrics.NOT_RENEWED);
      return;
    }
    if (inFlight) {
      return;
    }
    inFlight = true;
    Transfer transfer = attempt.transfer();
    Checkpoints checkpoints = transfer.checkpoints();
    long total = transfer.moved();
    Long expected = transfer.expectedBytes();
    Leases.Heartbeat hb = progress.heartbeat(total, expected, checkpoints.take());
    Leases.Checkpoint cp = hb.checkpoint();
    // The lease runs from about when the renewal was sent, not from when its answer came back (a
    // slow answer must not stretch the time this attempt believes it has).
    Instant sent = clock.instant();
    attempt
        .leases()
        .heartbeat(attempt.lease(), terms.ttl(), hb)
        .onComplete(
            ar -> {
              inFlight = false;
              if (ar.succeeded() && ar.result()) {
                lastRenewed = sent;
                progress.recorded(hb);
                if (cp != null) {
                  checkpoints.recorded(cp);
                }
              } else if (ar.succeeded()) {
                attempt.lost(
                    "the task was suspended, canceled or taken over by another worker",
                    WorkerMetrics.SUPERSEDED);
              } else {
                if (cp != null) {
                  checkpoints.notRecorded(cp);
                }
                long since = Duration.between(lastRenewed, clock.instant()).toMillis();
                attempt
                    .telemetry()
                    .logf(
                        Logger.Level.WARN,
                        "task %s: cannot renew lease (%s); last renewed %d ms ago",
                        attempt.task().id(),
                        ar.cause().getMessage(),
                        since);
                if (since > terms.selfFenceMillis()) {
                  attempt.lost(
                      "could not renew the lease for " + since + " ms (self-fencing)",
                      WorkerMetrics.NOT_RENEWED);
                }
              }
            });
  }
}
