package transfer.contracts;

import java.time.Duration;

/**
 * How often and how patiently a task is retried. The wait before retry {@code n} is drawn between
 * half and all of {@code min(maxBackoff, initialBackoff * 2^(n-1))}, and is never shorter than the
 * server's {@code Retry-After}.
 */
public record RetryPolicy(Integer maxAttempts, Duration initialBackoff, Duration maxBackoff) {
  public static final RetryPolicy DEFAULT =
      new RetryPolicy(5, Duration.ofSeconds(1), Duration.ofMinutes(5));

  /** This policy with every missing field taken from {@link #DEFAULT}. */
  public RetryPolicy withDefaults() {
    return new RetryPolicy(
        maxAttempts != null ? maxAttempts : DEFAULT.maxAttempts,
        initialBackoff != null ? initialBackoff : DEFAULT.initialBackoff,
        maxBackoff != null ? maxBackoff : DEFAULT.maxBackoff);
  }
}
