package transfer.client;

import java.time.Duration;

/**
 * 503 (or 502, 504): the service or its database is unavailable; nothing was changed, retry later.
 */
public class UnavailableException extends TransferApiException {
  public UnavailableException(String request, Problem problem, Duration retryAfter) {
    super(request, problem, retryAfter);
  }
}
