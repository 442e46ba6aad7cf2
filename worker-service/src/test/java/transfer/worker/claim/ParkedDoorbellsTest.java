package transfer.worker.claim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ParkedDoorbellsTest {
  private final ParkedDoorbells parking = new ParkedDoorbells();

  @Test
  void aDoorbellIsClaimedForUntilItsSessionCameUpShort() {
    assertThat(parking.park("s1")).isEqualTo(ParkedDoorbells.Parked.NO);
    assertThat(parking.park(null)).isEqualTo(ParkedDoorbells.Parked.NO);

    parking.block(List.of("s1"));

    assertThat(parking.park("s1")).isEqualTo(ParkedDoorbells.Parked.FIRST);
    assertThat(parking.park("s1")).isEqualTo(ParkedDoorbells.Parked.MORE);
    assertThat(parking.park("s2")).as("another session").isEqualTo(ParkedDoorbells.Parked.NO);
    assertThat(parking.parked()).isEqualTo(2);
  }

  @Test
  void releaseUnblocksEverySessionAndHandsOverTheParkedCountOnce() {
    parking.block(List.of("s1", "s2"));
    parking.park("s1");
    parking.park("s2");
    parking.park("s2");

    ParkedDoorbells.Released released = parking.release();

    assertThat(released.sessions()).containsExactlyInAnyOrder("s1", "s2");
    assertThat(released.parked()).isEqualTo(3);
    assertThat(parking.isBlocked("s1")).isFalse();
    assertThat(parking.park("s1")).as("unblocked").isEqualTo(ParkedDoorbells.Parked.NO);
    assertThat(parking.release()).isEqualTo(new ParkedDoorbells.Released(Set.of(), 0));
  }

  @Test
  void aClaimThatComesUpShortAfterARelease_blocksTheSameSessionsAgain() {
    parking.block(List.of("s1"));
    parking.park("s1");
    ParkedDoorbells.Released released = parking.release();

    parking.block(released.sessions()); // the retry's claim found nothing either

    assertThat(parking.isBlocked("s1")).isTrue();
    assertThat(parking.park("s1"))
        .as("the first parked since the release: a new retry is scheduled")
        .isEqualTo(ParkedDoorbells.Parked.FIRST);
  }
}
