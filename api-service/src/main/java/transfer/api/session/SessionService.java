package transfer.api.session;

import jakarta.inject.Singleton;
import java.util.List;
import transfer.api.problem.ApiException;
import transfer.contracts.SessionConfig;
import transfer.ledger.SessionRow;
import transfer.ledger.SessionState;
import transfer.ledger.Sessions;

/**
 * A tenant's sessions as the resources use them: found or 404, open to new work or 409, saved once
 * their configuration passes its rules, invalidated. The tenant is an argument, since the event
 * stream authenticates on its own rather than through the request's {@code Caller}.
 */
@Singleton
public class SessionService {
  private final Sessions sessions;

  public SessionService(Sessions sessions) {
    this.sessions = sessions;
  }

  /** The tenant's session {@code sid}; 404 when the tenant has none of that id. */
  public SessionRow find(String tenantId, String sid) {
    return sessions.session(tenantId, sid).orElseThrow(() -> notFound(sid));
  }

  /**
   * A session that takes new work ({@code what}: tasks, objects): 404 when none (the detail says
   * how to create it), 409 when it is finishing or invalidated.
   */
  public SessionRow requireActive(String tenantId, String sid, String what) {
    SessionRow session = sessions.session(tenantId, sid).orElseThrow(() -> missing(sid));
    if (session.state() != SessionState.ACTIVE) {
      throw closed(sid, session.state(), what);
    }
    return session;
  }

  /**
   * The answer when a session that should take new work does not exist: 404, saying how to create
   * it.
   */
  public static ApiException missing(String sid) {
    return ApiException.notFound(
        "session " + sid + " (create it first with PUT /v1/sessions/" + sid + ")");
  }

  /** The answer when a session takes no new {@code what} (tasks, objects): 409. */
  public static ApiException closed(String sid, SessionState state, String what) {
    return ApiException.conflict("session " + sid + " is " + state.wire() + ": no new " + what);
  }

  /** Up to {@code limit} of the tenant's sessions in id order, after the session {@code after}. */
  public List<SessionRow> sessions(String tenantId, String after, int limit) {
    return sessions.sessions(tenantId, after, limit);
  }

  /**
   * Creates the session or replaces its configuration (null: the default configuration), once the
   * configuration passes its rules.
   */
  public SessionRow save(String tenantId, String sid, SessionConfig config) {
    SessionConfig cfg = config == null ? SessionConfig.DEFAULT : config;
    SessionRules.checkSession(cfg);
    return sessions.upsertSession(tenantId, sid, cfg);
  }

  /**
   * Invalidates the session: every open task canceled, or with {@code finishTasks} no new tasks
   * while the open ones finish.
   */
  public SessionRow invalidate(String tenantId, String sid, boolean finishTasks) {
    SessionRow current = find(tenantId, sid);
    // Nothing is open in an invalidated session: letting its tasks finish is already done, and
    // "finishing" would wrongly say that something still runs.
    if (finishTasks && current.state() == SessionState.INVALIDATED) {
      return current;
    }
    return sessions.invalidateSession(tenantId, sid, finishTasks).orElseThrow(() -> notFound(sid));
  }

  private static ApiException notFound(String sid) {
    return ApiException.notFound("session " + sid);
  }
}
