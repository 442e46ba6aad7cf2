package transfer.api.events;

import java.util.concurrent.atomic.LongAdder;

/** What the event streams of this instance did, summed over all of them (operations and tests). */
final class StreamCounts {
  /** Reads of the ledger. */
  final LongAdder reads = new LongAdder();

  /** Times a stream stopped reading because its client did not keep up. */
  final LongAdder pauses = new LongAdder();
}
