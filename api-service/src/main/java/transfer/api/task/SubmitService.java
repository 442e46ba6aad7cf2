package transfer.api.task;

import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.jboss.logging.Logger;
import transfer.api.egress.EgressRules;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.api.quota.Quotas;
import transfer.api.session.SessionService;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.ledger.Submissions;
import transfer.ledger.TaskRow;
import transfer.telemetry.LogFields;
import transfer.telemetry.TraceContext;

/**
 * Submits tasks, one ({@link TaskResource}) or a batch ({@link TaskBatchResource}), in the same
 * order of checks: every task's rules and the SSRF guard's first look, then the session (it must
 * take new tasks), then the tenant's quotas, then the ledger's one transaction. A malformed request
 * is refused before the ledger is touched. The tasks store the submitting request's trace context.
 */
@Singleton
public class SubmitService {
  /** Most tasks in one batch. */
  public static final int MAX_BATCH_TASKS = 1000;

  // The lines keep the categories they are filtered by: those of the resources that answer.
  private static final Logger TASK_LOG = Logger.getLogger(TaskResource.class);
  private static final Logger BATCH_LOG = Logger.getLogger(TaskBatchResource.class);

  private final SessionService sessions;
  private final Submissions submissions;
  private final EgressRules egress;
  private final Quotas quotas;

  public SubmitService(
      SessionService sessions, Submissions submissions, EgressRules egress, Quotas quotas) {
    this.sessions = sessions;
    this.submissions = submissions;
    this.egress = egress;
    this.quotas = quotas;
  }

  /** One task; a replay of its Idempotency-Key answers the task the first request made. */
  public Submissions.Submitted submit(
      String tenantId, String sid, String idempotencyKey, TaskRequest request, TraceContext trace) {
    TaskRules.checkTask(request);
    egress.check(request);
    SessionConfig cfg = activeSessionConfig(tenantId, sid);
    quotas.checkSubmit(tenantId, sid, idempotencyKey, request);
    Submissions.Submitted submitted =
        keyChecked(() -> submissions.submit(tenantId, sid, request, cfg, idempotencyKey, trace));
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
    SessionConfig cfg = activeSessionConfig(tenantId, sid);
    quotas.checkBatch(tenantId, sid, idempotencyKey, requests);
    // Every task of the batch stores the batch request's context: one trace for all of them.
    Submissions.BatchSubmitted submitted =
        keyChecked(
            () -> submissions.submitBatch(tenantId, sid, requests, cfg, idempotencyKey, trace));
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

  /** The configuration of a session that takes new tasks: 404 when none, 409 when closed. */
  private SessionConfig activeSessionConfig(String tenantId, String sid) {
    return sessions.requireActive(tenantId, sid, "tasks").config().withDefaults();
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

  /** The ledger's write of a submit; its Idempotency-Key used before with another body is a 422. */
  private static <T> T keyChecked(Supplier<T> write) {
    try {
      return write.get();
    } catch (Submissions.IdempotencyConflict e) {
      throw new ApiException(
          422,
          "idempotency-key-reused",
          "Unprocessable Content",
          "this Idempotency-Key was already used with a different request body (task "
              + e.taskId()
              + "); use a new key for a new request");
    }
  }
}
