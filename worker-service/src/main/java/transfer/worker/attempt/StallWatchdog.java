package transfer.worker.attempt;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Ends an exchange that went quiet: nothing from the other side for the session's {@code
 * requestTimeout} while the attempt wanted it. Whatever moves bytes {@link #touch touches} it; a
 * quiet that is our own doing (our storage is slow to take the bytes) is not counted: {@code
 * watching} is false then. Looks every quarter of the timeout, between 0.1 and 1 s.
 */
final class StallWatchdog {
  private final Scheduler scheduler;
  private final long stallMillis;
  private final BooleanSupplier watching;
  private final Runnable stalled;

  /** When the other side last moved bytes, or we last stopped waiting on our own storage. */
  private long lastActivityNanos;

  private long timer = -1;

  /**
   * @param watching whether a quiet now counts (false while the attempt is not running, or while it
   *     waits on itself)
   * @param stalled what to do once the quiet reached {@code requestTimeout}
   */
  StallWatchdog(
      Scheduler scheduler, Duration requestTimeout, BooleanSupplier watching, Runnable stalled) {
    this.scheduler = scheduler;
    this.stallMillis = requestTimeout.toMillis();
    this.watching = watching;
    this.stalled = stalled;
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
    if (!watching.getAsBoolean()) {
      return;
    }
    long quietMillis = (scheduler.nanoTime() - lastActivityNanos) / 1_000_000;
    if (quietMillis >= stallMillis) {
      stalled.run();
    }
  }
}
