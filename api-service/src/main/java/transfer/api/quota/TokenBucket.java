package transfer.api.quota;

/**
 * One tenant's request budget on this instance: up to {@code burst} tokens, refilled at {@code
 * rate} per second; a request takes one. Time is passed in (nanoseconds), so it is testable without
 * sleeping.
 */
final class TokenBucket {
  private static final double NANOS_PER_SECOND = 1e9;

  private double rate;
  private int burst;
  private double tokens;
  private long refilledAt;

  TokenBucket(double rate, int burst, long nowNanos) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.refilledAt = nowNanos;
  }

  /**
   * Takes a token if there is one and answers 0; otherwise takes nothing and answers the
   * nanoseconds until the next token. {@code rate} and {@code burst} are the tenant's current
   * limits; a change applies from now on (tokens above a lowered burst are dropped).
   */
  synchronized long tryTake(double rate, int burst, long nowNanos) {
    refill(nowNanos);
    if (rate != this.rate || burst != this.burst) {
      this.rate = rate;
      this.burst = burst;
      tokens = Math.min(tokens, burst);
    }
    if (tokens >= 1) {
      tokens -= 1;
      return 0;
    }
    return Math.max(1, (long) Math.ceil((1 - tokens) / rate * NANOS_PER_SECOND));
  }

  private void refill(long nowNanos) {
    long elapsed = nowNanos - refilledAt;
    if (elapsed > 0) {
      tokens = Math.min(burst, tokens + elapsed * rate / NANOS_PER_SECOND);
      refilledAt = nowNanos;
    }
  }
}
