package transfer.api.quota;

import java.time.Duration;
import java.util.UUID;
import transfer.ledger.Reservations;

/**
 * The room one object PUT holds in its tenant's bytes-stored quota while its body arrives (V19): a
 * declared length is reserved whole before the body is read; a body without one reserves a step at
 * a time as it grows. Every grant is serialized with the tenant's other reservations, so PUTs at
 * once share the room left rather than each being told all of it. Closing gives the room back: once
 * the object is stored it counts as itself.
 */
public final class ObjectRoom implements BodyRoom, AutoCloseable {
  /** How long a reservation outlives an api-service that died holding it. */
  static final Duration TTL = Duration.ofMinutes(15);

  private final Reservations reservations;
  private final String id = "put-" + UUID.randomUUID();
  private final String tenantId;
  private final long quota;
  private final long credit;
  private final long declared;
  private final long maxBytes;
  private final long step;
  private long reserved;
  private boolean asked;

  /**
   * @param quota the tenant's bytes-stored quota
   * @param credit bytes of the object this PUT replaces, which go with it
   * @param declared the body's Content-Length, or -1
   * @param maxBytes the largest object allowed (transfer.objects.max-bytes), quota aside
   */
  ObjectRoom(
      Reservations reservations,
      String tenantId,
      long quota,
      long credit,
      long declared,
      long maxBytes,
      long step) {
    this.reservations = reservations;
    this.tenantId = tenantId;
    this.quota = quota;
    this.credit = credit;
    this.declared = declared;
    this.maxBytes = maxBytes;
    this.step = step;
  }

  @Override
  public long allow(long needed) {
    if (needed > maxBytes) {
      return maxBytes;
    }
    if (needed <= reserved) {
      return reserved;
    }
    long wanted = declared >= 0 ? needed : Math.min(maxBytes, Math.max(needed, reserved + step));
    asked = true;
    reserved =
        Math.max(
            reserved,
            reservations.reserveObject(id, tenantId, wanted, quota, credit, TTL).reserved());
    return reserved;
  }

  /** Whether the body was cut by the quota, not by transfer.objects.max-bytes. */
  public boolean quotaBound(long limit) {
    return limit < maxBytes;
  }

  @Override
  public void close() {
    if (asked) {
      reservations.releaseObject(id);
    }
  }
}
