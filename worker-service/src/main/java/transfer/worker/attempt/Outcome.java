package transfer.worker.attempt;

import java.time.Duration;
import org.jboss.logging.Logger;
import transfer.contracts.TaskError;
import transfer.ledger.Leases.FailOutcome;
import transfer.worker.WorkerMetrics;

/**
 * How an attempt ended: exactly one per attempt, recorded once by {@link Attempt} (counted by its
 * {@link #label}, its span ended with it, one log line). What the ledger made of the attempt's last
 * write decides which: a completion committed or fenced, a failure retried, final, fenced or not
 * recorded at all, a lease lost, a hand-back.
 */
sealed interface Outcome {

  /** What kind of end: its label and the level of its log line. */
  enum Kind {
    COMPLETED(WorkerMetrics.COMPLETED, Logger.Level.INFO),
    RETRY(WorkerMetrics.RETRY, Logger.Level.INFO),
    FAILED(WorkerMetrics.FAILED, Logger.Level.INFO),
    FENCED(WorkerMetrics.FENCED, Logger.Level.WARN),
    HANDED_BACK(WorkerMetrics.HANDED_BACK, Logger.Level.INFO),
    UNRECORDED(WorkerMetrics.UNRECORDED, Logger.Level.ERROR);

    /** The {@code outcome} label of the attempt's metric and span ({@link WorkerMetrics}). */
    final String label;

    /** The level of the attempt's last log line. */
    final Logger.Level level;

    Kind(String label, Logger.Level level) {
      this.label = label;
      this.level = level;
    }
  }

  Kind kind();

  /** The {@code outcome} label of the attempt's metric and span ({@link WorkerMetrics}). */
  default String label() {
    return kind().label;
  }

  /** The attempt's own error ({@code error_code}); null when it had none. */
  default String errorCode() {
    return null;
  }

  /** Why the lease was lost, when it was ({@link WorkerMetrics#leaseLost}); else null. */
  default String leaseLost() {
    return null;
  }

  /** The level of the attempt's last log line. */
  default Logger.Level level() {
    return kind().level;
  }

  /** The attempt's last log line, after {@code task <id>: }. */
  String line();

  /** The ledger recorded the completion; {@code line} says what was moved. */
  record Completed(String line) implements Outcome {
    @Override
    public Kind kind() {
      return Kind.COMPLETED;
    }
  }

  /** The attempt failed with an error of its own, whatever the ledger made of it. */
  sealed interface Failure extends Outcome {
    /** Which attempt of the task it was. */
    int attempt();

    TaskError error();

    @Override
    default String errorCode() {
      return error().code();
    }
  }

  /** Failed, and queued again after {@code backoff}. */
  record RetryScheduled(int attempt, TaskError error, Duration backoff) implements Failure {
    @Override
    public Kind kind() {
      return Kind.RETRY;
    }

    @Override
    public String line() {
      return String.format(
          "attempt %d failed (%s: %s); retrying in %d ms",
          attempt, error.code(), error.message(), backoff.toMillis());
    }
  }

  /** Failed for good: the task is final (with resumeData or without). */
  record Failed(int attempt, TaskError error) implements Failure {
    @Override
    public Kind kind() {
      return Kind.FAILED;
    }

    @Override
    public String line() {
      return String.format(
          "failed for good after attempt %d (%s: %s)", attempt, error.code(), error.message());
    }
  }

  /**
   * The task was no longer this attempt's: a fenced write touched no row ({@link
   * WorkerMetrics#SUPERSEDED}), or the lease could not be renewed in time ({@link
   * WorkerMetrics#NOT_RENEWED}). Nothing was written.
   */
  record Fenced(String leaseLost, String errorCode, String line) implements Outcome {
    /** The lease was lost while the attempt ran: it stopped, {@code why}. */
    static Fenced leaseLost(long epoch, String why, String reason) {
      return new Fenced(
          reason, null, String.format("epoch %d stopped: %s; nothing more is written", epoch, why));
    }

    /** The failure of attempt {@code attempt} found the task superseded. */
    static Fenced failureNotRecorded(int attempt, String errorCode, long epoch) {
      return new Fenced(
          WorkerMetrics.SUPERSEDED,
          errorCode,
          String.format(
              "attempt %d failed (%s) but epoch %d was superseded; not recorded",
              attempt, errorCode, epoch));
    }

    /** The completion found the task superseded; {@code line} says what became of the bytes. */
    static Fenced completionNotRecorded(String line) {
      return new Fenced(WorkerMetrics.SUPERSEDED, null, line);
    }

    @Override
    public Kind kind() {
      return Kind.FENCED;
    }
  }

  /**
   * Given back to the queue by a graceful stop, after {@code bytes}; the attempt does not count.
   */
  /** {@code why}: the reason the log line gives (the worker stops; a fair share). */
  record HandedBack(long epoch, long bytes, String why) implements Outcome {
    @Override
    public Kind kind() {
      return Kind.HANDED_BACK;
    }

    @Override
    public String line() {
      return String.format("handing back (epoch %d) after %d bytes: %s", epoch, bytes, why);
    }
  }

  /** The ledger could not be asked to record the failure: the lease expires, the reaper retries. */
  record Unrecorded(int attempt, TaskError error, String cause) implements Failure {
    @Override
    public Kind kind() {
      return Kind.UNRECORDED;
    }

    @Override
    public String line() {
      return String.format(
          "attempt %d failed (%s: %s) and the ledger could not record it (%s); the lease will"
              + " expire and the reaper retries it",
          attempt, error.code(), error.message(), cause);
    }
  }

  /** What a failure of attempt {@code attempt} became, by the ledger's answer. */
  static Outcome ofFailure(
      FailOutcome recorded, int attempt, TaskError error, Duration backoff, long epoch) {
    return switch (recorded) {
      case RETRY_SCHEDULED -> new RetryScheduled(attempt, error, backoff);
      case FAILED, FAILED_RESUMABLE -> new Failed(attempt, error);
      case FENCED -> Fenced.failureNotRecorded(attempt, error.code(), epoch);
    };
  }
}
