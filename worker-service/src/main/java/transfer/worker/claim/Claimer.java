package transfer.worker.claim;

import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;
import transfer.ledger.Claim;
import transfer.ledger.Claims;
import transfer.ledger.FairShares;
import transfer.worker.WorkerMetrics;
import transfer.worker.attempt.Slots;

/**
 * Claims tasks for reserved slots and starts their attempts. The doorbells of one poll are claimed
 * for in one ledger transaction ({@code Claims.claimNext}: the best tasks the worker may start now,
 * in priority order within the sessions' limits, not necessarily the ones the doorbells name). A
 * slot freed by a finished transfer claims at once, without a doorbell, on a thread of its own
 * ({@code slot-claimer}), so the consumer's thread never waits for it, nor it for a poll. A
 * doorbell of a session that had nothing claimable at the last claim is parked ({@link
 * ParkedDoorbells}), not claimed for by itself. A worker with a free slot that has not claimed for
 * {@code transfer.worker.idle-poll} claims on the same thread without a doorbell, so tasks whose
 * doorbells are lost or late (Kafka unreachable from this worker, or from the api-service) start
 * anyway. While every slot is taken, the same thread checks the tenants' fair shares ({@link
 * FairShareCheck}).
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
  private final Duration parkedRetry;
  private final Duration idlePoll;
  private final Duration fairShareCheckEvery;
  private final FairShareCheck fairShareCheck;

  /** When this worker last asked the ledger for tasks ({@link System#nanoTime()}). */
  private volatile long lastClaimNanos = System.nanoTime();

  private final ParkedDoorbells parking = new ParkedDoorbells();

  private volatile boolean running;
  private final AtomicBoolean slotFreed = new AtomicBoolean();
  private final ScheduledExecutorService slotClaimer =
      Executors.newSingleThreadScheduledExecutor(
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
      Duration leaseTtl,
      Duration parkedRetry,
      Duration idlePoll,
      FairShares fairShares,
      Duration fairShareCheckEvery) {
    this.claims = claims;
    this.slots = slots;
    this.metrics = metrics;
    this.tracer = tracer;
    this.workerId = workerId;
    this.leaseTtl = leaseTtl;
    this.parkedRetry = parkedRetry;
    this.idlePoll = idlePoll;
    this.fairShareCheckEvery = fairShareCheckEvery;
    this.fairShareCheck = new FairShareCheck(fairShares, slots, workerId, fairShareCheckEvery);
    metrics.parkedDoorbells(parking::parked);
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
    long tick = Math.max(250, idlePoll.toMillis() / 4);
    slotClaimer.scheduleWithFixedDelay(this::pollIfIdle, tick, tick, TimeUnit.MILLISECONDS);
    if (!fairShareCheckEvery.isZero() && !fairShareCheckEvery.isNegative()) {
      long every = fairShareCheckEvery.toMillis();
      slotClaimer.scheduleWithFixedDelay(
          () -> {
            if (running) {
              fairShareCheck.run();
            }
          },
          every,
          every,
          TimeUnit.MILLISECONDS);
    }
  }

  /**
   * The idle poll: when this worker has a free slot and has not asked the ledger for {@code
   * idlePoll}, one claim for every free slot, without a doorbell.
   */
  private void pollIfIdle() {
    if (!running
        || System.nanoTime() - lastClaimNanos < idlePoll.toNanos()
        || slots.freeSlots() <= 0) {
      return;
    }
    int claimed = claimEveryFreeSlot();
    if (claimed > 0) {
      LOG.infof(
          "idle poll: claimed %d task(s) no doorbell had announced within %s (doorbells late or"
              + " lost: is Kafka reachable from this worker and from the api-service?)",
          claimed, idlePoll);
    }
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
   * only says that work exists), starts them, and frees the slots left over. Answers what it found
   * ({@link Result}); when the ledger could not be asked, the slots are freed too.
   */
  Result claimReserved(int reserved, List<ClaimSpans.Bell> bells) {
    int claimed = claim(reserved, bells);
    return claimed < 0 ? Result.FAILED : claimed < reserved ? Result.SHORT : Result.FULL;
  }

  /** {@link #claimReserved}, answering how many tasks it claimed (-1: the ledger failed). */
  private int claim(int reserved, List<ClaimSpans.Bell> bells) {
    lastClaimNanos = System.nanoTime();
    List<Claim> claimed;
    Claims.Claimed result;
    try {
      List<String> named = bells.stream().map(ClaimSpans.Bell::taskId).toList();
      result = metrics.claim().record(() -> claims.claimFor(workerId, leaseTtl, reserved, named));
      claimed = result.claims();
    } catch (RuntimeException e) {
      for (int i = 0; i < reserved; i++) {
        slots.unreserve();
      }
      LOG.warnf(
          "cannot claim tasks (%s); the doorbells are read again at the next poll", e.getMessage());
      return -1;
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
      // Nothing else was claimable: the sessions of the named tasks still queued are at a limit;
      // their next doorbells wait for a freed slot.
      Set<String> unclaimed = new HashSet<>();
      for (ClaimSpans.Bell b : bells) {
        if (result.passedOver().contains(b.taskId())) {
          unclaimed.add(b.sessionId());
        }
      }
      parking.block(unclaimed);
      LOG.debugf(
          "%d doorbell(s) found nothing claimable (taken already, or a session or host at its"
              + " limit: such a task is claimed when a slot of its session frees up)",
          reserved - claimed.size());
    }
    return claimed.size();
  }

  /**
   * Parks a doorbell of {@code sessionId} when that session had nothing claimable at the last
   * claim: true when parked (it needs no slot and no claim now; one claim for the parked doorbells
   * runs at the next freed slot or after {@code transfer.worker.parked-doorbell-retry}).
   */
  boolean park(String sessionId) {
    ParkedDoorbells.Parked p = parking.park(sessionId);
    if (p == ParkedDoorbells.Parked.FIRST && running) {
      try {
        slotClaimer.schedule(this::claimParked, parkedRetry.toMillis(), TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException stopping) {
        // stopping: the tasks stay queued in the ledger
      }
    }
    return p != ParkedDoorbells.Parked.NO;
  }

  /**
   * The retry of parked doorbells: one claim for as many of them as there are free slots. If it
   * comes up short, their sessions are still at their limits and stay blocked.
   */
  private void claimParked() {
    if (!running) {
      return;
    }
    ParkedDoorbells.Released released = parking.release();
    int reserved = 0;
    while (reserved < released.parked() && slots.tryReserve()) {
      reserved++;
    }
    if (reserved > 0 && claimReserved(reserved, List.of()) == Result.SHORT) {
      parking.block(released.sessions());
    }
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
    claimEveryFreeSlot();
  }

  /**
   * One claim for every free slot, without a doorbell; answers how many tasks it claimed. The
   * limits may have moved: the blocked sessions are tried again by this claim, which is for every
   * free slot, and so for the parked doorbells too.
   */
  private int claimEveryFreeSlot() {
    ParkedDoorbells.Released released = parking.release();
    int reserved = 0;
    while (slots.tryReserve()) {
      reserved++;
    }
    if (reserved == 0) {
      return 0;
    }
    int claimed = claim(reserved, List.of());
    if (claimed >= 0 && claimed < reserved) {
      parking.block(released.sessions());
    }
    return Math.max(0, claimed);
  }

  /** What a claim for reserved slots found. */
  enum Result {
    /** Every reserved slot got a task. */
    FULL,
    /** Fewer tasks than slots: nothing else was claimable. */
    SHORT,
    /** The ledger could not be asked; the slots were freed. */
    FAILED
  }
}
