package transfer.api.quota;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import java.util.function.IntSupplier;

/**
 * Slots per tenant on this instance, at most a limit each: what a tenant holds open at once (event
 * streams, uploads in progress). A slot taken is given back once, when what holds it ends.
 */
public abstract class TenantSlots {
  private final IntSupplier limit;
  private final BiFunction<String, Integer, QuotaExceeded> refusal;
  private final Map<String, Integer> open = new ConcurrentHashMap<>();

  TenantSlots(IntSupplier limit, BiFunction<String, Integer, QuotaExceeded> refusal) {
    this.limit = limit;
    this.refusal = refusal;
  }

  /**
   * Takes a slot of the tenant; a {@link QuotaExceeded} (429) when it holds the limit already. A
   * slot taken is given back with {@link #release} once, when what holds it ends.
   */
  public void take(String tenantId) {
    int max = limit.getAsInt();
    boolean[] taken = {false};
    open.compute(
        tenantId,
        (t, n) -> {
          int now = n == null ? 0 : n;
          if (now >= max) {
            return n;
          }
          taken[0] = true;
          return now + 1;
        });
    if (!taken[0]) {
      throw refusal.apply(tenantId, max);
    }
  }

  /** Gives back a slot {@link #take} gave. */
  public void release(String tenantId) {
    open.computeIfPresent(tenantId, (t, n) -> n <= 1 ? null : n - 1);
  }

  /** The slots the tenant holds on this instance. */
  public int open(String tenantId) {
    return open.getOrDefault(tenantId, 0);
  }
}
