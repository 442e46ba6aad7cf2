package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import transfer.contracts.TaskMetrics;
import transfer.ledger.SettableClock;

class AttemptMetricsTest {
  @Test
  void eachRequestStartsOverAndTheSnapshotDescribesTheLast() {
    SettableClock clock = new SettableClock(Instant.parse("2026-12-07T00:00:00Z"));
    ManualScheduler scheduler = new ManualScheduler(clock);
    AttemptMetrics m = new AttemptMetrics(scheduler, clock, 3);

    m.routing();
    scheduler.advance(Duration.ofMillis(40));
    m.opening(); // a first request, redirected
    scheduler.advance(Duration.ofMillis(100));
    m.answered();
    m.redirected();
    m.routing();
    scheduler.advance(Duration.ofMillis(7));
    m.opening();
    scheduler.advance(Duration.ofMillis(50));
    m.answered();
    scheduler.advance(Duration.ofMillis(1000));

    TaskMetrics t = m.snapshot(4096);
    assertThat(t.attempt()).isEqualTo(3);
    assertThat(t.fetchStart()).isEqualTo(Instant.parse("2026-12-07T00:00:00Z"));
    assertThat(t.dnsMs()).as("the last request's").isEqualTo(7);
    assertThat(t.transferMs()).isEqualTo(1000);
    assertThat(t.totalMs()).isEqualTo(1197);
    assertThat(t.redirects()).isEqualTo(1);
    assertThat(t.requests()).isEqualTo(2);
    assertThat(t.bytes()).isEqualTo(4096);
    // Never connected (no request object in this test): what it did not see is left out.
    assertThat(t.connectMs()).isNull();
    assertThat(t.firstByteMs()).isNull();
    assertThat(t.remoteAddress()).isNull();
  }

  @Test
  void theHandshakeIsTheTlsSessionsAgeUnlessItIsOlderThanAHandshakeCanBe() {
    assertThat(AttemptMetrics.handshakeMillis(1_000_000, 1_000_012)).isEqualTo(12);
    assertThat(AttemptMetrics.handshakeMillis(1_000_000, 1_000_000 + 600_000)).isNull();
    assertThat(AttemptMetrics.handshakeMillis(1_000_050, 1_000_000)).isNull();
    assertThat(AttemptMetrics.handshakeMillis(0, 1_000_000)).isNull();
  }

  @Test
  void theTlsShareIsAtMostTheWholeConnectionAndNoneForAnOlderSession() {
    assertThat(AttemptMetrics.tlsShare(8L, 12)).isEqualTo(8);
    assertThat(AttemptMetrics.tlsShare(13L, 12)).as("a millisecond's rounding").isEqualTo(12);
    assertThat(AttemptMetrics.tlsShare(40L, 12)).as("resumed from an older session").isNull();
    assertThat(AttemptMetrics.tlsShare(null, 12)).isNull();
  }

  @Test
  void anIpv6AddressIsBracketed() {
    assertThat(AttemptMetrics.address("127.0.0.1", 8080)).isEqualTo("127.0.0.1:8080");
    assertThat(AttemptMetrics.address("::1", 443)).isEqualTo("[::1]:443");
  }
}
