package transfer.api.quota;

import jakarta.inject.Singleton;
import java.time.Duration;
import transfer.api.ApiConfig;
import transfer.ledger.Reservations;
import transfer.ledger.StagedObjects;
import transfer.ledger.StoredObject;
import transfer.ledger.Submissions;
import transfer.ledger.Submit;

/**
 * The tasks-in-flight and bytes-stored quotas. A submit's are checked by the ledger in the submit's
 * own transaction, against the tenant's usage counters; an object PUT reserves room as its body
 * arrives ({@link ObjectRoom}), as downloads do in the workers. Concurrent submits of one tenant do
 * not see each other's uncommitted tasks, so they may overshoot the tasks-in-flight quota by the
 * few in flight at that moment; serializing every submit of a tenant to rule that out would cost
 * more than the overshoot does. Reservations of room are serialized per tenant: they are few (one
 * per step of tens of MiB).
 */
@Singleton
public class Quotas {
  private final StagedObjects stagedObjects;
  private final Reservations reservations;
  private final TenantLimits limits;
  private final Duration retryAfter;
  private final long reservationStep;

  public Quotas(
      StagedObjects stagedObjects,
      Reservations reservations,
      TenantLimits limits,
      ApiConfig config) {
    this.stagedObjects = stagedObjects;
    this.reservations = reservations;
    this.limits = limits;
    this.retryAfter = config.quota().retryAfter();
    this.reservationStep = config.quota().reservationStep().asLongValue();
  }

  /**
   * The limits a submit is checked against. The ledger checks them in the submit's transaction,
   * against the tenant's usage counters and the tasks accepted before it in the same transaction
   * (Submissions): new tasks must all fit below the tasks-in-flight quota, and a download needs the
   * tenant below its bytes-stored quota (a download's size is unknown until it is done, so only a
   * tenant already at the quota is refused). A submit that an Idempotency-Key answers with earlier
   * tasks creates nothing and is never refused.
   */
  public Submit.Quota submitQuota(String tenantId) {
    Limits l = limits.of(tenantId);
    return new Submit.Quota(l.tasksInFlight(), l.bytesStored());
  }

  /** The answer to a submit the ledger refused at a quota. */
  public QuotaExceeded refused(String tenantId, Submissions.QuotaReached reached) {
    return switch (reached.which()) {
      case TASKS_IN_FLIGHT ->
          QuotaExceeded.tasksInFlight(tenantId, limits.of(tenantId).tasksInFlight(), retryAfter);
      case BYTES_STORED -> bytesStored(tenantId);
    };
  }

  /**
   * The room an object PUT's body gets in the tenant's bytes-stored quota ({@link ObjectRoom}):
   * reserved in the ledger as the body arrives, so PUTs at once, and downloads in progress, share
   * what is left. The object the PUT replaces, if any, does not count, as its bytes go. Closed once
   * the PUT is over, stored or not.
   */
  public ObjectRoom objectRoom(
      String tenantId, String sessionId, String name, long declared, long maxBytes) {
    long replaced =
        stagedObjects.object(tenantId, sessionId, name).map(StoredObject::size).orElse(0L);
    return new ObjectRoom(
        reservations,
        tenantId,
        limits.of(tenantId).bytesStored(),
        replaced,
        declared,
        maxBytes,
        reservationStep);
  }

  /** The answer to a body that went past its {@link #objectRoom}. */
  public QuotaExceeded bytesStored(String tenantId) {
    return QuotaExceeded.bytesStored(tenantId, limits.of(tenantId).bytesStored(), retryAfter);
  }
}
