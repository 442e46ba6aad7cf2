package transfer.client;

import java.time.Duration;

/** 401 or 403: the API key is missing, wrong, revoked, or may not call this. */
public class AuthenticationException extends TransferApiException {
  public AuthenticationException(String request, Problem problem, Duration retryAfter) {
    super(request, problem, retryAfter);
  }
}
