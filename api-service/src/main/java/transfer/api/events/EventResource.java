package transfer.api.events;

import com.fasterxml.jackson.databind.JsonNode;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import transfer.api.auth.Caller;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.api.request.Paging;
import transfer.api.request.RequestRules;
import transfer.api.session.SessionService;
import transfer.ledger.EventReplay;

/**
 * Replay of a session's stored events: the same CloudEvents as on the results topic. Their live
 * stream, {@code GET /v1/sessions/{sid}/events/stream}, is {@link EventStreamRoute}.
 */
@Path("/v1/sessions/{sid}/events")
@Produces(MediaType.APPLICATION_JSON)
public class EventResource {
  private final EventReplay eventReplay;
  private final SessionService sessions;
  private final Caller caller;

  public EventResource(EventReplay eventReplay, SessionService sessions, Caller caller) {
    this.eventReplay = eventReplay;
    this.sessions = sessions;
    this.caller = caller;
  }

  public record EventPage(List<JsonNode> events, long last) {}

  @GET
  public EventPage replay(
      @PathParam("sid") String sid,
      @QueryParam("after") @DefaultValue("0") String afterParam,
      @QueryParam("limit") @DefaultValue("" + Paging.DEFAULT_LIMIT) String limitParam) {
    RequestRules.requireSessionId(sid);
    long after = parse("after", afterParam, 0, Long.MAX_VALUE);
    int limit = (int) parse("limit", limitParam, 1, Paging.MAX_LIMIT);
    sessions.find(caller.tenantId(), sid);
    List<JsonNode> events = eventReplay.events(caller.tenantId(), sid, after, limit);
    long last = events.isEmpty() ? after : events.get(events.size() - 1).get("sequence").asLong();
    return new EventPage(events, last);
  }

  private static long parse(String field, String value, long min, long max) {
    Long v = parseOrNull(value, min, max);
    if (v == null) {
      throw ApiException.invalid(List.of(rangeError(field, min, max)));
    }
    return v;
  }

  /** The value as an integer in [min, max], or null when it is not one. */
  static Long parseOrNull(String value, long min, long max) {
    try {
      long v = Long.parseLong(value);
      if (v >= min && v <= max) {
        return v;
      }
    } catch (NumberFormatException e) {
      // answered by the caller
    }
    return null;
  }

  static FieldError rangeError(String field, long min, long max) {
    return new FieldError(field, "must be an integer between " + min + " and " + max);
  }
}
