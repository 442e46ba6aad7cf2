package transfer.worker.attempt;

import transfer.contracts.TaskError;

/**
 * What moves an attempt's bytes: a {@link Download} or an {@link Upload}. The {@link Attempt} owns
 * the life cycle; a transfer moves the bytes, says what its checkpoint is, and asks its attempt to
 * fail, to finish and to complete. Everything runs on the attempt's context.
 */
interface Transfer {

  /** The HTTP method, for the attempt's first log line. */
  String method();

  /** Starts moving bytes, once the attempt's lease timer and watchdog run. */
  void start();

  /** Bytes moved so far in this attempt, as progress reports them. */
  long moved();

  /** Bytes this attempt itself moved: a resumed download's copied prefix is not counted. */
  default long movedInThisAttempt() {
    return moved();
  }

  /** The size progress reports as expected, if known. */
  Long expectedBytes();

  /** The error of a stall: nothing from the other side for the session's {@code requestTimeout}. */
  TaskError stallError();

  /** True while a quiet is our own doing (our storage is slow to take the bytes), not a stall. */
  default boolean waitingOnOurselves() {
    return false;
  }

  /**
   * The error of waiting on ourselves for {@code requestTimeout} in one spell: our storage took
   * nothing (a hung or full volume). A storage error: the attempt does not count.
   */
  default TaskError ownStallError(java.time.Duration requestTimeout) {
    return Failures.ofStorage(
        new java.util.concurrent.TimeoutException(
            "the worker's storage took no bytes for "
                + requestTimeout.toSeconds()
                + " s (a hung or overloaded volume)"));
  }

  /** What this transfer records as durable, and keeps or drops when the attempt ends. */
  default Checkpoints checkpoints() {
    return Checkpoints.NONE;
  }

  /**
   * Stops at once: files closed, its own timers cancelled (the attempt resets the request, {@link
   * Connection}).
   */
  void stop();
}
