package transfer.api.quota;

import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.List;
import transfer.api.ApiConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskType;
import transfer.ledger.StagedObjects;
import transfer.ledger.StoredObject;
import transfer.ledger.Submissions;
import transfer.ledger.Tenants;

/**
 * The tasks-in-flight and bytes-stored quotas, checked against the ledger before anything is
 * stored. The checks and the writes they guard are separate transactions, so concurrent requests of
 * one tenant may overshoot a quota by the requests in flight at that moment (a few tasks, or the
 * bytes of the objects being uploaded at once); serializing every submit of a tenant to rule that
 * out would cost more than the overshoot does.
 */
@Singleton
public class Quotas {
  private final StagedObjects stagedObjects;
  private final Submissions submissions;
  private final Tenants tenants;
  private final TenantLimits limits;
  private final Duration retryAfter;

  public Quotas(
      StagedObjects stagedObjects,
      Submissions submissions,
      Tenants tenants,
      TenantLimits limits,
      ApiConfig config) {
    this.stagedObjects = stagedObjects;
    this.submissions = submissions;
    this.tenants = tenants;
    this.limits = limits;
    this.retryAfter = config.quota().retryAfter();
  }

  /**
   * Before a submit: the tenant must be below its tasks-in-flight quota, and a download needs room
   * below its bytes-stored quota (a download's size is unknown until it is done, so only a tenant
   * already at the quota is refused). A submit that an Idempotency-Key will answer with an earlier
   * task creates nothing and is never refused.
   */
  public void checkSubmit(
      String tenantId, String sessionId, String idempotencyKey, TaskRequest request) {
    if (idempotencyKey != null
        && submissions.idempotencyKeyUsed(tenantId, sessionId, idempotencyKey)) {
      return;
    }
    checkRoom(tenantId, List.of(request));
  }

  /**
   * Before a batch submit: its tasks must fit below the tenant's tasks-in-flight quota, all of
   * them, and its downloads need room below the bytes-stored quota, as for one task. A repeated
   * batch that its Idempotency-Key will answer creates nothing and is never refused.
   */
  public void checkBatch(
      String tenantId, String sessionId, String idempotencyKey, List<TaskRequest> requests) {
    if (idempotencyKey != null
        && submissions.idempotencyKeyUsed(
            tenantId, sessionId, Submissions.batchKey(0, idempotencyKey))) {
      return;
    }
    checkRoom(tenantId, requests);
  }

  /** New tasks must all fit below the tasks-in-flight quota; downloads need bytes-stored room. */
  private void checkRoom(String tenantId, List<TaskRequest> requests) {
    Limits l = limits.of(tenantId);
    if (tenants.tasksInFlight(tenantId, l.tasksInFlight()) + requests.size() > l.tasksInFlight()) {
      throw QuotaExceeded.tasksInFlight(tenantId, l.tasksInFlight(), retryAfter);
    }
    if (requests.stream().anyMatch(r -> r.type() == TaskType.DOWNLOAD)
        && tenants.bytesStored(tenantId) >= l.bytesStored()) {
      throw bytesStored(tenantId);
    }
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
