package transfer.ledger;

import static transfer.ledger.Sql.execute;
import static transfer.ledger.Sql.instant;
import static transfer.ledger.Sql.rows;
import static transfer.ledger.StoredJson.read;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.List;
import java.util.Optional;
import transfer.contracts.ReceivedResponse;
import transfer.contracts.TaskError;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.telemetry.TraceContext;

/**
 * The task row: its columns, its mapping to {@link TaskRow}, and the reads and updates of one task
 * by id (a lease holder's fenced updates are {@link LeaseBatch}'s).
 */
final class TaskRows {

  private TaskRows() {}

  static final String TASK_COLUMNS =
      "t.id, t.tenant_id, t.session_id, t.type, t.state, t.url, t.request, t.priority, t.attempt,"
          + " t.max_attempts, t.next_attempt_at, t.lease_owner, t.lease_epoch, t.lease_expires_at,"
          + " t.bytes_transferred, t.bytes_durable, t.bytes_expected, t.etag, t.last_modified,"
          + " t.location, t.sha256, t.error, t.created_at, t.updated_at, t.finished_at,"
          + " t.durable_epoch, t.deadline_at, t.host, t.discretionary, t.durable_task,"
          + " t.source_location, t.source_size, t.source_sha256, t.resume_data,"
          + " t.traceparent, t.tracestate, t.uncounted_attempts, t.waiting_reason, t.response,"
          + " t.upload_resource, t.durable_state";

  /** Locks the task of a lease, fenced by its epoch; empty when the lease is no longer held. */
  static Optional<TaskRow> lockRunning(Connection c, Lease lease) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select "
                + TASK_COLUMNS
                + " from tasks t where t.id = ? and t.lease_epoch = ? and t.state = 'running'"
                + " for update")) {
      ps.setString(1, lease.taskId());
      ps.setLong(2, lease.epoch());
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(taskRow(rs)) : Optional.empty();
      }
    }
  }

  static void updateUnfenced(Connection c, String taskId, String setClause, Object... params)
      throws SQLException {
    Object[] all = java.util.Arrays.copyOf(params, params.length + 1);
    all[params.length] = taskId;
    execute(c, "update tasks set " + setClause + " where id = ?", all);
  }

  /**
   * Locks up to {@code limit} tasks matching {@code where} (its one parameter is {@code at}),
   * skipping those another transaction holds; those that cannot be read go to {@code unreadable}.
   */
  static List<TaskRow> selectForUpdate(
      Connection c, String where, Timestamp at, int limit, List<UnreadableTask> unreadable)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select "
                + TASK_COLUMNS
                + " from tasks t where "
                + where
                + " limit ? for update skip locked")) {
      ps.setTimestamp(1, at);
      ps.setInt(2, limit);
      return readableRows(ps, unreadable);
    }
  }

  static Optional<TaskRow> taskById(Connection c, String id) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("select " + TASK_COLUMNS + " from tasks t where t.id = ?")) {
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(taskRow(rs)) : Optional.empty();
      }
    }
  }

  /** The tasks of these ids that exist, by id, in one statement. */
  static java.util.Map<String, TaskRow> tasksByIds(Connection c, java.util.Collection<String> ids)
      throws SQLException {
    java.util.Map<String, TaskRow> out = new java.util.HashMap<>();
    if (ids.isEmpty()) {
      return out;
    }
    try (PreparedStatement ps =
        c.prepareStatement("select " + TASK_COLUMNS + " from tasks t where t.id = any(?)")) {
      ps.setArray(1, c.createArrayOf("text", ids.toArray()));
      for (TaskRow t : rows(ps, TaskRows::taskRow)) {
        out.put(t.id(), t);
      }
    }
    return out;
  }

  /**
   * The task of this row; {@link UnreadableTask} when a column this version must understand cannot
   * be read (its stored JSON, its type or state).
   */
  static TaskRow taskRow(ResultSet rs) throws SQLException {
    try {
      return readTaskRow(rs);
    } catch (IllegalStateException | IllegalArgumentException e) {
      throw UnreadableTask.of(rs, e);
    }
  }

  /**
   * Every task row of the statement's result that can be read, in order; those that cannot are
   * added to {@code unreadable} and the others still answered.
   */
  static List<TaskRow> readableRows(PreparedStatement ps, List<UnreadableTask> unreadable)
      throws SQLException {
    return rows(ps, rs -> readable(rs, unreadable)).stream().filter(t -> t != null).toList();
  }

  /** The row's task, or null (and the row added to {@code unreadable}) when it cannot be read. */
  static TaskRow readable(ResultSet rs, List<UnreadableTask> unreadable) throws SQLException {
    try {
      return taskRow(rs);
    } catch (UnreadableTask u) {
      unreadable.add(u);
      return null;
    }
  }

  private static TaskRow readTaskRow(ResultSet rs) throws SQLException {
    String error = rs.getString("error");
    String response = rs.getString("response");
    return new TaskRow(
        rs.getString("id"),
        rs.getString("tenant_id"),
        rs.getString("session_id"),
        TaskType.fromWire(rs.getString("type")),
        TaskState.fromWire(rs.getString("state")),
        rs.getString("url"),
        read(rs.getString("request"), TaskRequest.class),
        rs.getDouble("priority"),
        rs.getInt("attempt"),
        rs.getInt("max_attempts"),
        instant(rs, "next_attempt_at"),
        rs.getString("lease_owner"),
        rs.getLong("lease_epoch"),
        instant(rs, "lease_expires_at"),
        rs.getLong("bytes_transferred"),
        rs.getLong("bytes_durable"),
        (Long) rs.getObject("bytes_expected"),
        rs.getString("etag"),
        rs.getString("last_modified"),
        rs.getString("location"),
        rs.getString("sha256"),
        error == null ? null : read(error, TaskError.class),
        instant(rs, "created_at"),
        instant(rs, "updated_at"),
        instant(rs, "finished_at"),
        (Long) rs.getObject("durable_epoch"),
        instant(rs, "deadline_at"),
        rs.getString("host"),
        rs.getBoolean("discretionary"),
        rs.getString("durable_task"),
        rs.getString("source_location"),
        (Long) rs.getObject("source_size"),
        rs.getString("source_sha256"),
        rs.getString("resume_data"),
        TraceContext.of(rs.getString("traceparent"), rs.getString("tracestate")),
        rs.getInt("uncounted_attempts"),
        rs.getString("waiting_reason"),
        response == null ? null : read(response, ReceivedResponse.class),
        rs.getString("upload_resource"),
        rs.getString("durable_state"));
  }
}
