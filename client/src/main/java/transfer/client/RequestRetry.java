package transfer.client;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How the client retries a request the API answered 429 or 503 (or that lost its connection): only
 * requests that are safe to repeat (GET, HEAD, PUT, DELETE, and a POST that carries an
 * Idempotency-Key), at most {@code maxAttempts} attempts in all. The wait is the answer's
 * Retry-After when it has one, else an exponential backoff with full jitter from {@code
 * initialBackoff} up to {@code maxBackoff}. A Retry-After longer than {@code maxRetryAfter} is not
 * waited for: the error is thrown at once, with its Retry-After, for the caller to decide.
 */
public record RequestRetry(
    int maxAttempts, Duration initialBackoff, Duration maxBackoff, Duration maxRetryAfter) {

  /** 5 attempts, backoff 0.5 s doubling to 10 s, Retry-After honoured up to 60 s. */
  public static final RequestRetry DEFAULT =
      new RequestRetry(5, Duration.ofMillis(500), Duration.ofSeconds(10), Duration.ofSeconds(60));

  /** One attempt: every error is thrown at once. */
  public static final RequestRetry NONE =
      new RequestRetry(1, Duration.ZERO, Duration.ZERO, Duration.ZERO);

  public RequestRetry {
    Objects.requireNonNull(initialBackoff, "initialBackoff");
    Objects.requireNonNull(maxBackoff, "maxBackoff");
    Objects.requireNonNull(maxRetryAfter, "maxRetryAfter");
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1, not " + maxAttempts);
    }
    if (initialBackoff.isNegative() || maxBackoff.compareTo(initialBackoff) < 0) {
      throw new IllegalArgumentException(
          "backoff must satisfy 0 <= initialBackoff <= maxBackoff, not "
              + initialBackoff
              + " and "
              + maxBackoff);
    }
  }

  public RequestRetry withMaxAttempts(int n) {
    return new RequestRetry(n, initialBackoff, maxBackoff, maxRetryAfter);
  }

  public RequestRetry withBackoff(Duration initial, Duration max) {
    return new RequestRetry(maxAttempts, initial, max, maxRetryAfter);
  }

  public RequestRetry withMaxRetryAfter(Duration cap) {
    return new RequestRetry(maxAttempts, initialBackoff, maxBackoff, cap);
  }

  /**
   * The wait before attempt {@code attempt + 1} after attempt {@code attempt} (1-based) failed:
   * full jitter over {@code min(maxBackoff, initialBackoff * 2^(attempt-1))}.
   */
  Duration backoff(int attempt) {
    long cap = maxBackoff.toMillis();
    long base = initialBackoff.toMillis();
    long exp = attempt >= 31 ? cap : Math.min(cap, base << Math.max(0, attempt - 1));
    return Duration.ofMillis(exp <= 0 ? 0 : ThreadLocalRandom.current().nextLong(exp + 1));
  }
}
