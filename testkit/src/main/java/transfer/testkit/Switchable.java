package transfer.testkit;

/**
 * A service of the test infrastructure (the broker, the database) that a fault test takes down and
 * brings back, the same way whether it runs embedded or in a container: same address, same data.
 */
public interface Switchable {

  /** Stops the service (a clean shutdown): clients see it down until {@link #start()}. */
  void stop();

  /** Starts the stopped service again; returns once it serves. A no-op when it runs. */
  void start();

  boolean isRunning();

  default void ensureRunning() {
    if (!isRunning()) {
      start();
    }
  }
}
