package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import org.junit.jupiter.api.Test;

class LifeTest {
  /** Every move an attempt may make; every other pair is refused. */
  private static final Set<String> ALLOWED =
      Set.of(
          "RUNNING->FINISHING",
          "RUNNING->ENDING",
          "FINISHING->ENDING",
          "FINISHING->ENDED",
          "ENDING->ENDED");

  @Test
  void anAttemptMovesOnlyForwardAndEndsOnce() {
    for (Life from : Life.values()) {
      for (Life to : Life.values()) {
        assertThat(from.mayBecome(to))
            .as("%s -> %s", from, to)
            .isEqualTo(ALLOWED.contains(from + "->" + to));
      }
    }
  }
}
