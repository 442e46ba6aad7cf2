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
 * What the relay publishes to Kafka, in two lanes that it reads and records apart: the outbox's
 * rows (doorbells, {@code transfer-tasks}), written in the transaction of what they announce and
 * deleted once Kafka has them, and the numbered events ({@code transfer-events}) after the relay's
 * cursor, which moves once Kafka has them.
 */
public final class Outbox {
  private final Tx tx;

  Outbox(Tx tx) {
    this.tx = tx;
  }

  /**
   * A slot of a session freed up (a running task ended or was suspended): ring for one of its
   * queued tasks, which a claim may have passed over while the session or host was at its limit.
   * Which one does not matter (the claim it causes takes the best claimable task): the first on
   * tasks_queued_by_group, one index descent.
   */
  void ringSession(Connection c, String tenantId, String sessionId) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select id, traceparent, tracestate from tasks where tenant_id = ? and session_id = ?"
                + " and state = 'queued' limit 1")) {
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

  /**
   * The doorbells lane's next batch: up to {@code limit} of the oldest outbox rows. One statement
   * outside a transaction.
   */
  public List<OutboxMessage> oldestDoorbells(int limit) {
    return tx.read("read the doorbells that wait to be published", c -> doorbells(c, limit));
  }

  private static List<OutboxMessage> doorbells(Connection c, int limit) throws SQLException {
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
                  TraceContext.of(rs.getString(5), rs.getString(6)),
                  null));
    }
  }

  /**
   * Whether a doorbell waits to be published. One statement outside a transaction, for a lane that
   * polls while idle.
   */
  public boolean hasDoorbells() {
    // A scalar subquery keeps its ORDER BY and LIMIT, so it reads the head of the primary key. The
    // EXISTS form cost about 1.2 ms a look under bench/small-files (pg_stat_statements); likely a
    // sequential scan over the outbox's dead rows, which it is emptied of as fast as it fills.
    return look("select (select id from outbox order by id limit 1) is not null", null);
  }

  /**
   * Whether a numbered event after {@code afterOrd} waits to be published. One statement outside a
   * transaction, for a lane that polls while idle.
   */
  public boolean hasNumberedEvents(long afterOrd) {
    return look(
        "select (select ord from event_numbers where ord > ? and publish order by ord limit 1)"
            + " is not null",
        afterOrd);
  }

  private boolean look(String sql, Long afterOrd) {
    return tx.read(
        "look for what waits to be published",
        c -> {
          try (PreparedStatement ps = c.prepareStatement(sql)) {
            if (afterOrd != null) {
              ps.setLong(1, afterOrd);
            }
            return rows(ps, rs -> rs.getBoolean(1)).get(0);
          }
        });
  }

  /** The relay's cursor: every event up to this global order ({@code ord}) is published. */
  public long publishedEvents() {
    return tx.run(
        "read the relay's cursor",
        c -> {
          try (PreparedStatement ps =
                  c.prepareStatement("select ord from event_publisher where id = 1");
              ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
          }
        });
  }

  /**
   * The numbered events after {@code afterOrd} that their sessions send, oldest first, as records
   * for {@code transfer-events} (key: the session): the CloudEvent built from the stored columns,
   * in the trace context of whoever wrote the event. A message's {@code id} is its {@code ord}.
   */
  public List<OutboxMessage> numberedEvents(long afterOrd, int limit) {
    return tx.read("read numbered events to publish", c -> numberedEvents(c, afterOrd, limit));
  }

  /** The numbered events to publish after the relay's cursor, in order, a batch at a time. */
  static final String NUMBERED_EVENTS =
      "select n.ord, e.traceparent, e.tracestate, "
          + EventRows.COLUMNS
          + " from "
          + EventRows.fromNumbers(
              "select * from event_numbers n where n.ord > ? and n.publish order by n.ord limit ?")
          + " order by n.ord";

  private static List<OutboxMessage> numberedEvents(Connection c, long afterOrd, int limit)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(NUMBERED_EVENTS)) {
      ps.setLong(1, afterOrd);
      ps.setInt(2, limit);
      return rows(
          ps,
          rs ->
              new OutboxMessage(
                  rs.getLong(1),
                  Topics.EVENTS,
                  rs.getString(6),
                  write(EventRows.cloudEvent(rs, 4)),
                  TraceContext.of(rs.getString(2), rs.getString(3)),
                  rs.getString(5)));
    }
  }

  /**
   * A record the relay gives up on: Kafka refused it {@code tries} times (or once, for an error no
   * retry mends), last with {@code error}. A doorbell ({@code event} false) is its outbox row; an
   * event, the numbered event of that {@code ord} ({@link OutboxMessage#id()}).
   */
  public record Parked(OutboxMessage message, boolean event, String error, int tries) {}

  /**
   * What Kafka acknowledged of the doorbells lane, in one transaction: the outbox rows {@code ids}
   * are deleted, and those of {@code parked} move to {@code outbox_parked}.
   */
  public void doorbellsPublished(List<Long> ids, List<Parked> parked) {
    tx.run(
        "record the doorbells published",
        c -> {
          if (!ids.isEmpty()) {
            try (PreparedStatement ps =
                c.prepareStatement("delete from outbox where id = any(?)")) {
              ps.setArray(1, c.createArrayOf("bigint", ids.toArray()));
              ps.executeUpdate();
            }
          }
          if (!parked.isEmpty()) {
            park(c, parked);
          }
          return null;
        });
  }

  /**
   * What Kafka acknowledged of the events lane, in one transaction: the cursor moves to {@code
   * upTo} (unless it is there already), and the events of {@code parked} are noted in {@code
   * outbox_parked} ({@code upTo} may pass them).
   */
  public void eventsPublished(long upTo, List<Parked> parked) {
    tx.run(
        "record the events published",
        c -> {
          if (!parked.isEmpty()) {
            park(c, parked);
          }
          try (PreparedStatement ps =
              c.prepareStatement("update event_publisher set ord = ? where id = 1 and ord < ?")) {
            ps.setLong(1, upTo);
            ps.setLong(2, upTo);
            ps.executeUpdate();
          }
          return null;
        });
  }

  private void park(Connection c, List<Parked> parked) throws SQLException {
    List<Parked> doorbells = parked.stream().filter(p -> !p.event()).toList();
    List<Parked> events = parked.stream().filter(Parked::event).toList();
    Timestamp now = tx.now();
    if (!doorbells.isEmpty()) {
      try (PreparedStatement ps =
          c.prepareStatement(
              "with moved as (delete from outbox o using unnest(?::bigint[], ?::text[], ?::int[])"
                  + " as u(id, error, tries) where o.id = u.id"
                  + " returning o.id, o.topic, o.msg_key, o.payload, u.error, u.tries)"
                  + " insert into outbox_parked (lane, topic, msg_key, payload, outbox_id, error,"
                  + " tries, parked_at) select 'doorbells', topic, msg_key, payload, id, error,"
                  + " tries, ? from moved")) {
        ps.setArray(
            1, c.createArrayOf("bigint", doorbells.stream().map(p -> p.message().id()).toArray()));
        ps.setArray(2, c.createArrayOf("text", doorbells.stream().map(Parked::error).toArray()));
        ps.setArray(3, c.createArrayOf("integer", doorbells.stream().map(Parked::tries).toArray()));
        ps.setTimestamp(4, now);
        ps.executeUpdate();
      }
    }
    if (!events.isEmpty()) {
      try (PreparedStatement ps =
          c.prepareStatement(
              "insert into outbox_parked (lane, topic, msg_key, payload, event_ord, error, tries,"
                  + " parked_at) select 'events', u.topic, u.msg_key, u.payload, u.ord, u.error,"
                  + " u.tries, ? from unnest(?::text[], ?::text[], ?::text[], ?::bigint[],"
                  + " ?::text[], ?::int[]) as u(topic, msg_key, payload, ord, error, tries)")) {
        ps.setTimestamp(1, now);
        ps.setArray(
            2, c.createArrayOf("text", events.stream().map(p -> p.message().topic()).toArray()));
        ps.setArray(
            3, c.createArrayOf("text", events.stream().map(p -> p.message().key()).toArray()));
        ps.setArray(
            4, c.createArrayOf("text", events.stream().map(p -> p.message().payload()).toArray()));
        ps.setArray(
            5, c.createArrayOf("bigint", events.stream().map(p -> p.message().id()).toArray()));
        ps.setArray(6, c.createArrayOf("text", events.stream().map(Parked::error).toArray()));
        ps.setArray(7, c.createArrayOf("integer", events.stream().map(Parked::tries).toArray()));
        ps.executeUpdate();
      }
    }
  }

  /**
   * One outbox row, with the trace context its publishing continues; the table's trigger wakes a
   * sleeping relay at commit ({@link EventWakeups}).
   */
  private static final String OUTBOX_INSERT =
      "insert into outbox (topic, msg_key, payload, created_at, traceparent, tracestate)"
          + " values (?, ?, ?, ?, ?, ?)";

  private static void bindOutbox(
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
