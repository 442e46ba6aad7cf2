package transfer.contracts;

/**
 * Why a task (or its last attempt) failed. {@code code} is stable and documented; see {@link
 * ErrorCodes}.
 */
public record TaskError(String code, String message, Integer httpStatus, boolean retryable) {

  public static TaskError of(String code, String message, boolean retryable) {
    return new TaskError(code, message, null, retryable);
  }
}
