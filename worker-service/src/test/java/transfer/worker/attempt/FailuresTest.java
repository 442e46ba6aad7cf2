package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.contracts.RetryPolicy;

class FailuresTest {
  private final Clock clock = Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC);

  @Test
  void aNotFoundIsFinalAndAnUnavailableIsRetried() {
    assertThat(Failures.ofStatus(404).retryable()).isFalse();
    assertThat(Failures.ofStatus(404).httpStatus()).isEqualTo(404);
    assertThat(Failures.ofStatus(403).retryable()).isFalse();
    for (int s : new int[] {408, 429, 500, 502, 503, 504}) {
      assertThat(Failures.ofStatus(s).retryable()).as("%d", s).isTrue();
      assertThat(Failures.ofStatus(s).code()).isEqualTo(ErrorCodes.HTTP_STATUS);
    }
    assertThat(Failures.ofStatus(302).code()).isEqualTo(ErrorCodes.TOO_MANY_REDIRECTS);
  }

  @Test
  void aTimeoutIsAStallAndAnythingElseAConnectionFailure() {
    assertThat(Failures.ofConnection(new TimeoutException("idle"), Duration.ofSeconds(3)).code())
        .isEqualTo(ErrorCodes.STALLED);
    assertThat(
            Failures.ofConnection(
                    new RuntimeException(new java.net.SocketTimeoutException()),
                    Duration.ofSeconds(3))
                .code())
        .isEqualTo(ErrorCodes.STALLED);
    assertThat(
            Failures.ofConnection(new java.io.IOException("reset"), Duration.ofSeconds(3)).code())
        .isEqualTo(ErrorCodes.CONNECTION_FAILED);
  }

  @Test
  void retryAfterIsReadAsSecondsOrAnHttpDate() {
    assertThat(Failures.retryAfter("7", clock)).isEqualTo(Duration.ofSeconds(7));
    assertThat(Failures.retryAfter("Thu, 01 Jan 2026 00:00:30 GMT", clock))
        .isEqualTo(Duration.ofSeconds(30));
    assertThat(Failures.retryAfter("soon", clock)).isNull();
    assertThat(Failures.retryAfter(null, clock)).isNull();
    assertThat(Failures.retryAfter("-1", clock)).isNull();
  }

  @Test
  void backoffDoublesWithJitterUpToTheCapAndNeverUndercutsRetryAfter() {
    RetryPolicy p = new RetryPolicy(10, Duration.ofSeconds(1), Duration.ofSeconds(8));
    for (int i = 0; i < 200; i++) {
      assertThat(Failures.backoff(p, 1, null))
          .isBetween(Duration.ofMillis(500), Duration.ofSeconds(1));
      assertThat(Failures.backoff(p, 3, null))
          .isBetween(Duration.ofSeconds(2), Duration.ofSeconds(4));
      assertThat(Failures.backoff(p, 9, null))
          .isBetween(Duration.ofSeconds(4), Duration.ofSeconds(8));
      assertThat(Failures.backoff(p, 1, Duration.ofSeconds(30))).isEqualTo(Duration.ofSeconds(30));
    }
  }
}
