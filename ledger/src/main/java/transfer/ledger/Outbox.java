package transfer.ledger;

import static transfer.ledger.Sql.bind;
import static transfer.ledger.Sql.rows;
import static transfer.ledger.StoredJson.write;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import transfer.contracts.Doorbell;
import transfer.contracts.Topics;
import transfer.telemetry.TraceContext;

/**
 * The outbox: rows to publish to Kafka, written in the transaction of what they announce, read and
 * deleted by the relay once Kafka has them. Doorbells ({@code transfer-tasks}) are written here.
 */
public final class Outbox {
  /**
   * The channel PostgreSQL notifies when events wait for their number or outbox rows for the relay
   * (the triggers of V6), and when the sequencer has numbered events: {@code LISTEN} on it.
   */
  public static final String CHANNEL = "transfer_outbox";

  private final Tx tx;

  Outbox(Tx tx) {
    this.tx = tx;
  }

  /**
   * A slot of a session freed up (a running task ended or was suspended): ring for one of its
   * queued tasks, which a claim may have passed over while the session or host was at its limit.
   */
  void ringSession(Connection c, String tenantId, String sessionId) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select id, traceparent, tracestate from tasks where tenant_id = ? and session_id = ?"
                + " and state = 'queued' order by created_at limit 1")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          // That task's doorbell, in that task's trace.
          doorbells(
              c,
              List.of(rs.getString(1)),
              sessionId,
              List.of(Optional.ofNullable(TraceContext.of(rs.getString(2), rs.getString(3)))));
        }
      }
    }
  }

  /** The oldest unpublished outbox rows, in the order they must be published. */
  public List<OutboxMessage> pending(int limit) {
    return tx.run(
        "read outbox",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select id, topic, msg_key, payload, traceparent, tracestate from outbox"
                      + " order by id limit ?")) {
            ps.setInt(1, limit);
            return rows(
                ps,
                rs ->
                    new OutboxMessage(
                        rs.getLong(1),
                        rs.getString(2),
                        rs.getString(3),
                        rs.getString(4),
                        TraceContext.of(rs.getString(5), rs.getString(6))));
          }
        });
  }

  /** Deletes published rows (Kafka has acknowledged them). */
  public void delete(List<Long> ids) {
    if (ids.isEmpty()) {
      return;
    }
    tx.run(
        "delete published outbox rows",
        c -> {
          try (PreparedStatement ps = c.prepareStatement("delete from outbox where id = any(?)")) {
            ps.setArray(1, c.createArrayOf("bigint", ids.toArray()));
            ps.executeUpdate();
          }
          return null;
        });
  }

  /**
   * One outbox row, with the trace context its publishing continues; the table's trigger wakes the
   * relay at commit (V6).
   */
  static final String OUTBOX_INSERT =
      "insert into outbox (topic, msg_key, payload, created_at, traceparent, tracestate)"
          + " values (?, ?, ?, ?, ?, ?)";

  static void bindOutbox(
      PreparedStatement ps,
      String topic,
      String key,
      String payload,
      Timestamp now,
      TraceContext context)
      throws SQLException {
    bind(
        ps,
        topic,
        key,
        payload,
        now,
        context == null ? null : context.traceparent(),
        context == null ? null : context.tracestate());
  }

  /**
   * The doorbells of tasks, of any sessions, in one statement. Each carries its task's stored trace
   * context, whoever rings it (the submit, the reaper, a hand-back): a requeued task's next attempt
   * is in the trace of its submission.
   */
  void doorbells(Connection c, List<TaskRow> tasks) throws SQLException {
    List<String> ids = new ArrayList<>(tasks.size());
    List<String> payloads = new ArrayList<>(tasks.size());
    List<TraceContext> traces = new ArrayList<>(tasks.size());
    for (TaskRow t : tasks) {
      ids.add(t.id());
      payloads.add(write(new Doorbell(t.id(), t.sessionId())));
      traces.add(t.trace());
    }
    insertDoorbells(c, ids, payloads, traces);
  }

  void doorbells(
      Connection c, List<String> taskIds, String sessionId, List<Optional<TraceContext>> traces)
      throws SQLException {
    insertDoorbells(
        c,
        taskIds,
        taskIds.stream().map(id -> write(new Doorbell(id, sessionId))).toList(),
        traces.stream().map(t -> t.orElse(null)).toList());
  }

  /** One insert of all the doorbells ({@link Insert}: one statement for any number). */
  private void insertDoorbells(
      Connection c, List<String> taskIds, List<String> payloads, List<TraceContext> traces)
      throws SQLException {
    Insert rows = Insert.rowsInto("outbox");
    Timestamp now = tx.now();
    for (int i = 0; i < taskIds.size(); i++) {
      TraceContext t = traces.get(i);
      rows.row()
          .set("topic", Topics.TASKS)
          .set("msg_key", taskIds.get(i))
          .set("payload", payloads.get(i))
          .set("created_at", now)
          .set("traceparent", t == null ? null : t.traceparent())
          .set("tracestate", t == null ? null : t.tracestate());
    }
    rows.execute(c);
  }

  void doorbell(Connection c, TaskRow task) {
    try {
      doorbells(c, List.of(task));
    } catch (SQLException e) {
      throw new LedgerException("cannot write doorbell of task " + task.id(), e);
    }
  }
}
