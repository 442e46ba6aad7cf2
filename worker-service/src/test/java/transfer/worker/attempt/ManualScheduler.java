package transfer.worker.attempt;

import io.vertx.core.Future;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import transfer.ledger.SettableClock;

/**
 * An attempt's context in a unit test: the test is the context's one thread, its code runs at once,
 * blocking work runs in place, and time moves only when the test moves it ({@link #advance}), the
 * clock with it; due timers run in order as it passes.
 */
final class ManualScheduler implements Scheduler {
  private final SettableClock clock;
  private final Map<Long, Timer> timers = new HashMap<>();
  private long nanos;
  private long nextId;

  private static final class Timer {
    final long id;
    final long periodNanos;
    final Runnable task;
    long due;

    Timer(long id, long periodNanos, Runnable task, long due) {
      this.id = id;
      this.periodNanos = periodNanos;
      this.task = task;
      this.due = due;
    }
  }

  ManualScheduler(SettableClock clock) {
    this.clock = clock;
  }

  /** Moves time by {@code d}, running each timer that comes due on the way, in order. */
  void advance(Duration d) {
    long target = nanos + d.toNanos();
    while (true) {
      Timer next = null;
      for (Timer t : timers.values()) {
        if (t.due <= target
            && (next == null || t.due < next.due || (t.due == next.due && t.id < next.id))) {
          next = t;
        }
      }
      if (next == null) {
        break;
      }
      moveTo(next.due);
      if (next.periodNanos > 0) {
        next.due += next.periodNanos;
      } else {
        timers.remove(next.id);
      }
      next.task.run();
    }
    moveTo(target);
  }

  /** Timers still set. */
  int timers() {
    return timers.size();
  }

  private void moveTo(long at) {
    clock.advance(Duration.ofNanos(at - nanos));
    nanos = at;
  }

  @Override
  public void run(Runnable task) {
    task.run();
  }

  @Override
  public long every(long millis, Runnable task) {
    long period = Duration.ofMillis(millis).toNanos();
    return add(period, task, nanos + period);
  }

  @Override
  public long after(long millis, Runnable task) {
    return add(0, task, nanos + Duration.ofMillis(millis).toNanos());
  }

  private long add(long period, Runnable task, long due) {
    long id = nextId++;
    timers.put(id, new Timer(id, period, task, due));
    return id;
  }

  @Override
  public void cancel(long timer) {
    timers.remove(timer);
  }

  @Override
  public <T> Future<T> blocking(Callable<T> work) {
    try {
      return Future.succeededFuture(work.call());
    } catch (Exception e) {
      return Future.failedFuture(e);
    }
  }

  @Override
  public long nanoTime() {
    return nanos;
  }
}
