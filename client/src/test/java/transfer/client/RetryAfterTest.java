package transfer.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RetryAfterTest {
  private static final Instant NOW = Instant.parse("2026-11-21T12:00:00Z");

  @Test
  void delaySecondsAreASimpleWait() {
    assertThat(RetryAfter.parse("120", NOW)).contains(Duration.ofSeconds(120));
    assertThat(RetryAfter.parse(" 0 ", NOW)).contains(Duration.ZERO);
  }

  @Test
  void anHttpDateIsMeasuredFromNow() {
    assertThat(RetryAfter.parse("Sat, 21 Nov 2026 12:00:30 GMT", NOW))
        .contains(Duration.ofSeconds(30));
  }

  @Test
  void aDateInThePastMeansNow() {
    assertThat(RetryAfter.parse("Fri, 20 Nov 2026 12:00:00 GMT", NOW)).contains(Duration.ZERO);
  }

  @Test
  void anythingElseIsNoRetryAfter() {
    assertThat(RetryAfter.parse(null, NOW)).isEmpty();
    assertThat(RetryAfter.parse("", NOW)).isEmpty();
    assertThat(RetryAfter.parse("-5", NOW)).isEmpty();
    assertThat(RetryAfter.parse("1.5", NOW)).isEmpty();
    assertThat(RetryAfter.parse("soon", NOW)).isEmpty();
    assertThat(RetryAfter.parse("2026-11-21T12:00:30Z", NOW)).isEmpty();
  }

  @Test
  void anAbsurdNumberIsCappedNotAnError() {
    assertThat(RetryAfter.parse("99999999999999999999999", NOW)).isPresent();
  }
}
