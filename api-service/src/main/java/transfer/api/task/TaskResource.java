package transfer.api.task;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.net.URI;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import transfer.api.auth.Caller;
import transfer.api.object.ByteRange;
import transfer.api.object.StoredContent;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.api.request.Paging;
import transfer.api.request.RequestRules;
import transfer.api.trace.RequestTrace;
import transfer.contracts.ContentDisposition;
import transfer.contracts.ReceivedResponse;
import transfer.contracts.TaskPatch;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskView;
import transfer.ledger.Submissions;
import transfer.ledger.TaskControl;
import transfer.ledger.TaskRow;

/**
 * Tasks of a session: submit, list, read, control (cancel, suspend, resume), and read the stored
 * bytes of a finished download. A malformed request is refused before the ledger is touched.
 */
@Path("/v1/sessions/{sid}/tasks")
@Produces(MediaType.APPLICATION_JSON)
public class TaskResource {
  private final SubmitService submitter;
  private final TaskControlService tasks;
  private final Caller caller;
  private final ObjectMapper json;

  /** The request's server span: a submit stores its context with the task (README, Traces). */
  private final RequestTrace trace;

  public TaskResource(
      SubmitService submitter,
      TaskControlService tasks,
      Caller caller,
      ObjectMapper json,
      RequestTrace trace) {
    this.submitter = submitter;
    this.tasks = tasks;
    this.caller = caller;
    this.json = json;
    this.trace = trace;
  }

  /** A page of tasks; {@code next} is the {@code after} of the following page, or null. */
  public record TaskPage(List<TaskView> tasks, String next) {}

  /** The optional body of a cancel. */
  public record CancelRequest(Boolean produceResumeData) {}

  /** A canceled task and, when asked for and possible, the resumeData of its stored prefix. */
  public record CancelAnswer(TaskView task, String resumeData) {}

  @POST
  @Consumes(MediaType.APPLICATION_JSON)
  public Response submit(
      @PathParam("sid") String sid,
      @HeaderParam("Idempotency-Key") String idempotencyKey,
      TaskRequest request,
      UriInfo uri) {
    RequestRules.requireSessionId(sid);
    RequestRules.requireIdempotencyKey(idempotencyKey);
    Submissions.Submitted submitted =
        submitter.submit(caller.tenantId(), sid, idempotencyKey, request, trace.stored());
    TaskRow row = submitted.task();
    trace.span().setAttribute("transfer.task.id", row.id());
    URI location = uri.getAbsolutePathBuilder().path(row.id()).build();
    // A replay answers exactly what the first request was answered, marked as such.
    Response.ResponseBuilder answer = Response.created(location).entity(TaskViews.of(row));
    if (submitted.replayed()) {
      answer.header("Idempotent-Replayed", "true");
    }
    return answer.build();
  }

  /**
   * The session's tasks in creation order ({@code getAllTasks}), optionally of some states only:
   * {@code state} may repeat or list several, comma-separated. {@code after} is the id of the last
   * task of the previous page.
   */
  @GET
  public TaskPage list(
      @PathParam("sid") String sid,
      @QueryParam("state") List<String> stateParams,
      @QueryParam("limit") String limitParam,
      @QueryParam("after") String after) {
    RequestRules.requireSessionId(sid);
    List<FieldError> errors = new ArrayList<>();
    Set<TaskState> states = states(stateParams, errors);
    int limit = Paging.limit(limitParam, errors);
    if (after != null && !RequestRules.isUuid(after)) {
      errors.add(new FieldError("after", "must be a task id (the 'next' of an earlier page)"));
    }
    if (!errors.isEmpty()) {
      throw ApiException.invalid(errors);
    }
    // One more than asked tells whether another page exists, so the last page says so.
    List<TaskRow> rows = tasks.tasks(caller.tenantId(), sid, states, after, limit + 1);
    boolean more = rows.size() > limit;
    List<TaskView> page = rows.stream().limit(limit).map(TaskViews::of).toList();
    return new TaskPage(page, more ? page.get(page.size() - 1).id() : null);
  }

  private static Set<TaskState> states(List<String> params, List<FieldError> errors) {
    Set<TaskState> states = EnumSet.noneOf(TaskState.class);
    if (params == null) {
      return states;
    }
    for (String param : params) {
      for (String name : param.split(",", -1)) {
        String wire = name.trim();
        if (wire.isEmpty()) {
          continue;
        }
        try {
          states.add(TaskState.fromWire(wire));
        } catch (IllegalArgumentException e) {
          errors.add(
              new FieldError(
                  "state",
                  "unknown state '"
                      + RequestRules.sanitize(wire)
                      + "'; one of "
                      + Arrays.stream(TaskState.values())
                          .map(TaskState::wire)
                          .collect(Collectors.joining(", "))));
        }
      }
    }
    return states;
  }

  /**
   * Cancels an open task ({@code cancel(byProducingResumeData:)}): final, with its completion
   * event. The body is optional; with {@code {"produceResumeData": true}} a download with a durable
   * prefix answers the resumeData a new download task may continue from. A completed or failed task
   * is a 409.
   */
  @POST
  @Path("{tid}/cancel")
  public CancelAnswer cancel(
      @PathParam("sid") String sid, @PathParam("tid") String tid, String body)
      throws JsonProcessingException {
    RequestRules.requireSessionId(sid);
    RequestRules.requireTaskId(tid);
    boolean produceResumeData = false;
    if (body != null && !body.isBlank()) {
      CancelRequest request = json.readValue(body, CancelRequest.class);
      if (request == null) {
        throw ApiException.invalid(
            List.of(new FieldError("$", "a JSON object (or no body) is required")));
      }
      produceResumeData = Boolean.TRUE.equals(request.produceResumeData());
    }
    TaskControl.Canceled canceled = tasks.cancel(caller.tenantId(), sid, tid, produceResumeData);
    return new CancelAnswer(TaskViews.of(canceled.task()), canceled.resumeData());
  }

  /** Suspends an open task: it holds no worker (a running one stops) until resumed. */
  @POST
  @Path("{tid}/suspend")
  public TaskView suspend(@PathParam("sid") String sid, @PathParam("tid") String tid) {
    RequestRules.requireSessionId(sid);
    RequestRules.requireTaskId(tid);
    return TaskViews.of(tasks.suspend(caller.tenantId(), sid, tid));
  }

  /** Resumes a suspended task: queued again, to continue from its checkpoint. */
  @POST
  @Path("{tid}/resume")
  public TaskView resume(@PathParam("sid") String sid, @PathParam("tid") String tid) {
    RequestRules.requireSessionId(sid);
    RequestRules.requireTaskId(tid);
    return TaskViews.of(tasks.resume(caller.tenantId(), sid, tid));
  }

  /**
   * Changes a task: {@code url} and {@code headers} while it is queued, waiting or suspended (a
   * task waiting for credentials or for its origin is queued at once to try them), {@code priority}
   * and {@code description} while it is open. 400 for a bad field, 404 for an unknown task, 409 for
   * a final task or a running one whose url or headers would change.
   */
  @PATCH
  @Path("{tid}")
  @Consumes(MediaType.APPLICATION_JSON)
  public TaskView patch(
      @PathParam("sid") String sid, @PathParam("tid") String tid, TaskPatch patch) {
    RequestRules.requireSessionId(sid);
    RequestRules.requireTaskId(tid);
    return TaskViews.of(tasks.patch(caller.tenantId(), sid, tid, patch));
  }

  @GET
  @Path("{tid}")
  public TaskView get(@PathParam("sid") String sid, @PathParam("tid") String tid) {
    RequestRules.requireSessionId(sid);
    RequestRules.requireTaskId(tid);
    return TaskViews.of(tasks.find(caller.tenantId(), sid, tid));
  }

  /**
   * Streams the stored bytes of a completed download; never a partial or unverified object. Its
   * {@code Content-Type} and suggested file name ({@code Content-Disposition}) are the origin's;
   * one byte range ({@code Range}) is answered 206, a range past the end 416.
   */
  @GET
  @Path("{tid}/content")
  @Produces({MediaType.APPLICATION_OCTET_STREAM, MediaType.APPLICATION_JSON})
  public Response content(
      @PathParam("sid") String sid,
      @PathParam("tid") String tid,
      @HeaderParam("Range") String range,
      @QueryParam("redirect") boolean redirect) {
    RequestRules.requireSessionId(sid);
    RequestRules.requireTaskId(tid);
    TaskControlService.Content content = tasks.content(caller.tenantId(), sid, tid);
    if (redirect) {
      Optional<java.net.URL> link = tasks.link(content);
      if (link.isPresent()) {
        // Storage serves the bytes itself: a short-lived link, never cached.
        return StoredContent.described(
                Response.temporaryRedirect(java.net.URI.create(link.get().toString()))
                    .header("Cache-Control", "no-store"),
                content.task().sha256())
            .build();
      }
    }
    long size = content.body().size();
    ReceivedResponse received = content.task().response();
    String type =
        received != null && received.contentType() != null && isMediaType(received.contentType())
            ? received.contentType()
            : MediaType.APPLICATION_OCTET_STREAM;
    Optional<ByteRange> part = ByteRange.of(range, size);
    Response.ResponseBuilder answer =
        part.isPresent()
            ? Response.status(206)
                .entity(
                    StoredContent.entity(content.body(), part.get().first(), part.get().length()))
                .header("Content-Range", part.get().contentRange(size))
            : Response.ok(StoredContent.entity(content.body(), 0, size));
    StoredContent.length(answer, content.body(), part.map(ByteRange::length).orElse(size));
    // The origin chose the type: the bytes are offered for saving, never rendered as a page of
    // this API's origin (no sniffing, a sandbox if a browser shows them anyway).
    answer
        .type(type)
        .header("Accept-Ranges", "bytes")
        .header("X-Content-Type-Options", "nosniff")
        .header("Content-Security-Policy", "sandbox")
        .header(
            "Content-Disposition",
            received != null && received.fileName() != null
                ? ContentDisposition.attachment(received.fileName())
                : "attachment");
    return StoredContent.described(answer, content.task().sha256()).build();
  }

  /** Whether the origin's Content-Type can be answered as it is (one type/subtype, parameters). */
  private static boolean isMediaType(String value) {
    try {
      MediaType.valueOf(value);
      return value.indexOf('\r') < 0 && value.indexOf('\n') < 0;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }
}
