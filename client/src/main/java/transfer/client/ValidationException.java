package transfer.client;

import java.time.Duration;

/**
 * 400 or 422: the request is wrong; {@link #fieldErrors()} names every bad field. 422 with type
 * {@code idempotency-key-reused}: the key was used with another body.
 */
public class ValidationException extends TransferApiException {
  public ValidationException(String request, Problem problem, Duration retryAfter) {
    super(request, problem, retryAfter);
  }
}
