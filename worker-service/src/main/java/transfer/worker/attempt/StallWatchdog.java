package transfer.worker.attempt;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Ends an exchange that went quiet: nothing from the other side for the session's {@code
 * requestTimeout} while the attempt wanted it. Whatever moves bytes {@link #touch touches} it. A
 * quiet that is our own doing (our storage is slow to take the bytes) is not the other side's
 * stall, but it is bounded the same way: waiting on ourselves for {@code requestTimeout} in one
 * spell (a hung or full volume) ends the attempt too, with our own error, so that no attempt holds
 * its slot and renews its lease for days on a volume that never answers. Looks every quarter of the
 * timeout, between 0.1 and 1 s.
 */
final class StallWatchdog {
  private final Scheduler scheduler;
  private final long stallMillis;
  private final BooleanSupplier running;
  private final BooleanSupplier waitingOnOurselves;
  private final Runnable stalled;
  private final Runnable stuckOnOurselves;

  /** When the other side last moved bytes, or we last stopped waiting on our own storage. */
  private long lastActivityNanos;

  /** When the current spell of waiting on ourselves began; -1 when there is none. */
  private long ownWaitSinceNanos = -1;

  private long timer = -1;

  /**
   * @param running whether the attempt still runs (a quiet after its end counts for nothing)
   * @param waitingOnOurselves whether the attempt now waits on itself (its storage), not the other
   *     side
   * @param stalled what to do once the other side's quiet reached {@code requestTimeout}
   * @param stuckOnOurselves what to do once one spell of waiting on ourselves reached it
   */
  StallWatchdog(
      Scheduler scheduler,
      Duration requestTimeout,
      BooleanSupplier running,
      BooleanSupplier waitingOnOurselves,
      Runnable stalled,
      Runnable stuckOnOurselves) {
    this.scheduler = scheduler;
    this.stallMillis = requestTimeout.toMillis();
    this.running = running;
    this.waitingOnOurselves = waitingOnOurselves;
    this.stalled = stalled;
    this.stuckOnOurselves = stuckOnOurselves;
  }

  void start() {
    touch();
    timer = scheduler.every(Math.max(100, Math.min(1000, stallMillis / 4)), this::look);
  }

  /** Bytes moved (or the attempt stopped waiting on itself): the quiet starts again. */
  void touch() {
    lastActivityNanos = scheduler.nanoTime();
  }

  void stop() {
    scheduler.cancel(timer);
  }

  private void look() {
    if (!running.getAsBoolean()) {
      return;
    }
    long now = scheduler.nanoTime();
    if (waitingOnOurselves.getAsBoolean()) {
      if (ownWaitSinceNanos < 0) {
        ownWaitSinceNanos = now;
      } else if ((now - ownWaitSinceNanos) / 1_000_000 >= stallMillis) {
        stuckOnOurselves.run();
      }
      return;
    }
    ownWaitSinceNanos = -1;
    long quietMillis = (now - lastActivityNanos) / 1_000_000;
    if (quietMillis >= stallMillis) {
      stalled.run();
    }
  }
}
