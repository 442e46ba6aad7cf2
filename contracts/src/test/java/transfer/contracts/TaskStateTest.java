package transfer.contracts;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import org.junit.jupiter.api.Test;

class TaskStateTest {

  /** The expected table, written out pair by pair so that a change to it is a visible decision. */
  private static final Set<String> ALLOWED =
      Set.of(
          "queued>running",
          "queued>waiting",
          "queued>suspended",
          "queued>canceled",
          "queued>failed",
          "waiting>queued",
          "waiting>suspended",
          "waiting>canceled",
          "waiting>failed",
          "running>completed",
          "running>failed",
          "running>canceled",
          "running>waiting",
          "running>queued",
          "running>suspended",
          "suspended>queued",
          "suspended>canceled",
          "suspended>failed");

  @Test
  void everyPairOfStatesIsAllowedOnlyWhenTheTableSaysSo() {
    for (TaskState from : TaskState.values()) {
      for (TaskState to : TaskState.values()) {
        boolean expected = ALLOWED.contains(from.wire() + ">" + to.wire());
        assertThat(from.canMoveTo(to)).as("%s -> %s", from, to).isEqualTo(expected);
      }
    }
  }

  @Test
  void finalStatesHaveNoWayOut() {
    for (TaskState s : TaskState.values()) {
      if (s.isFinal()) {
        for (TaskState to : TaskState.values()) {
          assertThat(s.canMoveTo(to)).isFalse();
        }
      }
    }
  }

  @Test
  void wireNamesRoundTrip() {
    for (TaskState s : TaskState.values()) {
      assertThat(TaskState.fromWire(s.wire())).isEqualTo(s);
    }
  }
}
