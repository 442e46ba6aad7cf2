package transfer.api.task;

import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.Logger;
import transfer.api.egress.EgressRules;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.api.quota.Quotas;
import transfer.api.session.SessionService;
import transfer.contracts.TaskRequest;
import transfer.ledger.Sessions;
import transfer.ledger.Submissions;
import transfer.ledger.Submit;
import transfer.ledger.SubmitGroups;
import transfer.ledger.TaskRow;
import transfer.telemetry.LogFields;
import transfer.telemetry.TraceContext;

/**
 * Submits tasks, one ({@link TaskResource}) or a batch ({@link TaskBatchResource}), in the same
 * order of checks: every task's rules and the SSRF guard's first look, here, so a malformed request
 * is refused before the ledger is touched; then, in the ledger's one transaction, the session (it
 * must take new tasks), an Idempotency-Key's earlier use, the tenant's quotas and what the tasks
 * name. A single submit waits for the group commit ({@link SubmitGroups}) without a connection of
 * its own; a batch is its own transaction. The tasks store the submitting request's trace context.
 */
@Singleton
public class SubmitService {
  /** Most tasks in one batch. */
  public static final int MAX_BATCH_TASKS = 1000;

  // The lines keep the categories they are filtered by: those of the resources that answer.
  private static final Logger TASK_LOG = Logger.getLogger(TaskResource.class);
  private static final Logger BATCH_LOG = Logger.getLogger(TaskBatchResource.class);

  private final Submissions submissions;
  private final SubmitGroups groups;
  private final EgressRules egress;
  private final Quotas quotas;

  public SubmitService(
      Submissions submissions, SubmitGroups groups, EgressRules egress, Quotas quotas) {
    this.submissions = submissions;
    this.groups = groups;
    this.egress = egress;
    this.quotas = quotas;
  }

  /** One task; a replay of its Idempotency-Key answers the task the first request made. */
  public Submissions.Submitted submit(
      String tenantId, String sid, String idempotencyKey, TaskRequest request, TraceContext trace) {
    TaskRules.checkTask(request);
    egress.check(request);
    Submit.Outcome outcome =
        groups.submit(
            Submit.one(tenantId, sid, request, idempotencyKey, trace)
                .withQuota(quotas.submitQuota(tenantId)));
    Submissions.Submitted submitted =
        new Submissions.Submitted(answered(tenantId, sid, outcome).get(0), outcome.replayed());
    logSubmitted(submitted.task(), submitted.replayed(), Logger.Level.INFO);
    return submitted;
  }

  /**
   * Up to {@value #MAX_BATCH_TASKS} tasks, all or none: every task is checked first (a refusal
   * names each bad field as {@code tasks[i].field}), then all are written in one transaction. An
   * Idempotency-Key covers the whole batch.
   */
  public Submissions.BatchSubmitted submitBatch(
      String tenantId,
      String sid,
      String idempotencyKey,
      List<TaskRequest> requests,
      TraceContext trace) {
    if (requests == null || requests.isEmpty()) {
      throw ApiException.invalid(
          List.of(
              new FieldError("tasks", "is required: 1 to " + MAX_BATCH_TASKS + " task requests")));
    }
    if (requests.size() > MAX_BATCH_TASKS) {
      throw ApiException.invalid(
          List.of(
              new FieldError(
                  "tasks",
                  "has "
                      + requests.size()
                      + " tasks; at most "
                      + MAX_BATCH_TASKS
                      + " per batch (send several batches)")));
    }
    List<FieldError> errors = new ArrayList<>();
    for (int i = 0; i < requests.size(); i++) {
      try {
        TaskRules.checkTask(requests.get(i));
        egress.check(requests.get(i));
      } catch (ApiException e) {
        errors.addAll(e.errorsIn("tasks[" + i + "]"));
      }
    }
    if (!errors.isEmpty()) {
      throw ApiException.invalid(errors);
    }
    // Every task of the batch stores the batch request's context: one trace for all of them.
    Submit.Outcome outcome =
        submissions
            .submitAll(
                List.of(
                    Submit.batch(tenantId, sid, requests, idempotencyKey, trace)
                        .withQuota(quotas.submitQuota(tenantId))))
            .get(0);
    Submissions.BatchSubmitted submitted =
        new Submissions.BatchSubmitted(answered(tenantId, sid, outcome), outcome.replayed());
    // One line per task (at DEBUG: a batch may hold a thousand), and one for the batch.
    if (BATCH_LOG.isDebugEnabled()) {
      for (TaskRow row : submitted.tasks()) {
        logSubmitted(row, submitted.replayed(), Logger.Level.DEBUG);
      }
    }
    BATCH_LOG.infof(
        "%d task(s) %s session %s, from %s to %s",
        submitted.tasks().size(),
        submitted.replayed() ? "of a replayed batch (Idempotency-Key) in" : "submitted to",
        sid,
        submitted.tasks().get(0).id(),
        submitted.tasks().get(submitted.tasks().size() - 1).id());
    return submitted;
  }

  /**
   * One line per submitted task, with its fields (taskId, sessionId, tenant and the trace it was
   * submitted in): the first line of the task's story in the logs.
   */
  private static void logSubmitted(TaskRow row, boolean replayed, Logger.Level level) {
    try (LogFields f = LogFields.task(row)) {
      TASK_LOG.logf(
          level,
          replayed
              ? "task %s: submit replayed (Idempotency-Key) in session %s: %s from %s, %s"
              : "task %s: submitted to session %s: %s from %s, %s",
          row.id(),
          row.sessionId(),
          row.type().wire(),
          row.host(),
          row.state().wire());
    }
  }

  /**
   * The tasks of an accepted submit; a refused one answered as before the ledger decided in one
   * transaction: no session 404, a closed one 409, a quota 429, an Idempotency-Key used with
   * another body 422, a reference that names nothing usable 400 (its mapper), the database 503.
   */
  private List<TaskRow> answered(String tenantId, String sid, Submit.Outcome outcome) {
    RuntimeException refusal = outcome.refusal();
    if (refusal == null) {
      return outcome.tasks();
    }
    if (refusal instanceof Sessions.SessionClosed closed) {
      throw closed.state() == null
          ? SessionService.missing(sid)
          : SessionService.closed(sid, closed.state(), "tasks");
    }
    if (refusal instanceof Submissions.QuotaReached reached) {
      throw quotas.refused(tenantId, reached);
    }
    if (refusal instanceof Submissions.IdempotencyConflict e) {
      throw new ApiException(
          422,
          "idempotency-key-reused",
          "Unprocessable Content",
          "this Idempotency-Key was already used with a different request body (task "
              + e.taskId()
              + "); use a new key for a new request");
    }
    throw refusal;
  }
}
