package transfer.ledger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.jboss.logging.Logger;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;
import transfer.telemetry.LogFields;

/**
 * Tasks whose rows this version cannot read, failed alone: in the transaction that met them, each
 * ends {@code failed} with {@code unreadable} and a completion event, so that a claim, a reaper
 * pass or a session's cancel that met one goes on with the others instead of failing over and over
 * on the same row. The row's other columns are kept as they were, for an operator to inspect.
 */
final class UnreadableTasks {
  private static final Logger LOG = Logger.getLogger(UnreadableTasks.class);
  private static final Set<String> OPEN = Set.of("queued", "waiting", "running", "suspended");
  private final EventWriter events;
  private final Outbox outbox;

  UnreadableTasks(EventWriter events, Outbox outbox) {
    this.events = events;
    this.outbox = outbox;
  }

  /**
   * Fails the open ones of {@code tasks} (whose rows the transaction holds or just changed), in one
   * statement, with their completion events in one more.
   */
  void fail(Connection c, List<UnreadableTask> tasks, Instant now) throws SQLException {
    List<UnreadableTask> open = tasks.stream().filter(u -> OPEN.contains(u.state())).toList();
    if (open.isEmpty()) {
      return;
    }
    List<TaskError> errors = new ArrayList<>();
    for (UnreadableTask u : open) {
      errors.add(
          TaskError.of(
              ErrorCodes.UNREADABLE,
              "the cluster cannot read this task's stored row ("
                  + UnreadableTask.reason(u.getCause())
                  + "); it was failed so that the other tasks go on, and its row was kept",
              false));
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "update tasks t set state = 'failed', error = u.error::jsonb, lease_owner = null,"
                + " lease_expires_at = null, next_attempt_at = null, updated_at = ?,"
                + " finished_at = ? from unnest(?::text[], ?::text[]) as u(id, error)"
                + " where t.id = u.id and t.state in ('queued', 'waiting', 'running',"
                + " 'suspended')")) {
      ps.setTimestamp(1, Timestamp.from(now));
      ps.setTimestamp(2, Timestamp.from(now));
      ps.setArray(3, c.createArrayOf("text", open.stream().map(UnreadableTask::taskId).toArray()));
      ps.setArray(4, c.createArrayOf("text", errors.stream().map(StoredJson::write).toArray()));
      ps.executeUpdate();
    }
    List<EventWriter.NewEvent> completions = new ArrayList<>();
    for (int i = 0; i < open.size(); i++) {
      UnreadableTask u = open.get(i);
      try (LogFields f = LogFields.of(u.taskId(), u.sessionId(), u.tenantId(), null, null)) {
        LOG.errorf(
            "%s; failed it with %s (it was %s, attempt %d) so that the other tasks go on; its row"
                + " is kept as it was for inspection",
            u.getMessage(), ErrorCodes.UNREADABLE, u.state(), u.attempt());
      }
      completions.add(events.completedUnreadable(u, errors.get(i)));
    }
    events.append(c, completions);
    for (UnreadableTask u : open) {
      if ("running".equals(u.state())) {
        outbox.ringSession(c, u.tenantId(), u.sessionId());
      }
    }
  }
}
