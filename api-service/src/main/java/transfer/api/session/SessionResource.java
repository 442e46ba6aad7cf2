package transfer.api.session;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import transfer.api.auth.Caller;
import transfer.api.problem.ApiException;
import transfer.api.task.RequestRules;
import transfer.contracts.SessionConfig;
import transfer.contracts.SessionView;
import transfer.ledger.Ledger;
import transfer.ledger.SessionRow;

/** Sessions: the analog of a background {@code URLSessionConfiguration}. */
@Path("/v1/sessions/{sid}")
@Produces(MediaType.APPLICATION_JSON)
public class SessionResource {
  private final Ledger ledger;
  private final Caller caller;

  public SessionResource(Ledger ledger, Caller caller) {
    this.ledger = ledger;
    this.caller = caller;
  }

  /** Creates the session or replaces its configuration (idempotent). 201 when new, else 200. */
  @PUT
  @Consumes(MediaType.APPLICATION_JSON)
  public Response put(@PathParam("sid") String sid, SessionConfig config) {
    RequestRules.requireSessionId(sid);
    SessionConfig cfg = config == null ? SessionConfig.DEFAULT : config;
    RequestRules.checkSession(cfg);
    SessionRow row = ledger.upsertSession(caller.tenantId(), sid, cfg);
    return Response.status(row.created() ? 201 : 200).entity(row.toView()).build();
  }

  @GET
  public SessionView get(@PathParam("sid") String sid) {
    RequestRules.requireSessionId(sid);
    return ledger
        .session(caller.tenantId(), sid)
        .orElseThrow(() -> ApiException.notFound("session " + sid))
        .toView();
  }
}
