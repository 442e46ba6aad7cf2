package transfer.ledger;

import static transfer.ledger.Sql.execute;
import static transfer.ledger.Sql.instant;
import static transfer.ledger.Sql.rows;
import static transfer.ledger.StoredJson.read;
import static transfer.ledger.StoredJson.write;
import static transfer.ledger.TaskRows.TASK_COLUMNS;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.jboss.logging.Logger;
import transfer.contracts.SessionConfig;

/**
 * Sessions: created or reconfigured by a PUT, read, listed, and invalidated (with their open tasks
 * canceled, or left to finish). Submits and staged objects ask here whether a session takes new
 * work.
 */
public final class Sessions {
  private static final Logger LOG = Logger.getLogger(Sessions.class);
  private final Tx tx;
  private final EventWriter events;
  private final TaskEndings endings;
  private final UnreadableTasks unreadable;

  Sessions(Tx tx, EventWriter events, TaskEndings endings, UnreadableTasks unreadable) {
    this.tx = tx;
    this.events = events;
    this.endings = endings;
    this.unreadable = unreadable;
  }

  /** Creates the session or replaces its configuration; {@code created} tells which. */
  public SessionRow upsertSession(String tenantId, String sessionId, SessionConfig config) {
    return tx.run(
        "save session " + sessionId,
        c -> {
          Timestamp now = tx.now();
          try (PreparedStatement ps =
              c.prepareStatement(
                  "insert into sessions (tenant_id, id, config, created_at, updated_at)"
                      + " values (?, ?, ?::jsonb, ?, ?)"
                      + " on conflict (tenant_id, id) do update"
                      + " set config = excluded.config, state = 'active',"
                      + " updated_at = excluded.updated_at"
                      + " returning tenant_id, id, state, config, created_at, updated_at, last_event_seq,"
                      + " (xmax = 0) as created")) {
            ps.setString(1, tenantId);
            ps.setString(2, sessionId);
            ps.setString(3, write(config.withDefaults()));
            ps.setTimestamp(4, now);
            ps.setTimestamp(5, now);
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              return sessionRow(rs, rs.getBoolean("created"));
            }
          }
        });
  }

  public Optional<SessionRow> session(String tenantId, String sessionId) {
    return tx.run("read session " + sessionId, c -> sessionById(c, tenantId, sessionId, ""));
  }

  /** A tenant's sessions ordered by id, after {@code afterId} (paging; null from the start). */
  public List<SessionRow> sessions(String tenantId, String afterId, int limit) {
    return tx.run(
        "list sessions",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select tenant_id, id, state, config, created_at, updated_at, last_event_seq"
                      + " from sessions"
                      + " where tenant_id = ? and id > ? order by id limit ?")) {
            ps.setString(1, tenantId);
            ps.setString(2, afterId == null ? "" : afterId);
            ps.setInt(3, limit);
            return rows(ps, rs -> sessionRow(rs, false));
          }
        });
  }

  /**
   * Invalidates a session. With {@code finishTasks} it only refuses new tasks and lets the open
   * ones finish ({@code finishTasksAndInvalidate}); without, every open task is canceled as well
   * ({@code invalidateAndCancel}), each with its completion event. Empty when there is no such
   * session.
   */
  public Optional<SessionRow> invalidateSession(
      String tenantId, String sessionId, boolean finishTasks) {
    // Two transactions, so that locks are always taken task first, session second, as a
    // completion takes them: the first closes the session, the second cancels its open tasks.
    Optional<Boolean> wasOpen =
        tx.run(
            "invalidate session " + sessionId,
            c -> {
              // FOR UPDATE waits for submits in flight (they hold the row FOR KEY SHARE): their
              // tasks are visible to the cancel below, and later submits see the new state.
              Optional<SessionRow> before = sessionById(c, tenantId, sessionId, " for update");
              if (before.isEmpty()) {
                return Optional.<Boolean>empty();
              }
              boolean active = before.get().state() == SessionState.ACTIVE;
              // An invalidated session stays invalidated; only a PUT makes it active again.
              if (!(finishTasks && before.get().state() == SessionState.INVALIDATED)) {
                execute(
                    c,
                    "update sessions set state = ?, updated_at = ? where tenant_id = ? and id = ?",
                    (finishTasks ? SessionState.FINISHING : SessionState.INVALIDATED).wire(),
                    tx.now(),
                    tenantId,
                    sessionId);
              }
              if (active) {
                // didBecomeInvalidWithError: before the cancellations and the drained event.
                events.appendSessionInvalidated(c, tenantId, sessionId, finishTasks);
              }
              if (finishTasks && active) {
                // Nothing open: tell a client waiting for the end of the session at once.
                events.appendDrainedIfIdle(
                    c, tenantId, sessionId, null, UUID.randomUUID().toString());
              }
              return Optional.of(active);
            });
    if (wasOpen.isEmpty()) {
      return Optional.empty();
    }
    if (!finishTasks) {
      tx.run(
          "cancel the open tasks of session " + sessionId,
          c -> {
            List<TaskRow> open;
            List<UnreadableTask> bad = new java.util.ArrayList<>();
            try (PreparedStatement ps =
                c.prepareStatement(
                    "select "
                        + TASK_COLUMNS
                        + " from tasks t where t.tenant_id = ? and t.session_id = ? and t.state in"
                        + " ('queued', 'waiting', 'running', 'suspended') order by t.created_at"
                        + " for update")) {
              ps.setString(1, tenantId);
              ps.setString(2, sessionId);
              open = TaskRows.readableRows(ps, bad);
            }
            unreadable.fail(c, bad, tx.clock().instant());
            for (TaskRow t : open) {
              endings.cancelLocked(c, t, false);
            }
            if (!open.isEmpty() || !bad.isEmpty()) {
              LOG.infof(
                  "session %s of tenant %s invalidated: canceled %d open task(s)",
                  sessionId, tenantId, open.size());
            } else if (wasOpen.get()) {
              events.appendDrainedIfIdle(
                  c, tenantId, sessionId, null, UUID.randomUUID().toString());
            }
            return null;
          });
    }
    return session(tenantId, sessionId);
  }

  Optional<SessionRow> sessionById(Connection c, String tenantId, String sessionId, String lock)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select tenant_id, id, state, config, created_at, updated_at, last_event_seq"
                + " from sessions"
                + " where tenant_id = ? and id = ?"
                + lock)) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(sessionRow(rs, false)) : Optional.empty();
      }
    }
  }

  /** A session's key: its tenant and id. */
  record Key(String tenantId, String sessionId) {}

  /**
   * The sessions of these keys that exist, in one statement, locked FOR KEY SHARE as {@link
   * #requireActive} locks one.
   */
  java.util.Map<Key, SessionRow> sessionsForSubmit(Connection c, java.util.Collection<Key> keys)
      throws SQLException {
    java.util.Map<Key, SessionRow> out = new java.util.HashMap<>();
    if (keys.isEmpty()) {
      return out;
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "select tenant_id, id, state, config, created_at, updated_at, last_event_seq"
                + " from sessions where (tenant_id, id) in"
                + " (select * from unnest(?::text[], ?::text[])) for key share of sessions")) {
      ps.setArray(1, c.createArrayOf("text", keys.stream().map(Key::tenantId).toArray()));
      ps.setArray(2, c.createArrayOf("text", keys.stream().map(Key::sessionId).toArray()));
      for (SessionRow row : rows(ps, rs -> sessionRow(rs, false))) {
        out.put(new Key(row.tenantId(), row.id()), row);
      }
    }
    return out;
  }

  /** The session does not exist ({@code state} null) or takes no new tasks. */
  public static final class SessionClosed extends RuntimeException {
    private final SessionState state;

    SessionClosed(String sessionId, SessionState state) {
      super(
          state == null
              ? "session " + sessionId + " does not exist"
              : "session " + sessionId + " is " + state.wire() + " and takes no new tasks",
          null,
          false,
          false);
      this.state = state;
    }

    /** The session's state, or null when there is no such session. */
    public SessionState state() {
      return state;
    }
  }

  /** The session must exist and be active; {@link SessionClosed} otherwise. */
  void requireActive(Connection c, String tenantId, String sessionId) throws SQLException {
    // FOR KEY SHARE (what the foreign key takes anyway): submits run side by side, but not
    // across an invalidation, which locks the row FOR UPDATE.
    SessionState sessionState =
        sessionById(c, tenantId, sessionId, " for key share")
            .map(SessionRow::state)
            .orElseThrow(() -> new SessionClosed(sessionId, null));
    if (sessionState != SessionState.ACTIVE) {
      throw new SessionClosed(sessionId, sessionState);
    }
  }

  private SessionRow sessionRow(ResultSet rs, boolean created) throws SQLException {
    return new SessionRow(
        rs.getString("tenant_id"),
        rs.getString("id"),
        SessionState.fromWire(rs.getString("state")),
        read(rs.getString("config"), SessionConfig.class),
        instant(rs, "created_at"),
        instant(rs, "updated_at"),
        rs.getLong("last_event_seq"),
        created);
  }
}
