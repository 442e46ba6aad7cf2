package transfer.worker.attempt;

import io.vertx.core.Future;
import java.util.concurrent.Callable;

/**
 * Where an attempt's code runs: one context, one thread at a time (so its state needs no locks),
 * its timers, and the worker threads its blocking calls go to. In the worker a Vert.x context of
 * the attempt's own ({@link VertxScheduler}); in a unit test, time the test moves by hand.
 */
interface Scheduler {
  /** Runs {@code task} on the attempt's context. */
  void run(Runnable task);

  /** Runs {@code task} on the attempt's context every {@code millis}; answers the timer. */
  long every(long millis, Runnable task);

  /** Runs {@code task} on the attempt's context once, after {@code millis}; answers the timer. */
  long after(long millis, Runnable task);

  /** Cancels a timer; {@code -1} (none) is ignored. */
  void cancel(long timer);

  /** Runs {@code work} on a worker thread; the future completes on the attempt's context. */
  <T> Future<T> blocking(Callable<T> work);

  /** Monotonic time in nanoseconds (the stall watchdog's clock). */
  long nanoTime();
}
