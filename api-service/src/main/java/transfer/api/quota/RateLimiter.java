package transfer.api.quota;

import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The request-rate quota: a token bucket per tenant, in this instance's memory. With N API
 * instances behind a load balancer a tenant may make up to N times its rate in all; the quota
 * protects each instance (and the ledger behind it) from one tenant, which is what it is for.
 *
 * <p>Why no library: Bucket4j or Resilience4j would add a dependency (and their own configuration
 * model) for what is thirty lines here; Guava's {@code RateLimiter} makes callers wait rather than
 * telling them when to retry; SmallRye Fault Tolerance's {@code @RateLimit} limits a method for all
 * callers together, not per tenant. None of them is needed for a per-instance, in-memory bucket.
 */
@Singleton
public class RateLimiter {
  private final TenantLimits limits;
  private final LongSupplier nanoTime;
  private final Map<String, TokenBucket> buckets = new ConcurrentHashMap<>();

  @Inject
  public RateLimiter(TenantLimits limits) {
    this(limits, System::nanoTime);
  }

  RateLimiter(TenantLimits limits, LongSupplier nanoTime) {
    this.limits = limits;
    this.nanoTime = nanoTime;
  }

  /**
   * Counts one request of the tenant; a {@link QuotaExceeded} (with the time to the next token as
   * its Retry-After) when the tenant has used up its burst. A refused request takes no token.
   */
  public void acquire(String tenantId) {
    Limits l = limits.of(tenantId);
    long now = nanoTime.getAsLong();
    // Tenants are created by the admin, so the map is as large as the tenant list at most.
    TokenBucket bucket =
        buckets.computeIfAbsent(
            tenantId, t -> new TokenBucket(l.requestsPerSecond(), l.burst(), now));
    long wait = bucket.tryTake(l.requestsPerSecond(), l.burst(), now);
    if (wait > 0) {
      throw QuotaExceeded.requestRate(tenantId, l.requestsPerSecond(), l.burst(), wait);
    }
  }
}
