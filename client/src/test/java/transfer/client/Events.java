package transfer.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import transfer.contracts.CloudEvent;
import transfer.contracts.EventTypes;
import transfer.contracts.Json;

/** CloudEvents as the cluster writes them, for the feed tests. */
final class Events {
  private Events() {}

  static CloudEvent event(
      String sid, long seq, String id, String type, String task, JsonNode data) {
    return new CloudEvent(
        "1.0",
        id,
        type,
        CloudEvent.sourceOf(sid),
        task,
        Instant.parse("2026-11-21T12:00:00Z"),
        seq,
        "application/json",
        data,
        "t1");
  }

  static ObjectNode taskData(String task, String taskType) {
    ObjectNode d = Json.mapper().createObjectNode();
    d.put("taskId", task);
    d.put("taskType", taskType);
    d.put("attempt", 1);
    return d;
  }

  static CloudEvent progress(String sid, long seq, String task, long bytes, long total) {
    ObjectNode d = taskData(task, "download");
    d.put("bytesTransferred", bytes);
    d.put("totalBytesTransferred", total);
    d.put("totalBytesExpected", 1000);
    return event(sid, seq, "p-" + sid + "-" + seq, EventTypes.PROGRESS, task, d);
  }

  static CloudEvent completed(String sid, long seq, String task) {
    ObjectNode d = taskData(task, "download");
    d.put("state", "completed");
    d.putNull("error");
    return event(sid, seq, task + ":completed", EventTypes.COMPLETED, task, d);
  }

  /** The same event naming another tenant (null: none). */
  static CloudEvent withTenant(CloudEvent e, String tenant) {
    return new CloudEvent(
        e.specversion(),
        e.id(),
        e.type(),
        e.source(),
        e.subject(),
        e.time(),
        e.sequence(),
        e.datacontenttype(),
        e.data(),
        tenant);
  }

  static String json(CloudEvent e) {
    try {
      return Json.mapper().writeValueAsString(e);
    } catch (Exception x) {
      throw new IllegalStateException(x);
    }
  }
}
