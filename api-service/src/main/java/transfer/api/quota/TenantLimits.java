package transfer.api.quota;

import jakarta.inject.Singleton;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import transfer.api.ApiConfig;
import transfer.ledger.QuotaOverrides;
import transfer.ledger.TenantRow;
import transfer.ledger.Tenants;

/**
 * The limits of each tenant, read from the ledger and cached briefly, since the request rate is
 * checked on every request. A quota changed through the admin API applies at once on the instance
 * that changed it and within {@link #CACHE_TTL} on the others.
 */
@Singleton
public class TenantLimits {
  static final Duration CACHE_TTL = Duration.ofSeconds(10);

  private final Tenants tenants;
  private final Clock clock;
  private final Limits defaults;
  private final Map<String, Cached> cache = new ConcurrentHashMap<>();

  public TenantLimits(Tenants tenants, ApiConfig config, Clock clock) {
    this.tenants = tenants;
    this.clock = clock;
    this.defaults = Limits.defaults(config.quota());
  }

  private record Cached(Limits limits, Instant until) {}

  public Limits defaults() {
    return defaults;
  }

  /** The limits of a tenant (the defaults for a tenant the ledger does not know). */
  public Limits of(String tenantId) {
    Instant now = clock.instant();
    Cached hit = cache.get(tenantId);
    if (hit != null && hit.until().isAfter(now)) {
      return hit.limits();
    }
    Limits limits =
        defaults.with(tenants.tenant(tenantId).map(TenantRow::quotas).orElse(QuotaOverrides.NONE));
    if (cache.size() > 10_000) {
      cache.clear();
    }
    cache.put(tenantId, new Cached(limits, now.plus(CACHE_TTL)));
    return limits;
  }

  /** Drops a tenant's cached limits (its quotas were just changed). */
  public void forget(String tenantId) {
    cache.remove(tenantId);
  }
}
