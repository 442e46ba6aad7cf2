package transfer.ledger;

import static transfer.ledger.StoredJson.write;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import transfer.contracts.EventTypes;
import transfer.contracts.Json;
import transfer.ledger.EventWriter.NewEvent;
import transfer.ledger.LeaseWrite.Fail;

/**
 * The events a lease holder's writes add besides progress and completion ({@link LeaseBatch}): a
 * waiting spell, a refused credential, a resumption; and the stored form of what the other side
 * answered. Each id derives from the task and its attempt, so a retried write adds none twice.
 */
final class LeaseEvents {
  private final EventWriter events;
  private final ObjectMapper json = Json.mapper();

  LeaseEvents(EventWriter events) {
    this.events = events;
  }

  /** The origin refused the task's credentials: the service is asked for new ones. */
  NewEvent credentialsRequired(TaskRow task, Fail f) {
    ObjectNode data = json.createObjectNode();
    data.put("httpStatus", f.error().httpStatus());
    data.set("error", json.valueToTree(f.error()));
    data.put("deadlineAt", task.deadlineAt() == null ? null : task.deadlineAt().toString());
    return events.taskEvent(
        task,
        EventTypes.CREDENTIALS_REQUIRED,
        task.id() + ":credentials_required:" + task.attempt(),
        data,
        f.lease().trace());
  }

  /**
   * A download continued stored bytes ({@code didResumeAtOffset}): from {@code offset}, of {@code
   * expected} in all (null when unknown). One per attempt.
   */
  NewEvent resumed(TaskRow row, Lease lease, long offset, Long expected) {
    ObjectNode data = json.createObjectNode();
    data.put("fileOffset", offset);
    if (expected != null) {
      data.put("expectedTotalBytes", expected);
    } else {
      data.putNull("expectedTotalBytes");
    }
    return events.taskEvent(
        row, EventTypes.RESUMED, row.id() + ":resumed:" + row.attempt(), data, lease.trace());
  }

  static String responseJson(transfer.contracts.ReceivedResponse response) {
    return response == null ? null : write(response);
  }

  /** The event of a waiting spell: why, the last error, when the next attempt is, the deadline. */
  NewEvent waiting(TaskRow task, Fail f, String reason, Instant next) {
    ObjectNode data = json.createObjectNode();
    data.put("reason", reason);
    data.set("error", json.valueToTree(f.error()));
    data.put("nextAttemptAt", next.toString());
    data.put("deadlineAt", task.deadlineAt() == null ? null : task.deadlineAt().toString());
    // One per spell and attempt: a redelivered copy keeps its id.
    return events.taskEvent(
        task,
        EventTypes.WAITING,
        task.id() + ":waiting:" + task.attempt(),
        data,
        f.lease().trace());
  }
}
