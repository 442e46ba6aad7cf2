package transfer.ledger;

import static transfer.ledger.Sql.execute;
import static transfer.ledger.Sql.instant;
import static transfer.ledger.Sql.rows;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.List;
import java.util.Optional;

/**
 * Tenants and their API keys (stored as SHA-256 hashes), their own quotas, and the usage figures a
 * quota is checked against: tasks in flight and bytes stored ({@link TenantUsage}).
 */
public final class Tenants {
  private final Tx tx;

  Tenants(Tx tx) {
    this.tx = tx;
  }

  /** Creates the tenant if missing and registers the key hash for it (idempotent). */
  public void ensureTenantKey(String tenantId, String keyId, byte[] keyHash) {
    tx.run(
        "register key for tenant " + tenantId,
        c -> {
          Timestamp now = tx.now();
          execute(
              c,
              "insert into tenants (id, name, created_at) values (?, ?, ?)"
                  + " on conflict (id) do nothing",
              tenantId,
              tenantId,
              now);
          execute(
              c,
              "insert into api_keys (id, tenant_id, key_hash, created_at) values (?, ?, ?, ?)"
                  + " on conflict (key_hash) do nothing",
              keyId,
              tenantId,
              keyHash,
              now);
          return null;
        });
  }

  /** The tenant owning a non-revoked key with this SHA-256 hash. */
  public Optional<String> tenantForKeyHash(byte[] keyHash) {
    return tx.run(
        "look up api key",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select tenant_id from api_keys where key_hash = ? and revoked_at is null")) {
            ps.setBytes(1, keyHash);
            try (ResultSet rs = ps.executeQuery()) {
              return rs.next() ? Optional.of(rs.getString(1)) : Optional.empty();
            }
          }
        });
  }

  /** A tenant with this id exists already. */
  public static final class TenantExists extends RuntimeException {
    TenantExists(String tenantId) {
      super("tenant " + tenantId + " exists already", null, false, false);
    }
  }

  private static final String TENANT_COLUMNS =
      "id, name, created_at, quota_tasks_in_flight, quota_bytes_stored,"
          + " quota_requests_per_second, quota_burst, quota_running_transfers";

  /**
   * Creates a tenant with its first key, in one transaction; a {@link TenantExists} when the id is
   * taken (nothing is written then).
   */
  public TenantRow createTenant(
      String tenantId, String name, QuotaOverrides quotas, String keyId, byte[] keyHash) {
    QuotaOverrides q = quotas == null ? QuotaOverrides.NONE : quotas;
    return tx.run(
        "create tenant " + tenantId,
        c -> {
          Timestamp now = tx.now();
          int inserted =
              execute(
                  c,
                  "insert into tenants (id, name, created_at, quota_tasks_in_flight,"
                      + " quota_bytes_stored, quota_requests_per_second, quota_burst,"
                      + " quota_running_transfers)"
                      + " values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (id) do nothing",
                  tenantId,
                  name,
                  now,
                  q.tasksInFlight(),
                  q.bytesStored(),
                  q.requestsPerSecond(),
                  q.burst(),
                  q.runningTransfers());
          if (inserted == 0) {
            throw new TenantExists(tenantId);
          }
          execute(
              c,
              "insert into api_keys (id, tenant_id, key_hash, created_at) values (?, ?, ?, ?)",
              keyId,
              tenantId,
              keyHash,
              now);
          return tenantById(c, tenantId, "").orElseThrow();
        });
  }

  public Optional<TenantRow> tenant(String tenantId) {
    return tx.run("read tenant " + tenantId, c -> tenantById(c, tenantId, ""));
  }

  /** Tenants ordered by id, after {@code afterId} (paging; null from the start). */
  public List<TenantRow> tenants(String afterId, int limit) {
    return tx.run(
        "list tenants",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select " + TENANT_COLUMNS + " from tenants where id > ? order by id limit ?")) {
            ps.setString(1, afterId == null ? "" : afterId);
            ps.setInt(2, limit);
            return rows(ps, Tenants::tenantRow);
          }
        });
  }

  /** Replaces a tenant's own quotas (null fields: the defaults); empty when there is no tenant. */
  public Optional<TenantRow> setQuotas(String tenantId, QuotaOverrides quotas) {
    QuotaOverrides q = quotas == null ? QuotaOverrides.NONE : quotas;
    return tx.run(
        "set quotas of tenant " + tenantId,
        c -> {
          int updated =
              execute(
                  c,
                  "update tenants set quota_tasks_in_flight = ?, quota_bytes_stored = ?,"
                      + " quota_requests_per_second = ?, quota_burst = ?,"
                      + " quota_running_transfers = ? where id = ?",
                  q.tasksInFlight(),
                  q.bytesStored(),
                  q.requestsPerSecond(),
                  q.burst(),
                  q.runningTransfers(),
                  tenantId);
          return updated == 0 ? Optional.<TenantRow>empty() : tenantById(c, tenantId, "");
        });
  }

  /** Registers another key of a tenant; empty when there is no such tenant. */
  public Optional<ApiKeyRow> addKey(String tenantId, String keyId, byte[] keyHash) {
    return tx.run(
        "add a key to tenant " + tenantId,
        c -> {
          // FOR KEY SHARE: the tenant cannot vanish between the check and the insert.
          if (tenantById(c, tenantId, " for key share").isEmpty()) {
            return Optional.<ApiKeyRow>empty();
          }
          Timestamp now = tx.now();
          execute(
              c,
              "insert into api_keys (id, tenant_id, key_hash, created_at) values (?, ?, ?, ?)",
              keyId,
              tenantId,
              keyHash,
              now);
          return Optional.of(new ApiKeyRow(keyId, tenantId, now.toInstant(), null));
        });
  }

  /** A tenant's keys, revoked ones included, oldest first. */
  public List<ApiKeyRow> keys(String tenantId) {
    return tx.run(
        "list keys of tenant " + tenantId,
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select id, tenant_id, created_at, revoked_at from api_keys"
                      + " where tenant_id = ? order by created_at, id")) {
            ps.setString(1, tenantId);
            return rows(
                ps,
                rs ->
                    new ApiKeyRow(
                        rs.getString(1),
                        rs.getString(2),
                        instant(rs, "created_at"),
                        instant(rs, "revoked_at")));
          }
        });
  }

  /**
   * Revokes a key of a tenant (again: a no-op, the first revocation time stays) and answers its
   * hash, so that the caller can drop it from its caches; empty when the tenant has no such key.
   */
  public Optional<byte[]> revokeKey(String tenantId, String keyId) {
    return tx.run(
        "revoke key " + keyId,
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "update api_keys set revoked_at = coalesce(revoked_at, ?)"
                      + " where tenant_id = ? and id = ? returning key_hash")) {
            ps.setTimestamp(1, tx.now());
            ps.setString(2, tenantId);
            ps.setString(3, keyId);
            try (ResultSet rs = ps.executeQuery()) {
              return rs.next() ? Optional.of(rs.getBytes(1)) : Optional.<byte[]>empty();
            }
          }
        });
  }

  /**
   * How many tasks of the tenant are not final (queued, waiting, running, suspended), but no more
   * than {@code atMost}: a quota check needs to know only whether the quota is reached. Read from
   * the tenant's counters ({@link TenantUsage}).
   */
  public long tasksInFlight(String tenantId, long atMost) {
    return Math.min(Math.max(0, atMost), usage(tenantId).tasksInFlight());
  }

  /**
   * Bytes the tenant holds in storage: its staged objects, the stored content of its completed
   * downloads that retention has not removed yet, and the room its downloads in progress and
   * objects being staged reserved ({@link Reservations}). Read from the tenant's counters.
   */
  public long bytesStored(String tenantId) {
    return usage(tenantId).bytesStored();
  }

  /** The tenant's usage, from its counters: one indexed read of at most 16 rows. */
  public TenantUsage usage(String tenantId) {
    return tx.run(
        "read usage of tenant " + tenantId,
        c -> TenantUsage.of(c, List.of(tenantId)).get(tenantId));
  }

  /**
   * Recounts every tenant's usage from its tasks and objects and corrects the counters that drifted
   * (which only a write that bypassed the ledger's triggers can cause); answers the corrections.
   * Reads every tenant's tasks: an operator's or a rare job's, not a hot path's.
   */
  public List<TenantUsage.Drift> recountUsage() {
    return tx.run("recount the tenants' usage", TenantUsage::recount);
  }

  private Optional<TenantRow> tenantById(Connection c, String tenantId, String lock)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("select " + TENANT_COLUMNS + " from tenants where id = ?" + lock)) {
      ps.setString(1, tenantId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(tenantRow(rs)) : Optional.empty();
      }
    }
  }

  private static TenantRow tenantRow(ResultSet rs) throws SQLException {
    return new TenantRow(
        rs.getString("id"),
        rs.getString("name"),
        instant(rs, "created_at"),
        new QuotaOverrides(
            (Long) rs.getObject("quota_tasks_in_flight"),
            (Long) rs.getObject("quota_bytes_stored"),
            (Double) rs.getObject("quota_requests_per_second"),
            (Integer) rs.getObject("quota_burst"),
            (Integer) rs.getObject("quota_running_transfers")));
  }
}
