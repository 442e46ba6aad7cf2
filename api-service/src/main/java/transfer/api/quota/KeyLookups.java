package transfer.api.quota;

import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import transfer.api.ApiConfig;

/**
 * The budget of API-key lookups in the database per client address, on this instance: a token
 * bucket per address ({@code transfer.quota.key-lookups-per-second}, {@code key-lookup-burst}).
 * Only a key the instance has not cached costs a token, so a client with a valid key spends one per
 * cache period, and a flood of made-up keys from one address costs at most the burst and then the
 * rate in queries, whatever its size. Behind a proxy the address is the one Quarkus takes from
 * {@code X-Forwarded-For} when {@code quarkus.http.proxy.proxy-address-forwarding} is on.
 */
@Singleton
public class KeyLookups {
  /** Addresses remembered at most; past it the map is emptied (each address starts afresh). */
  private static final int MAX_ADDRESSES = 10_000;

  private final ApiConfig config;
  private final LongSupplier nanoTime;
  private final Map<String, TokenBucket> buckets = new ConcurrentHashMap<>();

  @Inject
  public KeyLookups(ApiConfig config) {
    this(config, System::nanoTime);
  }

  KeyLookups(ApiConfig config, LongSupplier nanoTime) {
    this.config = config;
    this.nanoTime = nanoTime;
  }

  /**
   * Counts one lookup for {@code address}; a {@link QuotaExceeded} (429, with the time to the next
   * token as its Retry-After) when the address has used up its burst, and then no lookup may run.
   */
  public void acquire(String address) {
    double rate = config.quota().keyLookupsPerSecond();
    int burst = config.quota().keyLookupBurst();
    long now = nanoTime.getAsLong();
    if (buckets.size() >= MAX_ADDRESSES) {
      buckets.clear();
    }
    TokenBucket bucket = buckets.computeIfAbsent(address, a -> new TokenBucket(rate, burst, now));
    long wait = bucket.tryTake(rate, burst, now);
    if (wait > 0) {
      throw QuotaExceeded.keyLookups(address, rate, burst, wait);
    }
  }
}
