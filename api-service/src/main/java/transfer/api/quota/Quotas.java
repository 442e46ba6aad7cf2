package transfer.api.quota;

import jakarta.inject.Singleton;
import java.time.Duration;
import transfer.api.ApiConfig;
import transfer.ledger.StagedObjects;
import transfer.ledger.StoredObject;
import transfer.ledger.Submissions;
import transfer.ledger.Submit;
import transfer.ledger.Tenants;

/**
 * The tasks-in-flight and bytes-stored quotas. A submit's are checked by the ledger in the submit's
 * own transaction, against the tenant's usage counters; an object PUT's before its body is stored.
 * Concurrent transactions of one tenant do not see each other's uncommitted tasks or objects, so
 * they may overshoot a quota by what is in flight at that moment (a few tasks, or the bytes of the
 * objects being uploaded at once); serializing every submit of a tenant to rule that out would cost
 * more than the overshoot does.
 */
@Singleton
public class Quotas {
  private final StagedObjects stagedObjects;
  private final Tenants tenants;
  private final TenantLimits limits;
  private final Duration retryAfter;

  public Quotas(
      StagedObjects stagedObjects, Tenants tenants, TenantLimits limits, ApiConfig config) {
    this.stagedObjects = stagedObjects;
    this.tenants = tenants;
    this.limits = limits;
    this.retryAfter = config.quota().retryAfter();
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
   * Before an object PUT: the bytes the object may have within the tenant's bytes-stored quota (the
   * object it replaces, if any, does not count, as its bytes go). A declared length beyond that is
   * refused before the body is read; a body without one is cut at that many bytes.
   */
  public long objectAllowance(String tenantId, String sessionId, String name, long declared) {
    Limits l = limits.of(tenantId);
    long replaced =
        stagedObjects.object(tenantId, sessionId, name).map(StoredObject::size).orElse(0L);
    long used = Math.max(0, tenants.bytesStored(tenantId) - replaced);
    long allowance = Math.max(0, l.bytesStored() - used);
    if (declared > allowance) {
      throw bytesStored(tenantId);
    }
    return allowance;
  }

  /** The answer to a body that went past {@link #objectAllowance}. */
  public QuotaExceeded bytesStored(String tenantId) {
    return QuotaExceeded.bytesStored(tenantId, limits.of(tenantId).bytesStored(), retryAfter);
  }
}
