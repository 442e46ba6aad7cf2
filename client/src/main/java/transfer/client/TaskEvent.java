package transfer.client;

import com.fasterxml.jackson.databind.JsonNode;
import transfer.contracts.CloudEvent;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;

/**
 * The task an event is about, as the event tells it (URLSession hands the task object to every
 * delegate method): its session and id, type, attempt, the metadata it was submitted with, and the
 * event itself for anything else ({@code event().id()}, {@code event().sequence()}, {@code
 * event().data()}).
 */
public record TaskEvent(
    String sessionId,
    String taskId,
    TaskType type,
    int attempt,
    JsonNode metadata,
    CloudEvent event) {

  static TaskEvent of(String sessionId, CloudEvent e) {
    JsonNode d = e.data();
    String type = d == null ? null : d.path("taskType").asText(null);
    return new TaskEvent(
        sessionId,
        e.subject() != null ? e.subject() : d == null ? null : d.path("taskId").asText(null),
        type == null ? null : typeOf(type),
        d == null ? 0 : d.path("attempt").asInt(0),
        d == null || d.get("metadata") == null || d.get("metadata").isNull()
            ? null
            : d.get("metadata"),
        e);
  }

  private static TaskType typeOf(String wire) {
    try {
      return TaskType.fromWire(wire);
    } catch (IllegalArgumentException newerServer) {
      return null; // a type this version does not know: the event still reaches the listener
    }
  }

  /**
   * The final state a {@code transfer.task.completed} event reports ({@code completed}, {@code
   * failed}, {@code canceled}); null for other events (and for a state this version does not know).
   */
  public TaskState finalState() {
    JsonNode s = event.data() == null ? null : event.data().get("state");
    if (s == null || s.isNull()) {
      return null;
    }
    try {
      return TaskState.fromWire(s.asText());
    } catch (IllegalArgumentException newerServer) {
      return null;
    }
  }
}
