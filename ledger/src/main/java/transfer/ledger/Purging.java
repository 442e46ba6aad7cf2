package transfer.ledger;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Retention: finished tasks and old events removed once their time is up; the caller deletes the
 * stored bytes they name.
 */
public final class Purging {
  private final Tx tx;

  Purging(Tx tx) {
    this.tx = tx;
  }

  /**
   * What a purge removed: files of expired tasks to delete (not the destinations that downloads
   * named, when their sessions keep them), and the counts.
   */
  public record Purged(
      List<String> taskIds, List<String> locations, int tasks, int events, List<Left> left) {
    /**
     * A removed task whose storage may hold leftovers: its session, for storage's names, and the
     * storage's state of its last checkpoint (on S3 the multipart upload kept for its resumeData).
     */
    public record Left(String taskId, String tenantId, String sessionId, String durableState) {}
  }

  /**
   * Removes finished tasks finished before {@code tasksBefore} (with their idempotency keys) and
   * events stored before {@code eventsBefore}, at most {@code limit} of each. The caller deletes
   * the returned tasks' stored objects and temporary objects.
   */
  public Purged purgeExpired(Instant tasksBefore, Instant eventsBefore, int limit) {
    return tx.run(
        "purge expired tasks and events",
        c -> {
          List<String> ids = new ArrayList<>();
          List<String> locations = new ArrayList<>();
          List<Purged.Left> left = new ArrayList<>();
          try (PreparedStatement ps =
              c.prepareStatement(
                  // A download that named its destination leaves it in place unless its
                  // session says otherwise (keepsNamedDestinations).
                  "select t.id, case when t.request -> 'destination' ->> 'key' is not null and"
                      + " coalesce((s.config ->> 'keepsNamedDestinations')::boolean, true)"
                      + " then null else t.location end, t.tenant_id, t.session_id,"
                      + " t.durable_state from tasks t left join sessions s"
                      + " on s.tenant_id = t.tenant_id and s.id = t.session_id"
                      + " where t.state in ('completed', 'failed', 'canceled')"
                      + " and t.finished_at < ? order by t.finished_at limit ?"
                      + " for update of t skip locked")) {
            ps.setTimestamp(1, Timestamp.from(tasksBefore));
            ps.setInt(2, limit);
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) {
                ids.add(rs.getString(1));
                left.add(
                    new Purged.Left(
                        rs.getString(1), rs.getString(3), rs.getString(4), rs.getString(5)));
                if (rs.getString(2) != null) {
                  locations.add(rs.getString(2));
                }
              }
            }
          }
          if (!ids.isEmpty()) {
            java.sql.Array arr = c.createArrayOf("text", ids.toArray());
            try (PreparedStatement ps =
                c.prepareStatement("delete from idempotency_keys where task_id = any(?)")) {
              ps.setArray(1, arr);
              ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("delete from tasks where id = any(?)")) {
              ps.setArray(1, arr);
              ps.executeUpdate();
            }
          }
          int events;
          try (PreparedStatement ps =
              c.prepareStatement(
                  "delete from events where ctid = any(array(select ctid from events"
                      + " where time < ? limit ?))")) {
            ps.setTimestamp(1, Timestamp.from(eventsBefore));
            ps.setInt(2, limit);
            events = ps.executeUpdate();
          }
          // The numbers of removed events, oldest first: up to the first whose event is still
          // there, among the oldest `limit` (numbers follow their events' order nearly; one left
          // behind goes once the events before it do).
          try (PreparedStatement ps =
              c.prepareStatement(
                  "with head as (select n.ord, exists (select 1 from events e"
                      + " where e.xid = n.xid and e.pos = n.pos) as live"
                      + " from event_numbers n order by n.ord limit ?)"
                      + " delete from event_numbers where ord in (select ord from head"
                      + " where not live and ord < coalesce((select min(ord) from head where live),"
                      + " 9223372036854775807))")) {
            ps.setInt(1, limit);
            ps.executeUpdate();
          }
          return new Purged(ids, locations, ids.size(), events, left);
        });
  }

  /** Which of these task ids have a row (in any state), in one statement. */
  public java.util.Set<String> existingTasks(java.util.Collection<String> ids) {
    if (ids.isEmpty()) {
      return java.util.Set.of();
    }
    return tx.read(
        "look up tasks of temporary objects",
        c -> {
          try (java.sql.PreparedStatement ps =
              c.prepareStatement("select id from tasks where id = any(?)")) {
            ps.setArray(1, c.createArrayOf("text", ids.toArray()));
            return java.util.Set.copyOf(Sql.rows(ps, rs -> rs.getString(1)));
          }
        });
  }
}
