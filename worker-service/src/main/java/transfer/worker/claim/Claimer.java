package transfer.worker.claim;

import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;
import transfer.ledger.Claim;
import transfer.ledger.Claims;
import transfer.worker.WorkerMetrics;
import transfer.worker.attempt.Slots;

/**
 * Claims tasks for reserved slots and starts their attempts. The doorbells of one poll are claimed
 * for in one ledger transaction ({@code Claims.claimNext}: the best tasks the worker may start now,
 * in priority order within the sessions' limits, not necessarily the ones the doorbells name). A
 * slot freed by a finished transfer claims at once, without a doorbell, on a thread of its own
 * ({@code slot-claimer}), so the consumer's thread never waits for it, nor it for a poll.
 */
final class Claimer {
  /** Its lines are the doorbell consumer's, whose part it is. */
  private static final Logger LOG = Logger.getLogger(DoorbellConsumer.class);

  private final Claims claims;
  private final Slots slots;
  private final WorkerMetrics metrics;
  private final Tracer tracer;
  private final String workerId;
  private final Duration leaseTtl;

  private volatile boolean running;
  private final AtomicBoolean slotFreed = new AtomicBoolean();
  private final ExecutorService slotClaimer =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "slot-claimer");
            t.setDaemon(true);
            return t;
          });

  Claimer(
      Claims claims,
      Slots slots,
      WorkerMetrics metrics,
      Tracer tracer,
      String workerId,
      Duration leaseTtl) {
    this.claims = claims;
    this.slots = slots;
    this.metrics = metrics;
    this.tracer = tracer;
    this.workerId = workerId;
    this.leaseTtl = leaseTtl;
  }

  /** From now on, each slot a finished transfer frees claims at once. */
  void start() {
    running = true;
    slots.onSlotFreed(
        () -> {
          if (running && slotFreed.compareAndSet(false, true)) {
            try {
              slotClaimer.execute(this::claimFreedSlots);
            } catch (RejectedExecutionException stopping) {
              slotFreed.set(false);
            }
          }
        });
  }

  /** No more claims for freed slots (a graceful stop). */
  void stop() {
    running = false;
    slotClaimer.shutdown();
  }

  /** Waits (bounded) for a freed-slot claim under way. */
  void awaitStopped() throws InterruptedException {
    slotClaimer.awaitTermination(10, TimeUnit.SECONDS);
  }

  /**
   * Claims the best tasks for {@code reserved} reserved slots in one ledger transaction (a doorbell
   * only says that work exists), starts them, and frees the slots left over. False when the ledger
   * could not be asked; the slots are then freed too.
   */
  boolean claimReserved(int reserved, List<ClaimSpans.Bell> bells) {
    List<Claim> claimed;
    try {
      claimed = metrics.claim().record(() -> claims.claimNext(workerId, leaseTtl, reserved));
    } catch (RuntimeException e) {
      for (int i = 0; i < reserved; i++) {
        slots.unreserve();
      }
      LOG.warnf(
          "cannot claim tasks (%s); the doorbells are read again at the next poll", e.getMessage());
      return false;
    }
    // The doorbells' spans, and each attempt's parent (README, Traces).
    Map<Claim, Context> parents = ClaimSpans.afterClaim(tracer, bells, claimed);
    for (Claim claim : claimed) {
      slots.start(claim, parents.get(claim));
    }
    for (int i = claimed.size(); i < reserved; i++) {
      slots.unreserve();
    }
    if (claimed.size() < reserved) {
      LOG.debugf(
          "%d doorbell(s) found nothing claimable (taken already, or a session or host at its"
              + " limit: such a task is claimed when a slot of its session frees up)",
          reserved - claimed.size());
    }
    return true;
  }

  /**
   * After a transfer ended on this worker, its freed slot takes the best claimable task at once,
   * with no doorbell: in particular a task passed over while its session or host was at the limit
   * that this transfer just freed.
   */
  private void claimFreedSlots() {
    slotFreed.set(false);
    if (!running) {
      return;
    }
    int reserved = 0;
    while (slots.tryReserve()) {
      reserved++;
    }
    if (reserved > 0) {
      claimReserved(reserved, List.of());
    }
  }
}
