package transfer.ledger;

import static transfer.ledger.StoredJson.write;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import transfer.contracts.EventTypes;
import transfer.contracts.Json;
import transfer.contracts.TaskMetrics;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.telemetry.TraceContext;

/**
 * Writes events in the transaction of the state they report: a task's progress, its other events
 * and its completion, and a session's drained event. Each is one row of {@code events}, numbered
 * after the commit ({@link EventSequencer}).
 */
final class EventWriter {
  private final Tx tx;
  private final Clock clock;
  private final ObjectMapper json = Json.mapper();

  EventWriter(Tx tx) {
    this.tx = tx;
    this.clock = tx.clock();
  }

  /**
   * A task's completion event; {@code writer} is the trace context of the attempt that wrote it
   * (null: the task's own).
   */
  void appendCompleted(Connection c, TaskRow task, TraceContext writer) throws SQLException {
    appendCompleted(c, task, writer, null);
  }

  void appendCompleted(Connection c, TaskRow task, TraceContext writer, Integer httpStatus)
      throws SQLException {
    append(c, List.of(completed(task, writer, httpStatus)));
  }

  /**
   * A task's completion event ({@code transfer.task.completed}); {@code httpStatus}: an upload's
   * answer (null for a download).
   */
  NewEvent completed(TaskRow task, TraceContext writer, Integer httpStatus) {
    return completed(task, writer, httpStatus, null);
  }

  /** As above, with what the attempt that completed it cost on the wire (null: none). */
  NewEvent completed(TaskRow task, TraceContext writer, Integer httpStatus, TaskMetrics metrics) {
    ObjectNode data = json.createObjectNode();
    data.put("state", task.state().wire());
    data.set("error", task.error() == null ? null : json.valueToTree(task.error()));
    data.put("location", task.location());
    if (task.state() == TaskState.COMPLETED) {
      data.put("size", task.bytesTransferred());
    }
    data.put("sha256", task.sha256());
    if (httpStatus != null) {
      data.put("httpStatus", httpStatus);
    }
    if (task.type() == transfer.contracts.TaskType.UPLOAD && task.response() != null) {
      // The target's answer: what a POST created, its ETag (the download's is on downloaded).
      data.set("response", json.valueToTree(task.response()));
    }
    if (task.resumeData() != null) {
      data.put("resumeData", task.resumeData());
    }
    if (metrics != null) {
      data.set("metrics", json.valueToTree(metrics));
    }
    // The session's drained event, when this was its last open task, is the sequencer's
    // (sequenceEvents): it sees every final transition of the session in one order.
    return taskEvent(task, EventTypes.COMPLETED, task.id() + ":completed", data, writer);
  }

  /**
   * The completion event of a task whose row cannot be read ({@link UnreadableTasks}): what its
   * plain columns say (id, type as stored, attempt), failed with {@code error}; no metadata, no
   * trace context (both are in the unreadable row). Its id is the task's completion id, as for
   * {@link #completed}.
   */
  NewEvent completedUnreadable(UnreadableTask task, transfer.contracts.TaskError error) {
    ObjectNode data = json.createObjectNode();
    data.put("taskId", task.taskId());
    data.put("taskType", task.type());
    data.put("attempt", task.attempt());
    data.put("state", TaskState.FAILED.wire());
    data.set("error", json.valueToTree(error));
    data.putNull("location");
    data.putNull("sha256");
    return new NewEvent(
        task.tenantId(),
        task.sessionId(),
        EventTypes.COMPLETED,
        task.taskId(),
        task.taskId() + ":completed",
        data,
        null);
  }

  /**
   * The session stopped taking tasks ({@code didBecomeInvalidWithError}): invalidated, its open
   * tasks canceled, or finishing ({@code finishTasks}), its open tasks left to end.
   */
  void appendSessionInvalidated(
      Connection c, String tenantId, String sessionId, boolean finishTasks) throws SQLException {
    ObjectNode data = json.createObjectNode();
    data.put("sessionId", sessionId);
    data.put("finishTasks", finishTasks);
    data.put("state", finishTasks ? "finishing" : "invalidated");
    append(
        c,
        List.of(
            new NewEvent(
                tenantId,
                sessionId,
                EventTypes.SESSION_INVALIDATED,
                null,
                UUID.randomUUID().toString(),
                data,
                null)));
  }

  /** The drained event when no task of the session is open (an invalidation of an idle session). */
  void appendDrainedIfIdle(
      Connection c, String tenantId, String sessionId, String lastTaskId, String eventId)
      throws SQLException {
    Optional<ObjectNode> data = SessionDrain.idleData(c, tenantId, sessionId);
    if (data.isPresent()) {
      data.get().put("lastTaskId", lastTaskId);
      append(
          c,
          List.of(
              new NewEvent(
                  tenantId,
                  sessionId,
                  EventTypes.SESSION_DRAINED,
                  null,
                  eventId,
                  data.get(),
                  null)));
    }
  }

  /**
   * A progress event (URLSession's didWriteData / didSendBodyData): bytes since the previous one,
   * the total so far and the total expected (null when unknown). Progress ids are random: each is a
   * new fact, and a redelivered copy still carries the id it was stored with.
   */
  void appendProgress(
      Connection c,
      TaskRow task,
      TraceContext writer,
      long sinceLastEvent,
      long total,
      Long expected)
      throws SQLException {
    append(c, List.of(progress(task, writer, sinceLastEvent, total, expected)));
  }

  /** A progress event, to {@link #append}. */
  NewEvent progress(
      TaskRow task, TraceContext writer, long sinceLastEvent, long total, Long expected) {
    ObjectNode data = json.createObjectNode();
    data.put("bytesTransferred", sinceLastEvent);
    data.put("totalBytesTransferred", total);
    if (expected != null) {
      data.put("totalBytesExpected", expected);
    } else {
      data.putNull("totalBytesExpected");
    }
    return taskEvent(task, EventTypes.PROGRESS, UUID.randomUUID().toString(), data, writer);
  }

  /**
   * Adds a task's event: {@code taskId}, {@code type}, {@code metadata} join {@code data}; in the
   * trace of {@code writer} (a worker's attempt), else in the task's own.
   */
  void appendTaskEvent(
      Connection c, TaskRow task, String type, String eventId, ObjectNode data, TraceContext writer)
      throws SQLException {
    append(c, List.of(taskEvent(task, type, eventId, data, writer)));
  }

  /**
   * A task's {@code transfer.task.created}: what it is (its headers are write-only and left out),
   * in the trace it was submitted in.
   */
  NewEvent created(TaskRow task) {
    ObjectNode data = json.createObjectNode();
    TaskRequest r = task.request();
    data.put("url", task.url());
    data.put("state", task.state().wire());
    data.put("priority", task.priority());
    data.put("description", r.description());
    data.put(
        "earliestBeginAt", r.earliestBeginAt() == null ? null : r.earliestBeginAt().toString());
    if (r.resumable() != null) {
      data.put("resumable", r.resumable());
    }
    return taskEvent(task, EventTypes.CREATED, task.id() + ":created", data, null);
  }

  /** A task's event, to {@link #append}; see {@link #appendTaskEvent}. */
  NewEvent taskEvent(
      TaskRow task, String type, String eventId, ObjectNode data, TraceContext writer) {
    ObjectNode full = json.createObjectNode();
    full.put("taskId", task.id());
    full.put("taskType", task.type().wire());
    full.put("attempt", task.attempt());
    full.setAll(data);
    if (task.request().metadata() != null) {
      full.set("metadata", task.request().metadata());
    }
    // The writer's context (a worker's attempt), else the task's own: its events stay in its
    // trace.
    return new NewEvent(
        task.tenantId(),
        task.sessionId(),
        type,
        task.id(),
        eventId,
        full,
        writer != null ? writer : task.trace());
  }

  /**
   * An event to add: its session, type, subject (the task; null for a session's event), id, data
   * and the trace context it is published in.
   */
  record NewEvent(
      String tenantId,
      String sessionId,
      String type,
      String taskId,
      String eventId,
      JsonNode data,
      TraceContext trace) {}

  /**
   * Adds events without their numbers, any number of them in one statement, each row once: {@link
   * EventSequencer#sequenceEvents} numbers them after the commit (it finds them by this
   * transaction's id), so that transactions of one session never wait for each other here. Their
   * time is the clock's now.
   */
  void append(Connection c, List<NewEvent> events) throws SQLException {
    insert(c, events, false);
  }

  /**
   * Adds events the caller numbers in the same transaction (the sequencer's drained events): no
   * round takes them (xid 0). Answers their positions by event id.
   */
  Map<String, Long> insertNumbered(Connection c, List<NewEvent> events) throws SQLException {
    return insert(c, events, true);
  }

  private Map<String, Long> insert(Connection c, List<NewEvent> events, boolean numbered)
      throws SQLException {
    Map<String, Long> positions = new HashMap<>();
    if (events.isEmpty()) {
      return positions;
    }
    int n = events.size();
    String[] tenants = new String[n];
    String[] sessions = new String[n];
    String[] ids = new String[n];
    String[] types = new String[n];
    String[] tasks = new String[n];
    String[] data = new String[n];
    String[] traceparents = new String[n];
    String[] tracestates = new String[n];
    for (int i = 0; i < n; i++) {
      NewEvent e = events.get(i);
      tenants[i] = e.tenantId();
      sessions[i] = e.sessionId();
      ids[i] = e.eventId();
      types[i] = e.type();
      tasks[i] = e.taskId();
      data[i] = write(e.data());
      traceparents[i] = e.trace() == null ? null : e.trace().traceparent();
      tracestates[i] = e.trace() == null ? null : e.trace().tracestate();
    }
    // unnest keeps the rows in the order of the arrays, so the positions follow the list.
    try (PreparedStatement ps =
        c.prepareStatement(
            "insert into events (xid, tenant_id, session_id, id, type, task_id, time, data,"
                + " traceparent, tracestate)"
                + " select "
                + (numbered ? "'0'" : "pg_current_xact_id()")
                + ", u.tenant_id, u.session_id, u.id, u.type, u.task_id, ?, u.data::jsonb,"
                + " u.traceparent, u.tracestate"
                + " from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],"
                + " ?::text[], ?::text[]) with ordinality"
                + " as u(tenant_id, session_id, id, type, task_id, data, traceparent, tracestate,"
                + " ord) order by u.ord returning id, pos")) {
      ps.setTimestamp(1, Timestamp.from(clock.instant()));
      int i = 2;
      for (String[] column :
          List.of(tenants, sessions, ids, types, tasks, data, traceparents, tracestates)) {
        ps.setArray(i++, c.createArrayOf("text", column));
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          positions.put(rs.getString(1), rs.getLong(2));
        }
      }
    }
    return positions;
  }
}
