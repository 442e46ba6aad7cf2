package transfer.api.auth;

import io.quarkus.logging.Log;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.security.MessageDigest;
import java.util.Optional;
import transfer.api.ApiConfig;

/**
 * The admin key ({@code transfer.admin-key}, {@code TRANSFER_ADMIN_KEY}): the one credential of
 * {@code /v1/admin}. Only its SHA-256 is kept, and a presented key is compared by hash with {@link
 * MessageDigest#isEqual} (constant time), so neither the comparison's timing nor a heap dump gives
 * it away. It is not a tenant key: tenant endpoints refuse it, and it refuses tenant keys. Without
 * one the admin API is disabled and answers 404.
 */
@Singleton
public class AdminKey {
  /** Shorter admin keys are accepted but warned about. */
  static final int RECOMMENDED_LENGTH = 32;

  private final byte[] hash;
  private final int length;
  private final Optional<byte[]> bootstrapHash;

  @Inject
  public AdminKey(ApiConfig config) {
    this(config.adminKey(), config.api().bootstrapKey());
  }

  AdminKey(Optional<String> adminKey, Optional<String> bootstrapKey) {
    Optional<String> key = adminKey.map(String::trim).filter(k -> !k.isEmpty());
    this.hash = key.map(ApiKeys::hash).orElse(null);
    this.length = key.map(String::length).orElse(0);
    this.bootstrapHash =
        bootstrapKey.map(String::trim).filter(k -> !k.isEmpty()).map(ApiKeys::hash);
  }

  void check(@Observes StartupEvent ev) {
    if (hash == null) {
      Log.info("the admin API (/v1/admin) is disabled: transfer.admin-key is not set");
      return;
    }
    if (bootstrapHash.isPresent() && MessageDigest.isEqual(hash, bootstrapHash.get())) {
      throw new IllegalStateException(
          "transfer.admin-key must differ from transfer.api.bootstrap-key: the admin key is not a"
              + " tenant key");
    }
    if (length < RECOMMENDED_LENGTH) {
      Log.warnf(
          "transfer.admin-key has %d characters; use at least %d random ones (e.g. openssl rand"
              + " -base64 32)",
          length, RECOMMENDED_LENGTH);
    }
    Log.info("the admin API (/v1/admin) is enabled");
  }

  /** Whether an admin key is configured (else the admin API answers 404). */
  public boolean enabled() {
    return hash != null;
  }

  /** Whether {@code key} is the admin key; false whenever the admin API is disabled. */
  public boolean matches(String key) {
    return hash != null && key != null && MessageDigest.isEqual(hash, ApiKeys.hash(key));
  }
}
