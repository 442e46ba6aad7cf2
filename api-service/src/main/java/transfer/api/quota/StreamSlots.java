package transfer.api.quota;

import jakarta.inject.Singleton;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import transfer.api.ApiConfig;

/**
 * The event streams each tenant holds open on this instance, capped at {@code
 * transfer.quota.event-streams}: one tenant opening thousands of streams cannot take the
 * connections and memory the others' streams need.
 */
@Singleton
public class StreamSlots {
  private final ApiConfig config;
  private final Map<String, Integer> open = new ConcurrentHashMap<>();

  public StreamSlots(ApiConfig config) {
    this.config = config;
  }

  /**
   * Takes a slot of the tenant; a {@link QuotaExceeded} (429) when it holds the limit already. A
   * slot taken is given back with {@link #release} once, when its stream ends.
   */
  public void take(String tenantId) {
    int limit = config.quota().eventStreams();
    boolean[] taken = {false};
    open.compute(
        tenantId,
        (t, n) -> {
          int now = n == null ? 0 : n;
          if (now >= limit) {
            return n;
          }
          taken[0] = true;
          return now + 1;
        });
    if (!taken[0]) {
      throw QuotaExceeded.eventStreams(tenantId, limit);
    }
  }

  /** Gives back a slot {@link #take} gave. */
  public void release(String tenantId) {
    open.computeIfPresent(tenantId, (t, n) -> n <= 1 ? null : n - 1);
  }

  /** Streams the tenant holds open on this instance. */
  public int open(String tenantId) {
    return open.getOrDefault(tenantId, 0);
  }
}
