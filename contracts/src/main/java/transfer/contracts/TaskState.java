package transfer.contracts;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The states of a task and, in {@link #ALLOWED}, every transition between them. The database
 * enforces the same table (migration V4, a trigger on {@code tasks}), so no statement of either
 * service can make another move; tests walk every pair and check that the two tables are equal.
 */
public enum TaskState {
  /** Accepted and announced; waiting for a worker to claim it. */
  QUEUED,
  /** Not to be started before {@code next_attempt_at} (earliestBeginAt or a retry backoff). */
  WAITING,
  /** Claimed by a worker holding a lease. */
  RUNNING,
  /** Suspended by the client; holds no worker. */
  SUSPENDED,
  COMPLETED,
  FAILED,
  CANCELED;

  private static final Map<TaskState, Set<TaskState>> ALLOWED =
      Map.of(
          QUEUED, EnumSet.of(RUNNING, WAITING, SUSPENDED, CANCELED, FAILED),
          WAITING, EnumSet.of(QUEUED, SUSPENDED, CANCELED, FAILED),
          // running -> queued: handed back on shutdown or lease expired; -> waiting: retry backoff.
          RUNNING, EnumSet.of(COMPLETED, FAILED, CANCELED, WAITING, QUEUED, SUSPENDED),
          SUSPENDED, EnumSet.of(QUEUED, CANCELED, FAILED),
          COMPLETED, EnumSet.noneOf(TaskState.class),
          FAILED, EnumSet.noneOf(TaskState.class),
          CANCELED, EnumSet.noneOf(TaskState.class));

  public boolean canMoveTo(TaskState next) {
    return ALLOWED.get(this).contains(next);
  }

  public boolean isFinal() {
    return this == COMPLETED || this == FAILED || this == CANCELED;
  }

  /** The lower-case name used on the wire and in the database. */
  @JsonValue
  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }

  @JsonCreator
  /** The state of this wire value; empty for one this version does not know. */
  public static java.util.Optional<TaskState> known(String value) {
    for (TaskState s : values()) {
      if (s.wire().equals(value)) {
        return java.util.Optional.of(s);
      }
    }
    return java.util.Optional.empty();
  }

  public static TaskState fromWire(String value) {
    for (TaskState s : values()) {
      if (s.wire().equals(value)) {
        return s;
      }
    }
    throw new IllegalArgumentException("unknown task state: " + value);
  }
}
