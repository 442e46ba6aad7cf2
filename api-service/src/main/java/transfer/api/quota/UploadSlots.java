package transfer.api.quota;

import jakarta.inject.Singleton;
import transfer.api.ApiConfig;

/**
 * The object uploads each tenant has in progress on this instance, capped at {@code
 * transfer.quota.uploads}: an upload holds a worker thread while its body arrives, and one tenant's
 * slow uploads must not take the threads every other tenant's requests need.
 */
@Singleton
public class UploadSlots extends TenantSlots {
  public UploadSlots(ApiConfig config) {
    super(() -> config.quota().uploads(), QuotaExceeded::uploads);
  }
}
