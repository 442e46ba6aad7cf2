package transfer.api.task;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.Logger;
import transfer.api.auth.Caller;
import transfer.api.egress.EgressRules;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.api.quota.Quotas;
import transfer.api.request.RequestRules;
import transfer.api.session.SessionService;
import transfer.api.trace.RequestTrace;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskView;
import transfer.ledger.Submissions;
import transfer.ledger.TaskRow;

/**
 * Submits up to {@value #MAX_TASKS} tasks of one session in one request, all or none: every task is
 * checked first (a refusal names each bad field as {@code tasks[i].field}), then all are written in
 * one ledger transaction. An {@code Idempotency-Key} covers the whole batch.
 */
@Path("/v1/sessions/{sid}/tasks:batch")
@Produces(MediaType.APPLICATION_JSON)
public class TaskBatchResource {
  private static final Logger LOG = Logger.getLogger(TaskBatchResource.class);
  public static final int MAX_TASKS = 1000;

  private final SessionService sessions;

  private final Submissions submissions;
  private final Caller caller;
  private final EgressRules egress;
  private final Quotas quotas;
  private final RequestTrace trace;

  public TaskBatchResource(
      SessionService sessions,
      Submissions submissions,
      Caller caller,
      EgressRules egress,
      Quotas quotas,
      RequestTrace trace) {
    this.sessions = sessions;
    this.submissions = submissions;
    this.caller = caller;
    this.egress = egress;
    this.quotas = quotas;
    this.trace = trace;
  }

  /** The body: the task requests, each as {@code POST /v1/sessions/{sid}/tasks} takes one. */
  public record BatchRequest(List<TaskRequest> tasks) {}

  /** The answer: the tasks, in the order of the request. */
  public record BatchAnswer(List<TaskView> tasks) {}

  @POST
  @Consumes(MediaType.APPLICATION_JSON)
  public Response submit(
      @PathParam("sid") String sid,
      @HeaderParam("Idempotency-Key") String idempotencyKey,
      BatchRequest body) {
    RequestRules.requireSessionId(sid);
    RequestRules.requireIdempotencyKey(idempotencyKey);
    if (body == null || body.tasks() == null || body.tasks().isEmpty()) {
      throw ApiException.invalid(
          List.of(new FieldError("tasks", "is required: 1 to " + MAX_TASKS + " task requests")));
    }
    List<TaskRequest> requests = body.tasks();
    if (requests.size() > MAX_TASKS) {
      throw ApiException.invalid(
          List.of(
              new FieldError(
                  "tasks",
                  "has "
                      + requests.size()
                      + " tasks; at most "
                      + MAX_TASKS
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
    SessionConfig cfg =
        sessions.requireActive(caller.tenantId(), sid, "tasks").config().withDefaults();
    quotas.checkBatch(caller.tenantId(), sid, idempotencyKey, requests);
    Submissions.BatchSubmitted submitted;
    try {
      // Every task of the batch stores the batch request's context: one trace for all of them.
      submitted =
          submissions.submitBatch(
              caller.tenantId(), sid, requests, cfg, idempotencyKey, trace.stored());
    } catch (Submissions.IdempotencyConflict e) {
      throw TaskResource.keyReused(e);
    }
    trace.span().setAttribute("transfer.task.count", submitted.tasks().size());
    // One line per task (at DEBUG: a batch may hold a thousand), and one for the batch.
    if (LOG.isDebugEnabled()) {
      for (TaskRow row : submitted.tasks()) {
        TaskResource.logSubmitted(row, submitted.replayed(), Logger.Level.DEBUG);
      }
    }
    LOG.infof(
        "%d task(s) %s session %s, from %s to %s",
        submitted.tasks().size(),
        submitted.replayed() ? "of a replayed batch (Idempotency-Key) in" : "submitted to",
        sid,
        submitted.tasks().get(0).id(),
        submitted.tasks().get(submitted.tasks().size() - 1).id());
    Response.ResponseBuilder answer =
        Response.status(201)
            .entity(new BatchAnswer(submitted.tasks().stream().map(TaskViews::of).toList()));
    if (submitted.replayed()) {
      answer.header("Idempotent-Replayed", "true");
    }
    return answer.build();
  }
}
