package transfer.api.relay;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.junit.jupiter.api.Test;
import transfer.ledger.Outbox;
import transfer.ledger.OutboxMessage;

/** When the relay gives up on a record: its own refusals only, bounded, at once when hopeless. */
class RefusedRecordsTest {
  private final OutboxMessage m = new OutboxMessage(7, "transfer-events", "s", "{}", null, "t");
  private final Map<Long, Integer> tries = new HashMap<>();

  @Test
  void aBrokerOutageParksNothingHoweverLongItLasts() {
    for (int i = 0; i < 100; i++) {
      assertThat(RefusedRecords.park(m, true, new TimeoutException("down"), false, tries, 5))
          .isNull();
    }
    assertThat(tries).isEmpty();
  }

  @Test
  void aRetriableRefusalWhileKafkaTakesOthersParksAtTheBound() {
    for (int i = 1; i < 5; i++) {
      assertThat(
              RefusedRecords.park(m, true, new NotLeaderOrFollowerException("x"), true, tries, 5))
          .as("refusal %d", i)
          .isNull();
    }
    Outbox.Parked parked =
        RefusedRecords.park(m, true, new NotLeaderOrFollowerException("x"), true, tries, 5);
    assertThat(parked).isNotNull();
    assertThat(parked.tries()).isEqualTo(5);
    assertThat(parked.event()).isTrue();
    assertThat(tries).isEmpty();
  }

  @Test
  void aRefusalNoRetryMendsParksAtOnce() {
    Outbox.Parked parked =
        RefusedRecords.park(m, false, new RecordTooLargeException("big"), false, tries, 5);
    assertThat(parked).isNotNull();
    assertThat(parked.tries()).isEqualTo(1);
    assertThat(parked.error()).contains("RecordTooLarge");
  }

  @Test
  void refusalsOfEverythingParkNothing() {
    // Credentials or ACLs that refuse every record: the cluster's trouble, not a record's.
    for (int i = 0; i < 100; i++) {
      assertThat(
              RefusedRecords.park(m, true, new TopicAuthorizationException("acl"), false, tries, 3))
          .isNull();
    }
    assertThat(tries).isEmpty();
  }

  @Test
  void aRefusalWhileKafkaTakesOthersCountsWhateverTheError() {
    for (int i = 1; i < 3; i++) {
      assertThat(
              RefusedRecords.park(m, true, new TopicAuthorizationException("acl"), true, tries, 3))
          .isNull();
    }
    assertThat(RefusedRecords.park(m, true, new TopicAuthorizationException("acl"), true, tries, 3))
        .isNotNull();
  }
}
