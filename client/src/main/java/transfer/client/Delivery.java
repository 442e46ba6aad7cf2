package transfer.client;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import transfer.contracts.CloudEvent;
import transfer.contracts.EventTypes;
import transfer.contracts.TaskError;
import transfer.contracts.TaskMetrics;
import transfer.contracts.TaskType;

/**
 * The one gate both feeds pass events through: drop what was delivered (by id, and by sequence at
 * or below the session's order mark, the last sequence delivered without a gap), call the listener,
 * and record the event only after the listener returned. Calls for one session must not overlap
 * (each feed guarantees that by its threading).
 */
final class Delivery {
  private static final System.Logger LOG = System.getLogger(Delivery.class.getName());

  /** What became of an event. */
  enum Outcome {
    /** The listener returned; the event is recorded. */
    DELIVERED,
    /** Its id was delivered before. */
    DUPLICATE,
    /** Its sequence is not above the session's last delivered one: a redelivery. */
    STALE
  }

  private final TransferListener listener;
  private final DedupeStore store;
  private final ObjectMapper json;
  private final boolean gapsHoldTheMark;

  /** A gate for a source anyone able to write to may have added to: the Kafka topic. */
  Delivery(TransferListener listener, DedupeStore store, ObjectMapper json) {
    this(listener, store, json, true);
  }

  /**
   * {@code gapsHoldTheMark} false: a source only the cluster writes (the API's event stream, per
   * tenant), whose sequences move the order mark whatever their gaps.
   */
  Delivery(
      TransferListener listener, DedupeStore store, ObjectMapper json, boolean gapsHoldTheMark) {
    this.listener = listener;
    this.store = store;
    this.json = json;
    this.gapsHoldTheMark = gapsHoldTheMark;
  }

  DedupeStore store() {
    return store;
  }

  /**
   * Delivers the event unless it was delivered before; {@code floor} is a sequence known from
   * elsewhere to be delivered already (the Kafka feed's committed watermark; 0 if none). Whatever
   * the listener throws propagates, and the event is then not recorded.
   */
  Outcome deliver(String sessionId, CloudEvent e, long floor) {
    if (store.contains(sessionId, e.id())) {
      return Outcome.DUPLICATE;
    }
    long last = Math.max(floor, store.lastSequence(sessionId));
    if (e.sequence() <= last) {
      LOG.log(
          System.Logger.Level.DEBUG,
          "event {0} (sequence {1}) of session {2} not delivered: sequence {3} was delivered",
          e.id(),
          e.sequence(),
          sessionId,
          last);
      return Outcome.STALE;
    }
    dispatch(sessionId, e);
    store.record(sessionId, e.id(), markAfter(sessionId, e, last));
    return Outcome.DELIVERED;
  }

  /**
   * The session's order mark once {@code e} is delivered: its sequence when it follows {@code last}
   * without a gap, else still {@code last}. The cluster numbers a session's events one by one, so
   * the mark follows the events it published; an event that jumps ahead (a forged one, or the first
   * one read after the topic's retention dropped older ones) is delivered, but does not move the
   * mark, or one forged large sequence would make every later event look stale. Such a session's
   * copies are then dropped by their ids only.
   */
  private long markAfter(String sessionId, CloudEvent e, long last) {
    if (e.sequence() == last + 1 || !gapsHoldTheMark) {
      return e.sequence();
    }
    LOG.log(
        System.Logger.Level.DEBUG,
        "event {0} of session {1} has sequence {2} after {3}: delivered, the order mark stays",
        e.id(),
        sessionId,
        e.sequence(),
        last);
    return last;
  }

  private void dispatch(String sessionId, CloudEvent e) {
    listener.onEvent(e);
    JsonNode d = e.data() == null ? json.createObjectNode() : e.data();
    switch (e.type() == null ? "" : e.type()) {
      case EventTypes.PROGRESS -> {
        TaskEvent t = TaskEvent.of(sessionId, e);
        long bytes = d.path("bytesTransferred").asLong(0);
        long total = d.path("totalBytesTransferred").asLong(0);
        JsonNode ex = d.get("totalBytesExpected");
        long expected = ex == null || ex.isNull() ? -1 : ex.asLong();
        if (t.type() == TaskType.UPLOAD) {
          listener.didSendBodyData(t, bytes, total, expected);
        } else {
          listener.didWriteData(t, bytes, total, expected);
        }
      }
      case EventTypes.DOWNLOADED -> {
        String location = d.path("location").asText(null);
        URI uri = null;
        try {
          uri = location == null ? null : URI.create(location);
        } catch (IllegalArgumentException notAUri) {
          LOG.log(
              System.Logger.Level.WARNING, "event {0}: location {1} is no URI", e.id(), location);
        }
        listener.didFinishDownloadingTo(
            TaskEvent.of(sessionId, e),
            uri,
            d.path("size").asLong(-1),
            d.path("sha256").asText(null));
      }
      case EventTypes.RESUMED -> {
        JsonNode total = d.get("expectedTotalBytes");
        listener.didResumeAtOffset(
            TaskEvent.of(sessionId, e),
            d.path("fileOffset").asLong(0),
            total == null || total.isNull() ? -1 : total.asLong());
      }
      case EventTypes.WAITING ->
          listener.taskIsWaitingForConnectivity(
              TaskEvent.of(sessionId, e),
              d.path("reason").asText(null),
              error(d),
              instant(d, "nextAttemptAt"),
              instant(d, "deadlineAt"));
      case EventTypes.CREDENTIALS_REQUIRED ->
          listener.didReceiveCredentialsChallenge(
              TaskEvent.of(sessionId, e),
              d.path("httpStatus").asInt(0),
              error(d),
              instant(d, "deadlineAt"));
      case EventTypes.CREATED ->
          listener.didCreateTask(TaskEvent.of(sessionId, e), d.path("url").asText(null));
      case EventTypes.COMPLETED -> {
        TaskEvent t = TaskEvent.of(sessionId, e);
        TaskMetrics metrics = metrics(e, d);
        if (metrics != null) {
          listener.didFinishCollectingMetrics(t, metrics);
        }
        listener.didCompleteWithError(t, error(d));
      }
      case EventTypes.SESSION_DRAINED -> listener.didFinishEvents(sessionId, e);
      case EventTypes.SESSION_INVALIDATED -> listener.didBecomeInvalidWithError(sessionId, null);
      default -> {
        // A type this version does not know: onEvent had it.
      }
    }
  }

  /** The {@code metrics} of a completion's data, or null (none, or unreadable: logged). */
  private TaskMetrics metrics(CloudEvent e, JsonNode d) {
    JsonNode m = d.get("metrics");
    if (m == null || m.isNull()) {
      return null;
    }
    try {
      // A newer cluster may measure more: what this version does not know is skipped.
      return json.readerFor(TaskMetrics.class)
          .without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .readValue(m);
    } catch (Exception unreadable) {
      LOG.log(
          System.Logger.Level.WARNING,
          "event {0}: metrics unreadable ({1}); the completion is delivered without them",
          e.id(),
          unreadable.getMessage());
      return null;
    }
  }

  /** The {@code error} of an event's data, or null; one it cannot read keeps its code. */
  private TaskError error(JsonNode d) {
    JsonNode err = d.get("error");
    if (err == null || err.isNull()) {
      return null;
    }
    try {
      return json.treeToValue(err, TaskError.class);
    } catch (Exception unreadable) {
      return new TaskError(err.path("code").asText("unknown"), err.toString(), null, false);
    }
  }

  /** An instant of an event's data, or null when absent or unreadable. */
  private static java.time.Instant instant(JsonNode d, String field) {
    JsonNode v = d.get(field);
    if (v == null || !v.isTextual()) {
      return null;
    }
    try {
      return java.time.Instant.parse(v.asText());
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  /** The session of an event: its {@code source} is {@code /sessions/{sid}}. */
  static String sessionOf(CloudEvent e) {
    String src = e.source();
    return src != null && src.startsWith("/sessions/")
        ? src.substring("/sessions/".length())
        : null;
  }
}
