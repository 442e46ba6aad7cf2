package transfer.ledger;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import transfer.contracts.EventTypes;
import transfer.contracts.Json;
import transfer.contracts.TaskState;
import transfer.ledger.EventSequencer.SessionKey;
import transfer.ledger.EventSequencer.Written;
import transfer.ledger.EventWriter.NewEvent;

/**
 * A session's {@code transfer.session.drained} event: whether a round's sessions are drained, the
 * round's update of their rows (next numbers and totals, one statement for the round), and the
 * event's data.
 *
 * <p>The totals are counters on the session ({@code tasks_completed}, {@code tasks_failed}, {@code
 * tasks_canceled}), raised by the sequencer as it numbers each completion event, which it sees
 * once; counting the session's tasks instead would cost the session's whole history at each drain.
 */
final class SessionDrain {
  private static final String OPEN = "('queued', 'waiting', 'running', 'suspended')";

  /** A session after the round's update: its last number, whether it sends events, its totals. */
  record Counted(
      SessionKey key,
      long lastSeq,
      boolean sendsEvents,
      long completed,
      long failed,
      long canceled,
      boolean drained,
      int events) {}

  /**
   * The sessions of the round that are drained by it: a completion among their events, no task of
   * theirs open, and no event of theirs committed but left for a later round ({@code next}: the cut
   * after this round). Without the last condition, rounds that split a session's last completions
   * each found no open task and each wrote a drained event, the first of them before the session's
   * last completion. The open-task check runs first, in its own statement: every final transition
   * it saw has committed, and its events with it, so the pending check that follows (a later
   * snapshot) cannot miss one.
   */
  Set<SessionKey> drainedSessions(
      Connection c, Map<SessionKey, List<Written>> bySession, SequencerCut next)
      throws SQLException {
    List<SessionKey> completing = new ArrayList<>();
    for (Map.Entry<SessionKey, List<Written>> e : bySession.entrySet()) {
      if (e.getValue().stream().anyMatch(w -> EventTypes.COMPLETED.equals(w.type()))) {
        completing.add(e.getKey());
      }
    }
    if (completing.isEmpty()) {
      return Set.of();
    }
    List<SessionKey> idle =
        sessions(
            c,
            "select u.tenant_id, u.session_id from unnest(?::text[], ?::text[])"
                + " as u(tenant_id, session_id) where not exists (select 1 from tasks t"
                + " where t.tenant_id = u.tenant_id and t.session_id = u.session_id and t.state in "
                + OPEN
                + ")",
            completing,
            null);
    if (idle.isEmpty()) {
      return Set.of();
    }
    return new HashSet<>(
        sessions(
            c,
            "select u.tenant_id, u.session_id from unnest(?::text[], ?::text[])"
                + " as u(tenant_id, session_id)"
                + " where not exists (select 1 from events e where e.xid >= ?::xid8"
                + " and e.tenant_id = u.tenant_id and e.session_id = u.session_id)"
                + " and not exists (select 1 from events e where e.xid = any(?::text[]::xid8[])"
                + " and e.tenant_id = u.tenant_id and e.session_id = u.session_id)",
            idle,
            next));
  }

  private static List<SessionKey> sessions(
      Connection c, String sql, List<SessionKey> of, SequencerCut after) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setArray(1, c.createArrayOf("text", of.stream().map(SessionKey::tenantId).toArray()));
      ps.setArray(2, c.createArrayOf("text", of.stream().map(SessionKey::sessionId).toArray()));
      if (after != null) {
        ps.setString(3, Long.toString(after.horizon()));
        ps.setArray(4, EventSequencer.xids(c, after.inFlight()));
      }
      List<SessionKey> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new SessionKey(rs.getString(1), rs.getString(2)));
        }
      }
      return out;
    }
  }

  /**
   * Raises each session's last number by its events of the round (and its drained event) and its
   * totals by its completions, in one statement; the sessions that no longer exist are absent.
   */
  List<Counted> count(
      Connection c, Map<SessionKey, List<Written>> bySession, Set<SessionKey> drained)
      throws SQLException {
    int n = bySession.size();
    String[] tenants = new String[n];
    String[] sessions = new String[n];
    Integer[] numbers = new Integer[n];
    Integer[][] totals = new Integer[3][n];
    int i = 0;
    for (Map.Entry<SessionKey, List<Written>> e : bySession.entrySet()) {
      tenants[i] = e.getKey().tenantId();
      sessions[i] = e.getKey().sessionId();
      numbers[i] = e.getValue().size() + (drained.contains(e.getKey()) ? 1 : 0);
      Map<TaskState, Integer> ended = EventSequencer.completions(e.getValue());
      totals[0][i] = ended.getOrDefault(TaskState.COMPLETED, 0);
      totals[1][i] = ended.getOrDefault(TaskState.FAILED, 0);
      totals[2][i] = ended.getOrDefault(TaskState.CANCELED, 0);
      i++;
    }
    // Rows in (tenant, session) order, as bySession is: two rounds never wait for each other
    // (one at a time), and a session's own writers lock one row.
    try (PreparedStatement ps =
        c.prepareStatement(
            "update sessions s set last_event_seq = s.last_event_seq + u.n,"
                + " tasks_completed = s.tasks_completed + u.completed,"
                + " tasks_failed = s.tasks_failed + u.failed,"
                + " tasks_canceled = s.tasks_canceled + u.canceled"
                + " from unnest(?::text[], ?::text[], ?::int[], ?::int[], ?::int[], ?::int[])"
                + " as u(tenant_id, session_id, n, completed, failed, canceled)"
                + " where s.tenant_id = u.tenant_id and s.id = u.session_id"
                + " returning s.tenant_id, s.id, s.last_event_seq,"
                + " coalesce((s.config ->> 'sendsEvents')::boolean, true),"
                + " s.tasks_completed, s.tasks_failed, s.tasks_canceled, u.n")) {
      ps.setArray(1, c.createArrayOf("text", tenants));
      ps.setArray(2, c.createArrayOf("text", sessions));
      ps.setArray(3, c.createArrayOf("integer", numbers));
      ps.setArray(4, c.createArrayOf("integer", totals[0]));
      ps.setArray(5, c.createArrayOf("integer", totals[1]));
      ps.setArray(6, c.createArrayOf("integer", totals[2]));
      List<Counted> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          SessionKey key = new SessionKey(rs.getString(1), rs.getString(2));
          out.add(
              new Counted(
                  key,
                  rs.getLong(3),
                  rs.getBoolean(4),
                  rs.getLong(5),
                  rs.getLong(6),
                  rs.getLong(7),
                  drained.contains(key),
                  rs.getInt(8)));
        }
      }
      out.sort(
          java.util.Comparator.comparing((Counted k) -> k.key().tenantId())
              .thenComparing(k -> k.key().sessionId()));
      return out;
    }
  }

  /**
   * The drained event of a session counted by a round, after its last completion ({@code
   * lastCompletion}), in that completion's trace: the completion caused it.
   */
  NewEvent drainedEvent(Counted s, Written lastCompletion) {
    return new NewEvent(
        s.key().tenantId(),
        s.key().sessionId(),
        EventTypes.SESSION_DRAINED,
        null,
        lastCompletion.taskId() + ":drained",
        data(s.key().sessionId(), lastCompletion.taskId(), s.completed(), s.failed(), s.canceled()),
        lastCompletion.trace());
  }

  /**
   * The data of the drained event of a session invalidated while idle (no task open), written in
   * the invalidation's transaction; empty when a task is open. Its totals are the session's
   * counters plus the completions still waiting for their numbers, read in one statement (one
   * snapshot), so a round that commits meanwhile is counted once.
   */
  static Optional<ObjectNode> idleData(Connection c, String tenantId, String sessionId)
      throws SQLException {
    String pending =
        "select e.data ->> 'state' from events e where e.tenant_id = s.tenant_id"
            + " and e.session_id = s.id and e.type = '"
            + EventTypes.COMPLETED
            + "' and ";
    try (PreparedStatement ps =
        c.prepareStatement(
            "select exists (select 1 from tasks where tenant_id = s.tenant_id and session_id = s.id"
                + " and state in "
                + OPEN
                + "), s.tasks_completed, s.tasks_failed, s.tasks_canceled,"
                + " array(("
                + pending
                + "e.xid >= q.horizon) union all ("
                + pending
                + "e.xid = any(q.in_flight)))::text[]"
                + " from sessions s, event_sequencer q where s.tenant_id = ? and s.id = ?")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next() || rs.getBoolean(1)) {
          return Optional.empty();
        }
        long[] totals = {rs.getLong(2), rs.getLong(3), rs.getLong(4)};
        for (Object state : (Object[]) rs.getArray(5).getArray()) {
          // A state this version does not know (a newer version wrote it) counts in no total.
          switch (TaskState.known(state.toString()).orElse(TaskState.QUEUED)) {
            case COMPLETED -> totals[0]++;
            case FAILED -> totals[1]++;
            case CANCELED -> totals[2]++;
            default -> {}
          }
        }
        return Optional.of(data(sessionId, null, totals[0], totals[1], totals[2]));
      }
    }
  }

  /** The drained event's data: the session, its last task (null: none), its totals. */
  static ObjectNode data(
      String sessionId, String lastTaskId, long completed, long failed, long canceled) {
    ObjectNode data = Json.mapper().createObjectNode();
    data.put("sessionId", sessionId);
    data.put("lastTaskId", lastTaskId);
    ObjectNode totals = data.putObject("tasks");
    totals.put("completed", completed);
    totals.put("failed", failed);
    totals.put("canceled", canceled);
    return data;
  }
}
