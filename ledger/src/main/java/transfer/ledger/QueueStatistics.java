package transfer.ledger;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import transfer.contracts.TaskState;

/** The queue as the metrics show it: open tasks by state, and the outbox. */
public final class QueueStatistics {
  private final Tx tx;

  QueueStatistics(Tx tx) {
    this.tx = tx;
  }

  /**
   * The queue as the metrics show it: open tasks by state with the oldest {@code updated_at} of
   * each (every move into a state sets it, so for queued tasks it is when they became queued), and
   * the records not yet published (doorbells in the outbox, numbered events after the relay's
   * cursor) with the oldest one's time. A state with no task is absent.
   */
  public record QueueStats(
      Map<TaskState, Long> tasks,
      Map<TaskState, Instant> oldest,
      long outboxRows,
      Instant oldestOutbox) {}

  /**
   * Reads {@link QueueStats} in two statements of one transaction. The task count reads the open
   * tasks only (the partial index {@code tasks_open_by_session} and their rows), never the finished
   * ones that retention keeps for days; the outbox holds only what Kafka has not acknowledged yet,
   * and the numbered events after the relay's cursor are a range of {@code event_numbers}' key.
   */
  public QueueStats queueStats() {
    return tx.run(
        "read queue statistics",
        c -> {
          Map<TaskState, Long> tasks = new EnumMap<>(TaskState.class);
          Map<TaskState, Instant> oldest = new EnumMap<>(TaskState.class);
          try (PreparedStatement ps =
                  c.prepareStatement(
                      "select state, count(*), min(updated_at) from tasks where state in"
                          + " ('queued', 'waiting', 'running', 'suspended') group by state");
              ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              TaskState state = TaskState.fromWire(rs.getString(1));
              tasks.put(state, rs.getLong(2));
              oldest.put(state, rs.getTimestamp(3).toInstant());
            }
          }
          // Not yet published: the outbox's doorbells and the numbered events after the relay's
          // cursor that their sessions send.
          try (PreparedStatement ps =
                  c.prepareStatement(
                      "select (select count(*) from outbox) + (select count(*) from event_numbers"
                          + " where ord > p.ord and publish),"
                          + " least((select min(created_at) from outbox), (select e.time from "
                          + EventRows.FROM
                          + " where n.ord > p.ord and n.publish order by n.ord limit 1))"
                          + " from event_publisher p where p.id = 1");
              ResultSet rs = ps.executeQuery()) {
            rs.next();
            Timestamp first = rs.getTimestamp(2);
            return new QueueStats(
                tasks, oldest, rs.getLong(1), first == null ? null : first.toInstant());
          }
        });
  }
}
