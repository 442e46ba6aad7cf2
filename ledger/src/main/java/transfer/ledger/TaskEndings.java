package transfer.ledger;

import static transfer.ledger.StoredJson.write;
import static transfer.ledger.TaskRows.taskById;
import static transfer.ledger.TaskRows.updateUnfenced;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import org.jboss.logging.Logger;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.telemetry.LogFields;
import transfer.telemetry.TraceContext;

/**
 * A task's end as failed or canceled, inside a transaction that holds its row: the row, its
 * completion event, resume data when the same bytes may still come, and a doorbell for the
 * session's next queued task when a running one ends.
 */
final class TaskEndings {
  private static final Logger LOG = Logger.getLogger(TaskEndings.class);
  private final Tx tx;
  private final Clock clock;
  private final EventWriter events;
  private final Outbox outbox;

  TaskEndings(Tx tx, EventWriter events, Outbox outbox) {
    this.tx = tx;
    this.clock = tx.clock();
    this.events = events;
    this.outbox = outbox;
  }

  TaskRow cancelLocked(Connection c, TaskRow t, boolean produceResumeData) throws SQLException {
    Instant now = clock.instant();
    String resume = produceResumeData ? resumeDataOf(t) : null;
    updateUnfenced(
        c,
        t.id(),
        "state = 'canceled', error = ?::jsonb, resume_data = ?, lease_owner = null,"
            + " lease_expires_at = null, next_attempt_at = null, updated_at = ?, finished_at = ?",
        write(TaskError.of(ErrorCodes.CANCELED, "canceled by the client", false)),
        resume,
        Timestamp.from(now),
        Timestamp.from(now));
    try (LogFields f = LogFields.task(t)) {
      LOG.infof(
          "task %s: canceled by the client while %s (attempt %d, %d durable bytes)%s",
          t.id(),
          t.state().wire(),
          t.attempt(),
          t.bytesDurable(),
          resume != null ? "; resume data produced" : "");
    }
    TaskRow after = taskById(c, t.id()).orElseThrow();
    events.appendCompleted(c, after, null);
    if (t.state() == TaskState.RUNNING) {
      outbox.ringSession(c, t.tenantId(), t.sessionId());
    }
    return after;
  }

  /** Resume data for a download's durable prefix, or null when nothing can be resumed. */
  private static String resumeDataOf(TaskRow t) {
    boolean strongEtag = t.etag() != null && !t.etag().startsWith("W/");
    if (t.type() != TaskType.DOWNLOAD
        || t.bytesDurable() <= 0
        || t.durableEpoch() == null
        || (!strongEtag && t.lastModified() == null)) {
      return null;
    }
    return new ResumeData(
            ResumeData.VERSION,
            t.id(),
            t.durableEpoch(),
            t.bytesDurable(),
            t.etag(),
            t.lastModified())
        .encode();
  }

  /** Failures after which the same bytes may still come: only these offer resumeData. */
  private static final java.util.Set<String> RESUMABLE_FAILURES =
      java.util.Set.of(
          ErrorCodes.ATTEMPTS_EXHAUSTED,
          ErrorCodes.RESOURCE_TIMEOUT,
          ErrorCodes.STALLED,
          ErrorCodes.CONNECTION_FAILED);

  /**
   * Ends a task as failed with its completion event (in the trace of {@code writer}, the failed
   * attempt's, else the task's own); true when it offers resumeData.
   */
  boolean finishFailed(
      Connection c, TaskRow task, TaskError error, Instant now, TraceContext writer)
      throws SQLException {
    String resume = RESUMABLE_FAILURES.contains(error.code()) ? resumeDataOf(task) : null;
    // A download that failed with a durable prefix offers resumeData, as URLSession's
    // NSURLSessionDownloadTaskResumeData does; its temporary object is kept until retention.
    updateUnfenced(
        c,
        task.id(),
        "state = 'failed', error = ?::jsonb, resume_data = ?, lease_owner = null,"
            + " lease_expires_at = null, next_attempt_at = null, updated_at = ?, finished_at = ?",
        write(error),
        resume,
        Timestamp.from(now),
        Timestamp.from(now));
    TaskRow failed = taskById(c, task.id()).orElseThrow();
    events.appendCompleted(c, failed, writer);
    if (task.state() == TaskState.RUNNING) {
      outbox.ringSession(c, task.tenantId(), task.sessionId());
    }
    return resume != null;
  }
}
