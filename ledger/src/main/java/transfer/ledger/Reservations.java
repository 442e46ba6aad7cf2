package transfer.ledger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;

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
   * by as much as the tenant's quota leaves (its own, else {@code defaultQuota}), possibly less,
   * possibly nothing. The task's earlier attempts' reservation counts towards {@code wanted}.
   * {@code tenantId} is the task's tenant.
   */
  public Grant reserve(Lease lease, String tenantId, long wanted, long defaultQuota) {
    return tx.run(
        "reserve quota for task " + lease.taskId(),
        c -> {
          // One grant of a tenant at a time, to the commit; the next statement's snapshot sees the
          // counters as the previous grant committed them.
          lockTenant(c, tenantId);
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

  /**
   * Raises the room the staged object's PUT {@code reservationId} holds towards {@code wanted}
   * bytes (V19), by as much as {@code quota}, the tenant's effective bytes-stored quota, leaves
   * once {@code credit} (the bytes of an object the PUT replaces, which go with it) is counted
   * free. The reservation lasts {@code ttl} from now (the ledger's clock), each grant renewing it.
   */
  public Grant reserveObject(
      String reservationId, String tenantId, long wanted, long quota, long credit, Duration ttl) {
    return tx.run(
        "reserve quota for an object of tenant " + tenantId,
        c -> {
          lockTenant(c, tenantId);
          try (PreparedStatement ps =
              c.prepareStatement(
                  "with used as (select coalesce(sum(bytes_stored), 0) as n from tenant_usage"
                      + "  where tenant_id = ?),"
                      + " old as (select coalesce((select bytes from object_reservations"
                      + "  where id = ?), 0) as n),"
                      + " grant_ as (select greatest(0, least(? - old.n, ? + ? - used.n)) as n"
                      + "  from old, used),"
                      + " held as (insert into object_reservations (id, tenant_id, bytes,"
                      + "  expires_at) select ?, ?, old.n + grant_.n, ?"
                      + "  from old, grant_"
                      + "  on conflict (id) do update set bytes = excluded.bytes,"
                      + "  expires_at = excluded.expires_at)"
                      + " select old.n + grant_.n, used.n from old, grant_, used")) {
            int i = 0;
            ps.setString(++i, tenantId);
            ps.setString(++i, reservationId);
            ps.setLong(++i, wanted);
            ps.setLong(++i, quota);
            ps.setLong(++i, credit);
            ps.setString(++i, reservationId);
            ps.setString(++i, tenantId);
            ps.setTimestamp(++i, Timestamp.from(tx.clock().instant().plus(ttl)));
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              return new Grant(true, rs.getLong(1), rs.getLong(2), quota);
            }
          }
        });
  }

  /** Gives back the room of a staged object's PUT (stored, refused or broken off). */
  public void releaseObject(String reservationId) {
    tx.run(
        "release an object's reservation",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement("delete from object_reservations where id = ?")) {
            ps.setString(1, reservationId);
            return ps.executeUpdate();
          }
        });
  }

  /**
   * Drops the reservations of PUTs whose api-service stopped before releasing them (expired), at
   * most {@code limit}; answers how many.
   */
  public int dropExpiredObjectReservations(int limit) {
    return tx.run(
        "drop expired object reservations",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "delete from object_reservations where id in (select id from"
                      + " object_reservations where expires_at < ? order by expires_at"
                      + " limit ? for update skip locked)")) {
            ps.setTimestamp(1, Timestamp.from(tx.clock().instant()));
            ps.setInt(2, limit);
            return ps.executeUpdate();
          }
        });
  }

  /** One grant of a tenant at a time, to the commit. */
  private static void lockTenant(Connection c, String tenantId) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("select pg_advisory_xact_lock(hashtextextended(?, 21))")) {
      ps.setString(1, "reservations:" + tenantId);
      ps.execute();
    }
  }
}
