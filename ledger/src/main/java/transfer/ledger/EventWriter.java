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
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import transfer.contracts.EventTypes;
import transfer.contracts.Json;
import transfer.contracts.TaskState;
import transfer.ledger.EventSequencer.PendingEvent;
import transfer.telemetry.TraceContext;

/**
 * Writes events in the transaction of the state they report: a task's progress, its other events
 * and its completion, and a session's drained event. They wait in {@code pending_events} for their
 * number ({@link EventSequencer}).
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
    if (task.resumeData() != null) {
      data.put("resumeData", task.resumeData());
    }
    // The session's drained event, when this was its last open task, is the sequencer's
    // (sequenceEvents): it sees every final transition of the session in one order.
    return taskEvent(task, EventTypes.COMPLETED, task.id() + ":completed", data, writer);
  }

  /** The drained event when no task of the session is open (an invalidation of an idle session). */
  void appendDrainedIfIdle(
      Connection c, String tenantId, String sessionId, String lastTaskId, String eventId)
      throws SQLException {
    Optional<ObjectNode> data = drainedData(c, tenantId, sessionId, lastTaskId, null);
    if (data.isPresent()) {
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
   * The data of a {@code transfer.session.drained} event (the session's totals) when no task of the
   * session is open; empty otherwise. With {@code numbering} (the session's events the sequencer
   * numbers now; null for an invalidation's own drained event), also empty while other events of
   * the session wait: a later completion among them is the last one, and the batch that numbers it
   * writes the drained event. (Without that check, batches that split a session's last completions
   * wrote a drained event after each of them.)
   */
  Optional<ObjectNode> drainedData(
      Connection c,
      String tenantId,
      String sessionId,
      String lastTaskId,
      List<PendingEvent> numbering)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select exists (select 1 from tasks where tenant_id = ? and session_id = ? and state"
                + " in ('queued', 'waiting', 'running', 'suspended'))")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        if (rs.getBoolean(1)) {
          return Optional.empty();
        }
      }
    }
    if (numbering != null) {
      // After the open-task check, in its own snapshot: every final transition it saw has
      // committed, and their pending events with it (one transaction each), so none is missed;
      // by position, since one that committed late may sit before this batch's.
      try (PreparedStatement ps =
          c.prepareStatement(
              "select exists (select 1 from pending_events where tenant_id = ?"
                  + " and session_id = ? and pos <> all(?))")) {
        ps.setString(1, tenantId);
        ps.setString(2, sessionId);
        ps.setArray(
            3, c.createArrayOf("bigint", numbering.stream().map(PendingEvent::pos).toArray()));
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          if (rs.getBoolean(1)) {
            return Optional.empty();
          }
        }
      }
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "select count(*) filter (where state = 'completed'),"
                + " count(*) filter (where state = 'failed'),"
                + " count(*) filter (where state = 'canceled')"
                + " from tasks where tenant_id = ? and session_id = ?")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        ObjectNode data = json.createObjectNode();
        data.put("sessionId", sessionId);
        data.put("lastTaskId", lastTaskId);
        ObjectNode totals = data.putObject("tasks");
        totals.put("completed", rs.getLong(1));
        totals.put("failed", rs.getLong(2));
        totals.put("canceled", rs.getLong(3));
        return Optional.of(data);
      }
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
   * Adds events without their numbers, any number of them in one statement: {@link
   * EventSequencer#sequenceEvents} numbers them after the commit, so that transactions of one
   * session never wait for each other here. Their time is the clock's now.
   */
  void append(Connection c, List<NewEvent> events) throws SQLException {
    if (events.isEmpty()) {
      return;
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
            "insert into pending_events (tenant_id, session_id, id, type, task_id, time, data,"
                + " traceparent, tracestate)"
                + " select u.tenant_id, u.session_id, u.id, u.type, u.task_id, ?, u.data::jsonb,"
                + " u.traceparent, u.tracestate"
                + " from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],"
                + " ?::text[], ?::text[]) with ordinality"
                + " as u(tenant_id, session_id, id, type, task_id, data, traceparent, tracestate,"
                + " ord) order by u.ord")) {
      ps.setTimestamp(1, Timestamp.from(clock.instant()));
      int i = 2;
      for (String[] column :
          List.of(tenants, sessions, ids, types, tasks, data, traceparents, tracestates)) {
        ps.setArray(i++, c.createArrayOf("text", column));
      }
      ps.executeUpdate();
    }
  }
}
