package transfer.client;

import java.time.Duration;

/** 429: a quota of the tenant; {@link #retryAfter()} says when to try again. */
public class RateLimitedException extends TransferApiException {
  public RateLimitedException(String request, Problem problem, Duration retryAfter) {
    super(request, problem, retryAfter);
  }
}
