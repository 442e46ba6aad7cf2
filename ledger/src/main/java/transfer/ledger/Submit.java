package transfer.ledger;

import java.util.List;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.telemetry.TraceContext;

/**
 * One submit: a single task, or a batch of tasks of one session written all or none. Several
 * submits may share a transaction ({@link Submissions#submitAll}); each is decided on its own.
 *
 * @param tasks the task requests (one for a single submit)
 * @param batch whether it is a batch submit (its Idempotency-Key is stored per task as {@link
 *     Submissions#batchKey})
 * @param idempotencyKey the request's Idempotency-Key, or null
 * @param trace the W3C trace context every task of the submit stores (null: none)
 * @param quota the tenant's limits to check, or null for none
 * @param config the session's configuration as the caller read it, or null: the ledger reads it
 *     with the session, in the submit's transaction
 */
public record Submit(
    String tenantId,
    String sessionId,
    List<TaskRequest> tasks,
    boolean batch,
    String idempotencyKey,
    TraceContext trace,
    Quota quota,
    SessionConfig config) {

  public Submit {
    tasks = List.copyOf(tasks);
  }

  /** A single task. */
  public static Submit one(
      String tenantId,
      String sessionId,
      TaskRequest request,
      String idempotencyKey,
      TraceContext trace) {
    return new Submit(
        tenantId, sessionId, List.of(request), false, idempotencyKey, trace, null, null);
  }

  /** A batch of tasks of one session, all or none. */
  public static Submit batch(
      String tenantId,
      String sessionId,
      List<TaskRequest> requests,
      String idempotencyKey,
      TraceContext trace) {
    return new Submit(tenantId, sessionId, requests, true, idempotencyKey, trace, null, null);
  }

  /** This submit, checked against the tenant's limits. */
  public Submit withQuota(Quota limits) {
    return new Submit(tenantId, sessionId, tasks, batch, idempotencyKey, trace, limits, config);
  }

  /** This submit, with the session configuration the caller has read already. */
  public Submit withConfig(SessionConfig sessionConfig) {
    return new Submit(
        tenantId, sessionId, tasks, batch, idempotencyKey, trace, quota, sessionConfig);
  }

  /**
   * A tenant's limits at submit: new tasks must fit below {@code tasksInFlight}; a download needs
   * the tenant below {@code bytesStored} (its size is unknown until it is done).
   */
  public record Quota(long tasksInFlight, long bytesStored) {}

  /**
   * What became of a submit: its tasks, in request order ({@code replayed} when an Idempotency-Key
   * answered an earlier submit's), or why it was refused: {@link Sessions.SessionClosed}, {@link
   * Submissions.QuotaReached}, {@link Submissions.IdempotencyConflict}, {@link
   * Submissions.InvalidReference}, or a {@link LedgerException} when the database failed it. A
   * refused submit stored nothing.
   */
  public record Outcome(List<TaskRow> tasks, boolean replayed, RuntimeException refusal) {
    static Outcome accepted(List<TaskRow> tasks, boolean replayed) {
      return new Outcome(List.copyOf(tasks), replayed, null);
    }

    static Outcome refused(RuntimeException refusal) {
      return new Outcome(List.of(), false, refusal);
    }

    /** The tasks; the refusal thrown when the submit was refused. */
    public List<TaskRow> tasksOrThrow() {
      if (refusal != null) {
        throw refusal;
      }
      return tasks;
    }
  }
}
