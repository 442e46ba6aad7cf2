package transfer.ledger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The usage a tenant's quotas are checked against, read from the counters that the triggers of V10
 * keep (table {@code tenant_usage}, striped over slots whose sum is the figure), and the recount
 * that finds and corrects a counter that drifted from the rows it counts.
 *
 * @param tasksInFlight tasks queued, waiting, running or suspended
 * @param bytesStored staged objects and completed downloads' bytes not yet removed by retention,
 *     and what open downloads reserved (V18)
 */
public record TenantUsage(long tasksInFlight, long bytesStored) {
  static final TenantUsage NONE = new TenantUsage(0, 0);

  /** The usage of each of {@code tenantIds} (none counted: {@link #NONE}), in one statement. */
  static Map<String, TenantUsage> of(Connection c, Collection<String> tenantIds)
      throws SQLException {
    Map<String, TenantUsage> out = new HashMap<>();
    if (tenantIds.isEmpty()) {
      return out;
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "select tenant_id, sum(tasks_in_flight), sum(bytes_stored) from tenant_usage"
                + " where tenant_id = any(?) group by tenant_id")) {
      ps.setArray(1, c.createArrayOf("text", tenantIds.toArray()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), new TenantUsage(rs.getLong(2), rs.getLong(3)));
        }
      }
    }
    for (String t : tenantIds) {
      out.putIfAbsent(t, NONE);
    }
    return out;
  }

  /** A tenant whose counters differed from its rows, and by how much they were corrected. */
  public record Drift(String tenantId, long tasksInFlight, long bytesStored) {}

  /** Serializes recounts: two at once would each add the same correction. */
  private static final long RECOUNT_LOCK = 0x7472616e73666572L ^ 0x7573616765L;

  /**
   * Counts every tenant's open tasks, completed downloads' bytes, open downloads' reservations,
   * staged objects' bytes and the reservations of objects being staged, and adds the difference to
   * the counters where they differ. The counts and the counters are read in one statement's
   * snapshot, in which every committed writer's rows and counter deltas are both visible and no
   * uncommitted one's are; so the difference is exactly the drift, whatever runs meanwhile, and
   * adding it commutes with the deltas of concurrent writers. Reads the tenants' tasks (open ones
   * through an index, completed downloads through the table): for an operator or a rare job, not
   * for a hot path.
   */
  static List<Drift> recount(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("select pg_advisory_xact_lock(?)")) {
      ps.setLong(1, RECOUNT_LOCK);
      ps.execute();
    }
    // A new statement, so a new snapshot: it sees the corrections of a recount that held the lock.
    try (PreparedStatement ps =
        c.prepareStatement(
            "with counted as ("
                + " select tenant_id, sum(open) as open, sum(bytes) as bytes from ("
                + "  select tenant_id, count(*) as open, 0::numeric as bytes from tasks"
                + "   where state in ('queued', 'waiting', 'running', 'suspended') group by tenant_id"
                + "  union all select tenant_id, 0, sum(bytes_transferred) from tasks"
                + "   where state = 'completed' and type = 'download' group by tenant_id"
                + "  union all select tenant_id, 0, sum(bytes_reserved) from tasks"
                + "   where state in ('queued', 'waiting', 'running', 'suspended')"
                + "   and type = 'download' group by tenant_id"
                + "  union all select tenant_id, 0, sum(size) from objects group by tenant_id"
                + "  union all select tenant_id, 0, sum(bytes) from object_reservations"
                + "   group by tenant_id"
                + "  union all select tenant_id, -sum(tasks_in_flight), -sum(bytes_stored)"
                + "   from tenant_usage group by tenant_id) d"
                + " group by tenant_id having sum(open) <> 0 or sum(bytes) <> 0),"
                + " corrected as ("
                + " insert into tenant_usage as u (tenant_id, slot, tasks_in_flight, bytes_stored)"
                + " select tenant_id, 0, open, bytes from counted order by tenant_id"
                + " on conflict (tenant_id, slot) do update"
                + " set tasks_in_flight = u.tasks_in_flight + excluded.tasks_in_flight,"
                + " bytes_stored = u.bytes_stored + excluded.bytes_stored)"
                + " select tenant_id, open, bytes from counted order by tenant_id")) {
      return Sql.rows(ps, rs -> new Drift(rs.getString(1), rs.getLong(2), rs.getLong(3)));
    }
  }
}
