package transfer.api.relay;

import io.quarkus.logging.Log;
import java.util.Map;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.RecordBatchTooLargeException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.SerializationException;
import transfer.ledger.Outbox;
import transfer.ledger.OutboxMessage;

/**
 * When the relay gives up on a record Kafka refused: it parks it (sets it aside in {@code
 * outbox_parked}) so that one record that can never be sent holds up neither its lane nor the
 * other.
 *
 * <p>A refusal counts against the record only when it is the record's own fault: Kafka took another
 * record of the same lane's pass (so the broker is reachable and takes records), the broker said
 * the record's topic cannot be had (a tenant topic missing that may not be made), or the error is
 * one no retry mends (the record is too large for the broker, the topic name is invalid), which
 * parks at once. A pass in which Kafka took nothing counts against nothing, whatever the errors: a
 * broker outage, or credentials or ACLs that refuse the whole lane, is the cluster's trouble, not a
 * record's, and the lane's records wait however long it lasts (the other lane goes on). The others
 * park after {@code park-after} counted refusals.
 */
final class RefusedRecords {
  private RefusedRecords() {}

  /**
   * The parked record of {@code m}, refused with {@code error}, or null while it is still to be
   * sent again. {@code tries} holds the lane's counted refusals by id; {@code anyTaken}: Kafka took
   * another record of the same pass (or said that this record's topic cannot be had).
   */
  static Outbox.Parked park(
      OutboxMessage m,
      boolean event,
      Throwable error,
      boolean anyTaken,
      Map<Long, Integer> tries,
      int parkAfter) {
    boolean ownFault = anyTaken || hopeless(error);
    if (!ownFault) {
      return null;
    }
    int n = tries.merge(m.id(), 1, Integer::sum);
    if (n < parkAfter && !hopeless(error)) {
      return null;
    }
    tries.remove(m.id());
    String lane = event ? "event" : "doorbell";
    Log.errorf(
        "outbox relay: parked the %s %d (topic %s, key %s) after %d refusal(s) by Kafka, last: %s."
            + " The other records go on. It is kept in outbox_parked (lane %s) for an operator;"
            + " %s",
        lane,
        m.id(),
        m.topic(),
        m.key(),
        n,
        error,
        event ? "events" : "doorbells",
        event
            ? "replay and SSE still serve the event"
            : "its task is still claimed (a worker's idle poll) and rung again by the reaper");
    return new Outbox.Parked(m, event, error.toString(), n);
  }

  /** Errors no retry of the same record mends. */
  static boolean hopeless(Throwable error) {
    return error instanceof RecordTooLargeException
        || error instanceof RecordBatchTooLargeException
        || error instanceof InvalidTopicException
        || error instanceof SerializationException;
  }

  /** Whether a failure is the broker not answering (a timeout), rather than about one record. */
  static boolean unreachable(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof java.util.concurrent.TimeoutException
          || t instanceof org.apache.kafka.common.errors.TimeoutException) {
        return true;
      }
    }
    return false;
  }
}
