package transfer.client;

import java.time.Duration;

/** 409: the current state forbids the request (the task is final, the session is closed). */
public class ConflictException extends TransferApiException {
  public ConflictException(String request, Problem problem, Duration retryAfter) {
    super(request, problem, retryAfter);
  }
}
