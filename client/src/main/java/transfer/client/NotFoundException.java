package transfer.client;

import java.time.Duration;

/**
 * 404 or 410: no such session, task or object for this key's tenant (another tenant's ids answer
 * 404 too), or its stored bytes are gone.
 */
public class NotFoundException extends TransferApiException {
  public NotFoundException(String request, Problem problem, Duration retryAfter) {
    super(request, problem, retryAfter);
  }
}
