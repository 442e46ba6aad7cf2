package transfer.contracts;

/**
 * Why a task is {@code waiting} ({@code waitingReason} of a task, {@code reason} of a {@code
 * transfer.task.waiting} event), and which failed attempts do not use up one of the task's {@code
 * retry.maxAttempts}.
 */
public final class WaitReasons {
  /**
   * The origin could not be reached: refused or reset, a name that does not resolve, a handshake
   * cut, a stall. Not counted when the session waits for connectivity.
   */
  public static final String CONNECTIVITY = "connectivity";

  /** The origin answered 408, 425, 429 or a retryable 5xx. Not counted when the session waits. */
  public static final String ORIGIN_UNAVAILABLE = "origin_unavailable";

  /** The cluster's own storage failed. Never counted: the fault is not the task's. */
  public static final String STORAGE = "storage";

  /** An ordinary retry's backoff, counted against {@code retry.maxAttempts}. */
  public static final String RETRY_BACKOFF = "retry_backoff";

  /**
   * The origin refused the task's credentials (401, 403, 407): it waits, with no attempt due, until
   * a {@code PATCH} gives it a new url or headers, or its deadline fails it.
   */
  public static final String CREDENTIALS_REQUIRED = "credentials_required";

  /** The task's {@code earliestBeginAt} has not come yet. */
  public static final String BEGIN_AT = "begin_at";

  private WaitReasons() {}

  /**
   * The reason a task whose attempt failed with {@code error} waits without using up an attempt, or
   * null when the attempt counts (or the error is final).
   */
  public static String uncounted(TaskError error, boolean waitsForConnectivity) {
    if (error == null || !error.retryable()) {
      return null;
    }
    if (ErrorCodes.STORAGE_FAILED.equals(error.code())) {
      return STORAGE;
    }
    if (ErrorCodes.CREDENTIALS_REQUIRED.equals(error.code())) {
      return CREDENTIALS_REQUIRED;
    }
    if (!waitsForConnectivity) {
      return null;
    }
    return switch (error.code()) {
      case ErrorCodes.CONNECTION_FAILED, ErrorCodes.STALLED -> CONNECTIVITY;
      case ErrorCodes.HTTP_STATUS -> {
        Integer s = error.httpStatus();
        yield s != null && (s == 408 || s == 425 || s == 429 || s >= 500)
            ? ORIGIN_UNAVAILABLE
            : null;
      }
      default -> null;
    };
  }
}
