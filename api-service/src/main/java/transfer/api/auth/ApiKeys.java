package transfer.api.auth;

import io.quarkus.logging.Log;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import transfer.api.ApiConfig;
import transfer.ledger.Ledger;

/**
 * API keys: stored only as SHA-256 hashes. Lookups are cached briefly, since every request needs
 * one; a revoked key stops working within {@link #CACHE_TTL}.
 */
@Singleton
public class ApiKeys {
  static final Duration CACHE_TTL = Duration.ofSeconds(10);

  private final Ledger ledger;
  private final ApiConfig config;
  private final Clock clock;
  private final Map<String, Cached> cache = new ConcurrentHashMap<>();

  public ApiKeys(Ledger ledger, ApiConfig config, Clock clock) {
    this.ledger = ledger;
    this.config = config;
    this.clock = clock;
  }

  private record Cached(Optional<String> tenant, Instant until) {}

  void registerBootstrapKey(@Observes StartupEvent ev) {
    config
        .api()
        .bootstrapKey()
        .filter(k -> !k.isBlank())
        .ifPresent(
            key -> {
              byte[] hash = hash(key);
              String keyId = "key-" + HexFormat.of().formatHex(hash, 0, 6);
              ledger.ensureTenantKey(config.api().bootstrapTenant(), keyId, hash);
              Log.infof(
                  "API key %s of tenant '%s' is registered", keyId, config.api().bootstrapTenant());
            });
  }

  /** The tenant owning this key, if the key is known and not revoked. */
  public Optional<String> tenantOf(String key) {
    byte[] hash = hash(key);
    String cacheKey = HexFormat.of().formatHex(hash);
    Instant now = clock.instant();
    Cached hit = cache.get(cacheKey);
    if (hit != null && hit.until().isAfter(now)) {
      return hit.tenant();
    }
    Optional<String> tenant = ledger.tenantForKeyHash(hash);
    if (cache.size() > 10_000) {
      cache.clear();
    }
    cache.put(cacheKey, new Cached(tenant, now.plus(CACHE_TTL)));
    return tenant;
  }

  static byte[] hash(String key) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
