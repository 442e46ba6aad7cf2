package transfer.api.quota;

import jakarta.inject.Singleton;
import transfer.api.ApiConfig;

/**
 * The event streams each tenant holds open on this instance, capped at {@code
 * transfer.quota.event-streams}: one tenant opening thousands of streams cannot take the
 * connections and memory the others' streams need.
 */
@Singleton
public class StreamSlots extends TenantSlots {
  public StreamSlots(ApiConfig config) {
    super(() -> config.quota().eventStreams(), QuotaExceeded::eventStreams);
  }
}
