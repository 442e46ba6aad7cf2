package transfer.ledger;

import static transfer.ledger.Sql.rows;
import static transfer.ledger.StoredJson.write;
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
import transfer.contracts.TaskPatch;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.WaitReasons;
import transfer.telemetry.LogFields;

/**
 * A client's view and control of its tasks: reading and listing them, cancel (with resume data),
 * suspend, resume and change (url, headers, priority, description).
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

  /**
   * Changes a task ({@link TaskPatch}): its url and headers while it is queued, waiting or
   * suspended, its priority and description while it is open. A task waiting (for new credentials,
   * for its origin, for a retry; not for its earliestBeginAt) whose url or headers change is queued
   * at once, to try them; the next attempt continues from the stored bytes when the origin's
   * validators still match. A final task, or a running one whose url or headers would change, is a
   * {@link StateConflict}.
   */
  public Optional<TaskRow> patch(
      String tenantId, String sessionId, String taskId, TaskPatch patch) {
    return tx.run(
        "change task " + taskId,
        c -> {
          Optional<TaskRow> found = lockTask(c, tenantId, sessionId, taskId);
          if (found.isEmpty()) {
            return found;
          }
          TaskRow t = found.get();
          if (t.state().isFinal()) {
            throw new StateConflict(taskId, t.state(), "a final task does not change");
          }
          if (patch.changesRequest() && t.state() == TaskState.RUNNING) {
            throw new StateConflict(
                taskId,
                t.state(),
                "its url and headers change while it is queued, waiting or suspended (suspend"
                    + " it first)");
          }
          TaskRequest r = t.request();
          TaskRequest changed =
              new TaskRequest(
                  r.type(),
                  patch.url() != null ? patch.url() : r.url(),
                  r.method(),
                  patch.headers() != null ? patch.headers() : r.headers(),
                  r.expectedBytes(),
                  r.sha256(),
                  patch.description() != null ? patch.description() : r.description(),
                  patch.priority() != null ? patch.priority() : r.priority(),
                  r.earliestBeginAt(),
                  r.metadata(),
                  r.source(),
                  r.resumeData(),
                  r.suspended(),
                  r.resumable(),
                  r.destination());
          String url = patch.url() != null ? patch.url() : t.url();
          // A task waiting for its earliestBeginAt keeps waiting for it; any other wait ends.
          boolean forBeginTime =
              WaitReasons.BEGIN_AT.equals(t.waitingReason())
                  || (t.waitingReason() == null && t.attempt() == 0);
          boolean requeue =
              patch.changesRequest() && t.state() == TaskState.WAITING && !forBeginTime;
          boolean urlChanged = patch.url() != null && !patch.url().equals(t.url());
          Timestamp now = tx.now();
          updateUnfenced(
              c,
              taskId,
              "request = ?::jsonb, url = ?, host = ?, priority = ?, updated_at = ?"
                  // A resumable upload's resource lives where the old URL created it: a new URL
                  // creates a new one (new headers keep it).
                  + (urlChanged ? ", upload_resource = null" : "")
                  + (requeue
                      ? ", state = 'queued', next_attempt_at = null, waiting_reason = null,"
                          + " announced_at = ?"
                      : ""),
              requeue
                  ? new Object[] {
                    write(changed),
                    url,
                    TaskInsert.hostOf(url),
                    patch.priority() != null ? patch.priority() : t.priority(),
                    now,
                    now
                  }
                  : new Object[] {
                    write(changed),
                    url,
                    TaskInsert.hostOf(url),
                    patch.priority() != null ? patch.priority() : t.priority(),
                    now
                  });
          if (requeue) {
            outbox.doorbell(c, t);
          }
          try (LogFields f = LogFields.task(t)) {
            LOG.infof(
                "task %s: changed by the client (%s)%s",
                taskId, patch.fields(), requeue ? "; queued again to try them" : "");
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
