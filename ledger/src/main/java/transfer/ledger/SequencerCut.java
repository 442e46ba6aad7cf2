package transfer.ledger;

import java.util.Set;
import java.util.TreeSet;

/**
 * Where the sequencer stopped, as a snapshot stores it: the events of every transaction below
 * {@code horizon} and not {@code inFlight} are numbered; the others are not, yet. PgQ finds its
 * batches the same way: the transactions that committed between two snapshots.
 *
 * <p>A round reads the current snapshot (its {@code xmax} and its running transactions) and numbers
 * the events of the transactions it shows committed that this cut does not: those of {@code
 * inFlight} that finished ({@link #finished}), and those from {@code horizon} up to the snapshot's
 * {@code xmax} that are not running. A round that stops early (its limit) stops after a whole
 * transaction, below {@code xmax}; {@link #advance} gives the cut it leaves.
 */
record SequencerCut(long horizon, Set<Long> inFlight) {
  SequencerCut {
    inFlight = Set.copyOf(new TreeSet<>(inFlight));
  }

  /** Whether the events of transaction {@code xid} are numbered at this cut. */
  boolean numbered(long xid) {
    return xid < horizon && !inFlight.contains(xid);
  }

  /**
   * The transactions this cut left in flight that are not running any more (committed or rolled
   * back): a round numbers all their events.
   */
  Set<Long> finished(Set<Long> running) {
    Set<Long> done = new TreeSet<>(inFlight);
    done.removeAll(running);
    return done;
  }

  /**
   * The cut after a round that numbered, besides the {@link #finished} transactions, every event of
   * the transactions from {@code horizon} below {@code to} that are not {@code running}: those
   * still running stay in flight, below the new horizon or not.
   */
  SequencerCut advance(long to, Set<Long> running) {
    long next = Math.max(horizon, to);
    Set<Long> left = new TreeSet<>();
    for (long xid : running) {
      if (inFlight.contains(xid) || (xid >= horizon && xid < next)) {
        left.add(xid);
      }
    }
    return new SequencerCut(next, left);
  }
}
