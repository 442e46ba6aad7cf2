package transfer.ledger;

import static transfer.ledger.Sql.rows;
import static transfer.ledger.TaskRows.TASK_COLUMNS;
import static transfer.ledger.TaskRows.taskById;
import static transfer.ledger.TaskRows.taskRow;
import static transfer.ledger.TaskRows.updateUnfenced;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.List;
import java.util.Optional;
import org.jboss.logging.Logger;
import transfer.contracts.TaskState;
import transfer.telemetry.LogFields;

/**
 * A client's view and control of its tasks: reading and listing them, cancel (with resume data),
 * suspend and resume.
 */
public final class TaskControl {
  private static final Logger LOG = Logger.getLogger(TaskControl.class);
  private final Tx tx;
  private final TaskEndings endings;
  private final Outbox outbox;

  TaskControl(Tx tx, TaskEndings endings, Outbox outbox) {
    this.tx = tx;
    this.endings = endings;
    this.outbox = outbox;
  }

  public Optional<TaskRow> task(String tenantId, String sessionId, String taskId) {
    return tx.run(
        "read task " + taskId,
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select "
                      + TASK_COLUMNS
                      + " from tasks t where t.tenant_id = ? and t.session_id = ? and t.id = ?")) {
            ps.setString(1, tenantId);
            ps.setString(2, sessionId);
            ps.setString(3, taskId);
            try (ResultSet rs = ps.executeQuery()) {
              return rs.next() ? Optional.of(taskRow(rs)) : Optional.empty();
            }
          }
        });
  }

  /** A page of a session's tasks in creation order, optionally of some states only. */
  public List<TaskRow> tasks(
      String tenantId,
      String sessionId,
      java.util.Set<TaskState> states,
      String afterId,
      int limit) {
    return tx.run(
        "list tasks of session " + sessionId,
        c -> {
          StringBuilder sql =
              new StringBuilder(
                  "select "
                      + TASK_COLUMNS
                      + " from tasks t where t.tenant_id = ? and t.session_id = ?");
          if (states != null && !states.isEmpty()) {
            sql.append(" and t.state = any(?)");
          }
          if (afterId != null) {
            sql.append(
                " and (t.created_at, t.id) > (select a.created_at, a.id from tasks a where a.id = ?"
                    + " and a.tenant_id = t.tenant_id and a.session_id = t.session_id)");
          }
          sql.append(" order by t.created_at, t.id limit ?");
          try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            int i = 1;
            ps.setString(i++, tenantId);
            ps.setString(i++, sessionId);
            if (states != null && !states.isEmpty()) {
              ps.setArray(
                  i++, c.createArrayOf("text", states.stream().map(TaskState::wire).toArray()));
            }
            if (afterId != null) {
              ps.setString(i++, afterId);
            }
            ps.setInt(i, limit);
            return rows(ps, TaskRows::taskRow);
          }
        });
  }

  /** The task is in a state the requested change cannot leave (a final one). */
  public static final class StateConflict extends RuntimeException {
    private final TaskState state;

    StateConflict(String taskId, TaskState state, String what) {
      super("task " + taskId + " is " + state.wire() + "; " + what, null, false, false);
      this.state = state;
    }

    public TaskState state() {
      return state;
    }
  }

  /** A canceled task and, when asked for and possible, the resume data of its stored prefix. */
  public record Canceled(TaskRow task, String resumeData) {}

  /**
   * Cancels a task (from any open state): final, with its completion event ({@code error.code}
   * {@code canceled}). A running task loses its lease, so its worker stops at its next heartbeat.
   * With {@code produceResumeData}, a download with a durable prefix and a validator answers resume
   * data a new task may continue from. Canceling a canceled task answers it again; a completed or
   * failed one is a {@link StateConflict}. Empty: no such task.
   */
  public Optional<Canceled> cancel(
      String tenantId, String sessionId, String taskId, boolean produceResumeData) {
    return tx.run(
        "cancel task " + taskId,
        c -> {
          Optional<TaskRow> found = lockTask(c, tenantId, sessionId, taskId);
          if (found.isEmpty()) {
            return Optional.<Canceled>empty();
          }
          TaskRow t = found.get();
          if (t.state() == TaskState.CANCELED) {
            return Optional.of(new Canceled(t, produceResumeData ? t.resumeData() : null));
          }
          if (t.state().isFinal()) {
            throw new StateConflict(taskId, t.state(), "only an open task can be canceled");
          }
          TaskRow canceled = endings.cancelLocked(c, t, produceResumeData);
          return Optional.of(new Canceled(canceled, canceled.resumeData()));
        });
  }

  /**
   * Suspends an open task: it holds no worker until resumed. A running one gives up its lease (its
   * worker stops at the next heartbeat); the attempt does not count and its checkpoint stays.
   * Suspending a suspended task is a no-op; a final one is a {@link StateConflict}.
   */
  public Optional<TaskRow> suspend(String tenantId, String sessionId, String taskId) {
    return tx.run(
        "suspend task " + taskId,
        c -> {
          Optional<TaskRow> found = lockTask(c, tenantId, sessionId, taskId);
          if (found.isEmpty() || found.get().state() == TaskState.SUSPENDED) {
            return found;
          }
          TaskRow t = found.get();
          if (t.state().isFinal()) {
            throw new StateConflict(taskId, t.state(), "only an open task can be suspended");
          }
          boolean running = t.state() == TaskState.RUNNING;
          updateUnfenced(
              c,
              taskId,
              "state = 'suspended', attempt = case when ? then greatest(attempt - 1, 0) else"
                  + " attempt end, lease_owner = null, lease_expires_at = null,"
                  + " next_attempt_at = null, updated_at = ?",
              running,
              tx.now());
          try (LogFields f = LogFields.task(t)) {
            LOG.infof(
                "task %s: suspended by the client while %s (%d durable bytes kept)",
                taskId, t.state().wire(), t.bytesDurable());
          }
          if (running) {
            outbox.ringSession(c, tenantId, sessionId);
          }
          return taskById(c, taskId);
        });
  }

  /**
   * Resumes a suspended task: queued and announced, to continue from its checkpoint. An open task
   * that is not suspended is answered as it is; a final one is a {@link StateConflict}.
   */
  public Optional<TaskRow> resume(String tenantId, String sessionId, String taskId) {
    return tx.run(
        "resume task " + taskId,
        c -> {
          Optional<TaskRow> found = lockTask(c, tenantId, sessionId, taskId);
          if (found.isEmpty() || found.get().state() != TaskState.SUSPENDED) {
            if (found.isPresent() && found.get().state().isFinal()) {
              throw new StateConflict(
                  taskId, found.get().state(), "only a suspended task can be resumed");
            }
            return found;
          }
          Timestamp now = tx.now();
          updateUnfenced(c, taskId, "state = 'queued', announced_at = ?, updated_at = ?", now, now);
          outbox.doorbell(c, found.get());
          try (LogFields f = LogFields.task(found.get())) {
            LOG.infof("task %s: resumed by the client; queued", taskId);
          }
          return taskById(c, taskId);
        });
  }

  private Optional<TaskRow> lockTask(Connection c, String tenantId, String sessionId, String taskId)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select "
                + TASK_COLUMNS
                + " from tasks t where t.tenant_id = ? and t.session_id = ? and t.id = ?"
                + " for update")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      ps.setString(3, taskId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(taskRow(rs)) : Optional.empty();
      }
    }
  }
}
