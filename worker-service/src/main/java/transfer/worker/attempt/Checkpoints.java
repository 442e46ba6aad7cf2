package transfer.worker.attempt;

import io.vertx.core.Future;
import transfer.ledger.Leases.Checkpoint;
import transfer.ledger.Leases.FailOutcome;

/**
 * What a transfer records as durable at a heartbeat (a prefix the next attempt may resume from),
 * hands over with a graceful stop, and keeps or drops after a failure. An upload has none ({@link
 * #NONE}): every attempt sends from byte 0.
 */
interface Checkpoints {
  /** No checkpoint, ever. */
  Checkpoints NONE = new Checkpoints() {};

  /** The checkpoint the next heartbeat records, or null; taken, so it is offered once. */
  default Checkpoint take() {
    return null;
  }

  /** A heartbeat recorded {@code checkpoint}. */
  default void recorded(Checkpoint checkpoint) {}

  /** A heartbeat carrying {@code checkpoint} could not be written: offer it again. */
  default void notRecorded(Checkpoint checkpoint) {}

  /** The checkpoint handed to the next worker with a graceful stop, or null. */
  default Checkpoint handBack() {
    return null;
  }

  /**
   * The ledger recorded a failure of the attempt as {@code outcome}: keep or drop what is stored.
   */
  default Future<Void> afterFailure(FailOutcome outcome) {
    return Future.succeededFuture();
  }
}
