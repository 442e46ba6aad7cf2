package transfer.contracts;

import java.time.Duration;

/**
 * How often and how patiently a task is retried. Backoff doubles from {@code initialBackoff} up to
 * {@code maxBackoff}, with full jitter.
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
