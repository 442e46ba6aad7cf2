package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * Where the sequencer stops: every transaction is numbered exactly once, whether it commits before
 * a round, during one, or after a round that stopped at its limit.
 */
class SequencerCutTest {

  @Test
  void aRoundThatTakesEverythingLeavesOnlyTheRunningTransactionsInFlight() {
    SequencerCut cut = new SequencerCut(100, Set.of());
    // Snapshot: xmax 110, 103 and 107 still running.
    SequencerCut next = cut.advance(110, Set.of(103L, 107L));
    assertThat(next).isEqualTo(new SequencerCut(110, Set.of(103L, 107L)));
    assertThat(next.numbered(102)).isTrue();
    assertThat(next.numbered(103)).isFalse();
    assertThat(next.numbered(110)).isFalse();
  }

  @Test
  void aTransactionLeftInFlightIsTakenByTheRoundAfterItsCommitAndOnlyByThatOne() {
    SequencerCut cut = new SequencerCut(110, Set.of(103L, 107L));
    // 103 committed, 107 still runs, 111 started and runs.
    Set<Long> running = Set.of(107L, 111L);
    assertThat(cut.finished(running)).containsExactly(103L);
    SequencerCut next = cut.advance(115, running);
    assertThat(next).isEqualTo(new SequencerCut(115, Set.of(107L, 111L)));
    assertThat(next.numbered(103)).isTrue();
    assertThat(next.finished(Set.of(111L))).containsExactly(107L);
  }

  @Test
  void aRoundStoppedAtItsLimitKeepsWhatItDidNotReachForTheNextRound() {
    SequencerCut cut = new SequencerCut(100, Set.of(97L));
    // The snapshot reaches 200, 150 and 97 run; the limit stopped after transaction 120.
    SequencerCut next = cut.advance(121, Set.of(97L, 150L));
    assertThat(next).isEqualTo(new SequencerCut(121, Set.of(97L)));
    assertThat(next.numbered(120)).isTrue();
    assertThat(next.numbered(121)).isFalse();
    // 150 is beyond the horizon: the next round reads it in its range, not as in flight.
    assertThat(next.numbered(150)).isFalse();
    assertThat(next.finished(Set.of(150L))).containsExactly(97L);
  }

  @Test
  void everyTransactionIsNumberedOnceAcrossRounds() {
    // Transactions 1..60 commit in a scrambled order; a round sees a snapshot with some running.
    long[] commitOrder =
        LongStream.rangeClosed(1, 60).map(x -> (x * 37) % 61).filter(x -> x > 0).toArray();
    java.util.Set<Long> committed = new java.util.TreeSet<>();
    java.util.Map<Long, Integer> takenBy = new java.util.HashMap<>();
    SequencerCut cut = new SequencerCut(1, Set.of());
    int round = 0;
    for (int i = 0; i < commitOrder.length; i += 7) {
      for (int j = i; j < Math.min(i + 7, commitOrder.length); j++) {
        committed.add(commitOrder[j]);
      }
      long xmax = committed.stream().mapToLong(Long::longValue).max().orElse(0) + 1;
      Set<Long> running = new java.util.TreeSet<>();
      for (long x = 1; x < xmax; x++) {
        if (!committed.contains(x)) {
          running.add(x);
        }
      }
      round++;
      for (long x : committed) {
        if (!cut.numbered(x) && (cut.inFlight().contains(x) || x >= cut.horizon())) {
          assertThat(takenBy.putIfAbsent(x, round)).as("transaction %d taken twice", x).isNull();
        }
      }
      cut = cut.advance(xmax, running);
      for (long x : committed) {
        assertThat(cut.numbered(x)).as("transaction %d after round %d", x, round).isTrue();
      }
    }
    assertThat(takenBy.keySet()).hasSize(60);
  }
}
