package transfer.deploy.chaos;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Runs a probe every few milliseconds on a thread of its own and keeps what it answered, for
 * properties that must hold at every moment (not only at the end): "no row is ever running without
 * a lease", "the owner never goes back to the frozen worker".
 */
final class Sampler<T> implements AutoCloseable {
  record Sample<T>(Instant at, T value) {}

  private final List<Sample<T>> samples = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final Thread thread;
  private volatile boolean running = true;

  Sampler(String name, Duration every, java.util.concurrent.Callable<T> probe) {
    thread =
        new Thread(
            () -> {
              while (running) {
                try {
                  samples.add(new Sample<>(Instant.now(), probe.call()));
                } catch (Exception e) {
                  errors.add(e);
                }
                java.util.concurrent.locks.LockSupport.parkNanos(every.toNanos());
              }
            },
            name);
    thread.setDaemon(true);
    thread.start();
  }

  List<Sample<T>> samples() {
    return List.copyOf(samples);
  }

  List<Throwable> errors() {
    return List.copyOf(errors);
  }

  @Override
  public void close() {
    running = false;
    try {
      thread.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
