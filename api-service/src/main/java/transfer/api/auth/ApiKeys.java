package transfer.api.auth;

import io.quarkus.logging.Log;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import transfer.api.ApiConfig;
import transfer.api.quota.KeyLookups;
import transfer.ledger.Tenants;

/**
 * API keys: stored only as SHA-256 hashes. Lookups are cached briefly, since every request needs
 * one; a revoked key stops working at once on the instance that revoked it ({@link #forget}) and
 * within {@link #CACHE_TTL} on the others.
 *
 * <p>Keys made here ({@link #generate}) are {@code tk_} and 256 random bits in base64url: too many
 * to guess, so a plain (unsalted) SHA-256 is enough to store them, and a lookup stays one indexed
 * read. The secret is shown once, in the answer that created it.
 */
@Singleton
public class ApiKeys {
  public static final Duration CACHE_TTL = Duration.ofSeconds(10);

  private final Tenants tenants;
  private final ApiConfig config;
  private final Clock clock;
  private final KeyLookups lookups;
  private final Map<String, Cached> cache = new ConcurrentHashMap<>();
  private final Map<String, Cached> unknown = new ConcurrentHashMap<>();
  private final Map<String, Instant> revokedHere = new ConcurrentHashMap<>();

  public ApiKeys(Tenants tenants, ApiConfig config, Clock clock, KeyLookups lookups) {
    this.tenants = tenants;
    this.config = config;
    this.clock = clock;
    this.lookups = lookups;
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
              tenants.ensureTenantKey(config.api().bootstrapTenant(), keyId, hash);
              Log.infof(
                  "API key %s of tenant '%s' is registered", keyId, config.api().bootstrapTenant());
            });
  }

  /** The tenant owning this key, if the key is known and not revoked. */
  public Optional<String> tenantOf(String key) {
    return tenantOf(key, null);
  }

  /**
   * As {@link #tenantOf(String)} for a request from {@code clientAddress}: a lookup the cache
   * cannot answer counts against the address's budget ({@link KeyLookups}), and past it a {@link
   * transfer.api.quota.QuotaExceeded} is thrown without a query. Null: not counted (a stream
   * checking its own key again).
   */
  public Optional<String> tenantOf(String key, String clientAddress) {
    byte[] hash = hash(key);
    String cacheKey = HexFormat.of().formatHex(hash);
    Instant now = clock.instant();
    Instant revokedUntil = revokedHere.get(cacheKey);
    if (revokedUntil != null) {
      if (revokedUntil.isAfter(now)) {
        return Optional.empty();
      }
      revokedHere.remove(cacheKey);
    }
    Cached hit = cache.get(cacheKey);
    if (hit == null) {
      hit = unknown.get(cacheKey);
    }
    if (hit != null && hit.until().isAfter(now)) {
      return hit.tenant();
    }
    if (clientAddress != null) {
      lookups.acquire(clientAddress);
    }
    Optional<String> tenant = tenants.tenantForKeyHash(hash);
    // Keys that name nobody are cached apart, so that a flood of made-up keys cannot push the
    // real ones out (each full map is simply emptied).
    Map<String, Cached> into = tenant.isPresent() ? cache : unknown;
    if (into.size() > 10_000) {
      into.clear();
    }
    into.put(cacheKey, new Cached(tenant, now.plus(CACHE_TTL)));
    if (revokedHere.containsKey(cacheKey)) {
      // Revoked while this lookup ran: what it read may predate the revocation.
      cache.remove(cacheKey);
      return Optional.empty();
    }
    return tenant;
  }

  /** A new key: its id (shown, listed), its secret (shown once) and the hash that is stored. */
  public record NewKey(String id, String secret, byte[] hash) {}

  private static final SecureRandom RANDOM = new SecureRandom();

  /** A fresh random key of 256 bits, {@code tk_<base64url>}, and a random id {@code key-<hex>}. */
  public static NewKey generate() {
    byte[] secret = new byte[32];
    RANDOM.nextBytes(secret);
    byte[] id = new byte[8];
    RANDOM.nextBytes(id);
    String key = "tk_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
    return new NewKey("key-" + HexFormat.of().formatHex(id), key, hash(key));
  }

  /** Drops a key from the cache (it was just revoked): it stops working here at once. */
  public void forget(byte[] keyHash) {
    String cacheKey = HexFormat.of().formatHex(keyHash);
    // Remembered for a cache period, so that a lookup that read the key before the revocation
    // committed cannot put it back.
    revokedHere.put(cacheKey, clock.instant().plus(CACHE_TTL));
    cache.remove(cacheKey);
  }

  static byte[] hash(String key) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
