package transfer.contracts;

import java.util.UUID;

/** Task ids are UUIDs in their canonical 36 characters. */
public final class TaskIds {
  private TaskIds() {}

  /** Whether {@code s} can be a task id; false for null and every other spelling. */
  public static boolean isTaskId(String s) {
    if (s == null || s.length() != 36) {
      return false;
    }
    try {
      UUID.fromString(s);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }
}
