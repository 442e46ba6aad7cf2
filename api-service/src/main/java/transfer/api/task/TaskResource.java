package transfer.api.task;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Base64;
import java.util.HexFormat;
import transfer.api.ApiConfig;
import transfer.api.auth.Caller;
import transfer.api.problem.ApiException;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.contracts.TaskView;
import transfer.ledger.Ledger;
import transfer.ledger.SessionRow;
import transfer.ledger.TaskRow;

/** Tasks of a session: submit, read, and read the stored bytes of a finished download. */
@Path("/v1/sessions/{sid}/tasks")
@Produces(MediaType.APPLICATION_JSON)
public class TaskResource {
  private final Ledger ledger;
  private final Caller caller;
  private final ApiConfig config;

  public TaskResource(Ledger ledger, Caller caller, ApiConfig config) {
    this.ledger = ledger;
    this.caller = caller;
    this.config = config;
  }

  @POST
  @Consumes(MediaType.APPLICATION_JSON)
  public Response submit(
      @PathParam("sid") String sid,
      @HeaderParam("Idempotency-Key") String idempotencyKey,
      TaskRequest request,
      UriInfo uri) {
    RequestRules.requireSessionId(sid);
    RequestRules.requireIdempotencyKey(idempotencyKey);
    RequestRules.checkTask(request);
    SessionRow session =
        ledger
            .session(caller.tenantId(), sid)
            .orElseThrow(
                () ->
                    ApiException.notFound(
                        "session " + sid + " (create it first with PUT /v1/sessions/" + sid + ")"));
    if (!"active".equals(session.state())) {
      throw ApiException.conflict("session " + sid + " is " + session.state() + ": no new tasks");
    }
    SessionConfig cfg = session.config().withDefaults();
    Ledger.Submitted submitted;
    try {
      submitted = ledger.submit(caller.tenantId(), sid, request, cfg, idempotencyKey);
    } catch (Ledger.IdempotencyConflict e) {
      throw new ApiException(
          422,
          "idempotency-key-reused",
          "Unprocessable Content",
          "this Idempotency-Key was already used with a different request body (task "
              + e.taskId()
              + "); use a new key for a new task");
    }
    TaskRow row = submitted.task();
    URI location = uri.getAbsolutePathBuilder().path(row.id()).build();
    // A replay answers exactly what the first request was answered, marked as such.
    Response.ResponseBuilder answer = Response.created(location).entity(row.toView());
    if (submitted.replayed()) {
      answer.header("Idempotent-Replayed", "true");
    }
    return answer.build();
  }

  @GET
  @Path("{tid}")
  public TaskView get(@PathParam("sid") String sid, @PathParam("tid") String tid) {
    return find(sid, tid).toView();
  }

  /** Streams the stored bytes of a completed download; never a partial or unverified object. */
  @GET
  @Path("{tid}/content")
  @Produces({MediaType.APPLICATION_OCTET_STREAM, MediaType.APPLICATION_JSON})
  public Response content(@PathParam("sid") String sid, @PathParam("tid") String tid) {
    TaskRow task = find(sid, tid);
    if (task.type() != TaskType.DOWNLOAD || task.state() != TaskState.COMPLETED) {
      throw ApiException.conflict(
          "task " + tid + " is " + task.state().wire() + "; content exists once it is completed");
    }
    java.nio.file.Path root = config.storage().root().toAbsolutePath().normalize();
    java.nio.file.Path file = Paths.get(URI.create(task.location())).normalize();
    if (!file.startsWith(root) || !Files.isRegularFile(file)) {
      throw new ApiException(
          410,
          "content-gone",
          "Gone",
          "the stored object of task " + tid + " is no longer in storage");
    }
    byte[] digest = HexFormat.of().parseHex(task.sha256());
    return Response.ok(file.toFile(), MediaType.APPLICATION_OCTET_STREAM)
        .header("ETag", "\"" + task.sha256() + "\"")
        .header("Repr-Digest", "sha-256=:" + Base64.getEncoder().encodeToString(digest) + ":")
        .build();
  }

  private TaskRow find(String sid, String tid) {
    RequestRules.requireSessionId(sid);
    RequestRules.requireTaskId(tid);
    return ledger
        .task(caller.tenantId(), sid, tid)
        .orElseThrow(() -> ApiException.notFound("task " + tid + " in session " + sid));
  }
}
