package transfer.ledger;

import java.sql.PreparedStatement;
import java.sql.ResultSet;

/**
 * Room in a tenant's bytes-stored quota for a download's bytes before they are written (migration
 * V18): an open download counts as what it reserved ({@code tasks.bytes_reserved}), so downloads in
 * progress, and the partial objects they leave for their next attempt, count against the quota as
 * they grow. A tenant's reservations are granted one at a time (an advisory lock per tenant, held
 * to the commit) against its usage as the counters show it after the previous grant's commit, so
 * writers at once share the room that is left rather than each being told all of it.
 *
 * <p>One transaction of two statements per grant (the lock, then the grant); a worker asks in steps
 * (tens of MiB), so a download of gigabytes makes a few dozen, and a small one none.
 */
public final class Reservations {
  private final Tx tx;

  Reservations(Tx tx) {
    this.tx = tx;
  }

  /**
   * What a request for room came to.
   *
   * @param held whether the lease was still held (false: nothing was granted, and the attempt must
   *     stop)
   * @param reserved the bytes the task holds reserved now (at least what it held before)
   * @param used the tenant's usage before this grant
   * @param quota the tenant's bytes-stored quota
   */
  public record Grant(boolean held, long reserved, long used, long quota) {}

  /**
   * Raises the reservation of the download {@code lease} holds towards {@code wanted} bytes in all:
   * by as much as the tenant's quota leaves ({@code quota} unless the tenant has its own), possibly
   * less, possibly nothing. The task's earlier attempts' reservation counts towards {@code wanted}.
   * {@code tenantId} is the task's tenant.
   */
  public Grant reserve(Lease lease, String tenantId, long wanted, long defaultQuota) {
    return tx.run(
        "reserve quota for task " + lease.taskId(),
        c -> {
          // One grant of a tenant at a time, to the commit; the next statement's snapshot sees the
          // counters as the previous grant committed them.
          try (PreparedStatement ps =
              c.prepareStatement("select pg_advisory_xact_lock(hashtextextended(?, 21))")) {
            ps.setString(1, "reservations:" + tenantId);
            ps.execute();
          }
          try (PreparedStatement ps =
              c.prepareStatement(
                  "with used as (select coalesce(sum(bytes_stored), 0) as n from tenant_usage"
                      + "  where tenant_id = ?),"
                      + " quota as (select coalesce((select quota_bytes_stored from tenants"
                      + "  where id = ?), ?) as n),"
                      + " old as (select bytes_reserved as n from tasks where id = ?"
                      + "  and lease_epoch = ? and state = 'running' for update),"
                      + " grant_ as (select greatest(0, least(? - old.n, quota.n - used.n)) as n"
                      + "  from old, quota, used),"
                      + " raised as (update tasks t set bytes_reserved = t.bytes_reserved + g.n"
                      + "  from grant_ g where t.id = ? and g.n > 0 returning t.bytes_reserved),"
                      + " counted as (insert into tenant_usage as u (tenant_id, slot, bytes_stored)"
                      + "  select ?, pg_backend_pid() % 16, g.n from grant_ g where g.n > 0"
                      + "  on conflict (tenant_id, slot) do update"
                      + "  set bytes_stored = u.bytes_stored + excluded.bytes_stored)"
                      + " select old.n + grant_.n, used.n, quota.n from old, grant_, used, quota")) {
            int i = 0;
            ps.setString(++i, tenantId);
            ps.setString(++i, tenantId);
            ps.setLong(++i, defaultQuota);
            ps.setString(++i, lease.taskId());
            ps.setLong(++i, lease.epoch());
            ps.setLong(++i, wanted);
            ps.setString(++i, lease.taskId());
            ps.setString(++i, tenantId);
            try (ResultSet rs = ps.executeQuery()) {
              if (!rs.next()) {
                return new Grant(false, 0, 0, 0);
              }
              return new Grant(true, rs.getLong(1), rs.getLong(2), rs.getLong(3));
            }
          }
        });
  }
}
