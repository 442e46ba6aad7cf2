package transfer.api.session;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.List;
import transfer.api.auth.Caller;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.api.request.Paging;
import transfer.api.request.RequestRules;
import transfer.contracts.SessionConfig;
import transfer.contracts.SessionView;
import transfer.ledger.SessionRow;

/** Sessions: the analog of a background {@code URLSessionConfiguration}. */
@Path("/v1/sessions")
@Produces(MediaType.APPLICATION_JSON)
public class SessionResource {
  private final SessionService sessions;
  private final Caller caller;

  public SessionResource(SessionService sessions, Caller caller) {
    this.sessions = sessions;
    this.caller = caller;
  }

  /** A page of sessions; {@code next} is the {@code after} of the following page, or null. */
  public record SessionPage(List<SessionView> sessions, String next) {}

  /** The tenant's sessions in id order, {@code limit} at a time after the session {@code after}. */
  @GET
  public SessionPage list(
      @QueryParam("limit") String limitParam, @QueryParam("after") String after) {
    List<FieldError> errors = new ArrayList<>();
    int limit = Paging.limit(limitParam, errors);
    if (after != null && !RequestRules.isSessionId(after)) {
      errors.add(new FieldError("after", "must be a session id (the 'next' of an earlier page)"));
    }
    if (!errors.isEmpty()) {
      throw ApiException.invalid(errors);
    }
    // One more than asked tells whether another page exists, so the last page says so.
    List<SessionRow> rows = sessions.sessions(caller.tenantId(), after, limit + 1);
    boolean more = rows.size() > limit;
    List<SessionView> page = rows.stream().limit(limit).map(SessionViews::of).toList();
    return new SessionPage(page, more ? page.get(page.size() - 1).id() : null);
  }

  /** Creates the session or replaces its configuration (idempotent). 201 when new, else 200. */
  @PUT
  @Path("{sid}")
  @Consumes(MediaType.APPLICATION_JSON)
  public Response put(@PathParam("sid") String sid, SessionConfig config) {
    RequestRules.requireSessionId(sid);
    SessionRow row = sessions.save(caller.tenantId(), sid, config);
    return Response.status(row.created() ? 201 : 200).entity(SessionViews.of(row)).build();
  }

  @GET
  @Path("{sid}")
  public SessionView get(@PathParam("sid") String sid) {
    RequestRules.requireSessionId(sid);
    return SessionViews.of(sessions.find(caller.tenantId(), sid));
  }

  /**
   * Invalidates the session: {@code invalidateAndCancel} (every open task canceled, state {@code
   * invalidated}) or, with {@code ?finishTasks=true}, {@code finishTasksAndInvalidate} (no new
   * tasks, open ones finish, state {@code finishing}). Either way the session's {@code
   * transfer.session.drained} follows its last task's completion. A PUT makes it active again.
   */
  @DELETE
  @Path("{sid}")
  public SessionView invalidate(
      @PathParam("sid") String sid, @QueryParam("finishTasks") String finishTasksParam) {
    RequestRules.requireSessionId(sid);
    boolean finishTasks;
    if (finishTasksParam == null || finishTasksParam.equals("false")) {
      finishTasks = false;
    } else if (finishTasksParam.equals("true")) {
      finishTasks = true;
    } else {
      throw ApiException.invalid(List.of(new FieldError("finishTasks", "must be true or false")));
    }
    return SessionViews.of(sessions.invalidate(caller.tenantId(), sid, finishTasks));
  }
}
