package transfer.api.task;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import transfer.api.auth.Caller;
import transfer.api.request.RequestRules;
import transfer.api.trace.RequestTrace;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskView;
import transfer.ledger.Submissions;

/**
 * Submits up to {@value SubmitService#MAX_BATCH_TASKS} tasks of one session in one request, all or
 * none ({@link SubmitService#submitBatch}). An {@code Idempotency-Key} covers the whole batch.
 */
@Path("/v1/sessions/{sid}/tasks:batch")
@Produces(MediaType.APPLICATION_JSON)
public class TaskBatchResource {
  private final SubmitService submitter;
  private final Caller caller;
  private final RequestTrace trace;

  public TaskBatchResource(SubmitService submitter, Caller caller, RequestTrace trace) {
    this.submitter = submitter;
    this.caller = caller;
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
    Submissions.BatchSubmitted submitted =
        submitter.submitBatch(
            caller.tenantId(),
            sid,
            idempotencyKey,
            body == null ? null : body.tasks(),
            trace.stored());
    trace.span().setAttribute("transfer.task.count", submitted.tasks().size());
    Response.ResponseBuilder answer =
        Response.status(201)
            .entity(new BatchAnswer(submitted.tasks().stream().map(TaskViews::of).toList()));
    if (submitted.replayed()) {
      answer.header("Idempotent-Replayed", "true");
    }
    return answer.build();
  }
}
