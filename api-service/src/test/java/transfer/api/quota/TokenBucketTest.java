package transfer.api.quota;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The per-tenant request budget, on a clock the test moves. */
class TokenBucketTest {
  private static final long SECOND = 1_000_000_000L;

  @Test
  void aFullBucketAllowsTheBurstThenOneRequestPerTokenRefilled() {
    TokenBucket b = new TokenBucket(2.0, 3, 0);
    assertThat(b.tryTake(2.0, 3, 0)).isZero();
    assertThat(b.tryTake(2.0, 3, 0)).isZero();
    assertThat(b.tryTake(2.0, 3, 0)).isZero();
    // Empty: the next token comes in half a second at 2 per second.
    assertThat(b.tryTake(2.0, 3, 0)).isEqualTo(SECOND / 2);
    assertThat(b.tryTake(2.0, 3, SECOND / 4)).isEqualTo(SECOND / 4);
    assertThat(b.tryTake(2.0, 3, SECOND / 2)).isZero();
    assertThat(b.tryTake(2.0, 3, SECOND / 2)).isPositive();
    // A long pause refills up to the burst, not beyond.
    long later = 100 * SECOND;
    for (int i = 0; i < 3; i++) {
      assertThat(b.tryTake(2.0, 3, later)).isZero();
    }
    assertThat(b.tryTake(2.0, 3, later)).isPositive();
  }

  @Test
  void aSlowRateAnswersTheWaitForTheNextTokenAndRefusalsTakeNothing() {
    TokenBucket b = new TokenBucket(0.1, 1, 0);
    assertThat(b.tryTake(0.1, 1, 0)).isZero();
    assertThat(b.tryTake(0.1, 1, 0)).isEqualTo(10 * SECOND);
    assertThat(b.tryTake(0.1, 1, 5 * SECOND)).isBetween(5 * SECOND - 1000, 5 * SECOND + 1000);
    assertThat(b.tryTake(0.1, 1, 10 * SECOND + 1000)).isZero();
  }

  @Test
  void changedLimitsApplyFromNow() {
    TokenBucket b = new TokenBucket(1.0, 10, 0);
    // Lowered burst: tokens above it are dropped.
    for (int i = 0; i < 2; i++) {
      assertThat(b.tryTake(1.0, 2, 0)).isZero();
    }
    assertThat(b.tryTake(1.0, 2, 0)).isEqualTo(SECOND);
    // Raised rate: tokens until now came at the old rate, from now on at the new one.
    assertThat(b.tryTake(10.0, 2, SECOND / 10)).isPositive();
    assertThat(b.tryTake(10.0, 2, SECOND / 5)).isZero();
  }

  @Test
  void theRetryAfterOfARateRefusalIsTheWaitRoundedUpToWholeSeconds() {
    assertThat(QuotaExceeded.requestRate("t", 2, 3, 1).retryAfterSeconds()).isEqualTo(1);
    assertThat(QuotaExceeded.requestRate("t", 2, 3, SECOND).retryAfterSeconds()).isEqualTo(1);
    assertThat(QuotaExceeded.requestRate("t", 0.1, 1, 10 * SECOND - 5).retryAfterSeconds())
        .isEqualTo(10);
    QuotaExceeded e = QuotaExceeded.requestRate("t", 2.5, 3, SECOND + 1);
    assertThat(e.retryAfterSeconds()).isEqualTo(2);
    assertThat(e.toProblem("/x").type()).isEqualTo(QuotaExceeded.TYPE_PREFIX + "request-rate");
    assertThat(e.getMessage()).contains("2.5 requests per second", "burst 3");
  }
}
