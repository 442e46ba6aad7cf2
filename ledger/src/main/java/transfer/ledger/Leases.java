package transfer.ledger;

import static transfer.ledger.Sql.setLong;
import static transfer.ledger.StoredJson.write;
import static transfer.ledger.TaskRows.fencedUpdate;
import static transfer.ledger.TaskRows.lockRunning;
import static transfer.ledger.TaskRows.updateUnfenced;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import transfer.contracts.ErrorCodes;
import transfer.contracts.EventTypes;
import transfer.contracts.Json;
import transfer.contracts.TaskError;

/**
 * What a worker writes while it holds a task: heartbeats with progress and checkpoints, the
 * completion, a failed attempt, a hand-back. Each write is fenced by the epoch of the claim; a
 * write that finds another epoch changes nothing and tells the worker to stop.
 */
public final class Leases {
  private final Tx tx;
  private final Clock clock;
  private final ObjectMapper json = Json.mapper();
  private final EventWriter events;
  private final TaskEndings endings;
  private final Outbox outbox;

  Leases(Tx tx, EventWriter events, TaskEndings endings, Outbox outbox) {
    this.tx = tx;
    this.clock = tx.clock();
    this.events = events;
    this.endings = endings;
    this.outbox = outbox;
  }

  /** Replaces the checkpoint columns together when a checkpoint is given (a flag before each). */
  private static final String CHECKPOINT_SET =
      " bytes_durable = case when ? then ? else bytes_durable end,"
          + " durable_epoch = case when ? then ? else durable_epoch end,"
          + " etag = case when ? then ? else etag end,"
          + " last_modified = case when ? then ? else last_modified end,"
          + " durable_task = case when ? then null else durable_task end";

  /**
   * A durable prefix: {@code bytes} flushed to the temporary object of attempt {@code epoch}, and
   * the validators of the response they came from. The next attempt may resume from it.
   */
  public record Checkpoint(long bytes, long epoch, String etag, String lastModified) {}

  /**
   * What a worker reports at a heartbeat: progress, a new checkpoint (or null), and whether to
   * publish a progress event.
   */
  public record Heartbeat(
      long bytesTransferred,
      Checkpoint checkpoint,
      Long bytesExpected,
      boolean progressEvent,
      long bytesSinceLastEvent) {}

  /**
   * Renews the lease and records progress, fenced by its epoch. False means the worker no longer
   * owns the task and must stop at once.
   */
  public boolean heartbeat(Lease lease, Duration leaseTtl, Heartbeat hb) {
    return tx.run(
        "heartbeat task " + lease.taskId(),
        c -> {
          Instant now = clock.instant();
          Optional<TaskRow> row =
              fencedUpdate(
                  c,
                  lease,
                  "lease_expires_at = ?, bytes_transferred = ?,"
                      + " bytes_expected = coalesce(?, bytes_expected), updated_at = ?,"
                      + CHECKPOINT_SET,
                  ps -> {
                    ps.setTimestamp(1, Timestamp.from(now.plus(leaseTtl)));
                    ps.setLong(2, hb.bytesTransferred());
                    setLong(ps, 3, hb.bytesExpected());
                    ps.setTimestamp(4, Timestamp.from(now));
                    return bindCheckpoint(ps, 5, hb.checkpoint());
                  });
          if (row.isEmpty()) {
            return false;
          }
          if (hb.progressEvent()) {
            events.appendProgress(
                c,
                row.get(),
                lease.trace(),
                hb.bytesSinceLastEvent(),
                hb.bytesTransferred(),
                hb.bytesExpected());
          }
          return true;
        });
  }

  /**
   * Marks a download completed under the fence and writes its {@code downloaded} and {@code
   * completed} events, whose ids derive from the task so that no retry can mint a second
   * completion. A last progress event (the whole size; {@code bytesSinceLastEvent} since the
   * previous one) comes first. False: fenced out; the caller deletes its object.
   */
  public boolean completeDownload(
      Lease lease, String location, long size, String sha256, long bytesSinceLastEvent) {
    return complete(
        lease,
        "complete task " + lease.taskId(),
        "state = 'completed', location = ?, sha256 = ?, bytes_transferred = ?,"
            + " bytes_durable = ?, error = null, lease_owner = null,"
            + " lease_expires_at = null, updated_at = ?, finished_at = ?",
        (ps, now) -> {
          ps.setString(1, location);
          ps.setString(2, sha256);
          ps.setLong(3, size);
          ps.setLong(4, size);
          ps.setTimestamp(5, now);
          ps.setTimestamp(6, now);
          return 7;
        },
        (c, row) -> {
          ObjectNode downloaded = json.createObjectNode();
          downloaded.put("location", location);
          downloaded.put("size", size);
          downloaded.put("sha256", sha256);
          events.append(
              c,
              List.of(
                  events.progress(row, lease.trace(), bytesSinceLastEvent, size, size),
                  events.taskEvent(
                      row,
                      EventTypes.DOWNLOADED,
                      lease.taskId() + ":downloaded",
                      downloaded,
                      lease.trace()),
                  events.completed(row, lease.trace(), null)));
        });
  }

  /**
   * Marks an upload completed under the fence: a last progress event (bytes sent) and its
   * completion event, whose data carries the target's answer status. False: fenced out.
   */
  public boolean completeUpload(
      Lease lease, long bytesSent, int httpStatus, long bytesSinceLastEvent) {
    return complete(
        lease,
        "complete upload " + lease.taskId(),
        "state = 'completed', sha256 = source_sha256, bytes_transferred = ?,"
            + " error = null, lease_owner = null, lease_expires_at = null,"
            + " updated_at = ?, finished_at = ?",
        (ps, now) -> {
          ps.setLong(1, bytesSent);
          ps.setTimestamp(2, now);
          ps.setTimestamp(3, now);
          return 4;
        },
        (c, row) ->
            events.append(
                c,
                List.of(
                    events.progress(row, lease.trace(), bytesSinceLastEvent, bytesSent, bytesSent),
                    events.completed(row, lease.trace(), httpStatus))));
  }

  /** Fills a completion's parameters (the time of the transaction given); the next free index. */
  @FunctionalInterface
  private interface CompletionBinder {
    int bind(PreparedStatement ps, Timestamp now) throws SQLException;
  }

  /** Writes a completed task's events, in the completion's transaction. */
  @FunctionalInterface
  private interface CompletionEvents {
    void write(Connection c, TaskRow completed) throws SQLException;
  }

  /**
   * Marks the task completed under the fence ({@code setClause}) and writes its events, in one
   * transaction. False: fenced out, nothing written.
   */
  private boolean complete(
      Lease lease,
      String what,
      String setClause,
      CompletionBinder binder,
      CompletionEvents written) {
    return tx.run(
        what,
        c -> {
          Timestamp now = tx.now();
          Optional<TaskRow> row = fencedUpdate(c, lease, setClause, ps -> binder.bind(ps, now));
          if (row.isEmpty()) {
            return false;
          }
          written.write(c, row.get());
          return true;
        });
  }

  /** What became of a failed attempt. */
  public enum FailOutcome {
    /** Waiting for another attempt after the backoff. */
    RETRY_SCHEDULED,
    /** Final: the task failed and its completion event is written. */
    FAILED,
    /**
     * Final, and the completion offers resumeData: keep the temporary object of the durable prefix
     * (retention removes it).
     */
    FAILED_RESUMABLE,
    /** The worker no longer held the task; nothing was written. */
    FENCED
  }

  /**
   * Records a failed attempt under the fence: retried after {@code backoff} when the error is
   * retryable and attempts remain, else final with its completion event.
   */
  public FailOutcome failAttempt(Lease lease, TaskError error, Duration backoff) {
    return tx.run(
        "record failure of task " + lease.taskId(),
        c -> {
          Optional<TaskRow> current = lockRunning(c, lease);
          if (current.isEmpty()) {
            return FailOutcome.FENCED;
          }
          TaskRow task = current.get();
          Instant now = clock.instant();
          if (error.retryable() && task.attempt() < task.maxAttempts()) {
            updateUnfenced(
                c,
                task.id(),
                "state = 'waiting', next_attempt_at = ?, error = ?::jsonb, lease_owner = null,"
                    + " lease_expires_at = null, updated_at = ?",
                Timestamp.from(now.plus(backoff)),
                write(error),
                Timestamp.from(now));
            outbox.ringSession(c, task.tenantId(), task.sessionId());
            return FailOutcome.RETRY_SCHEDULED;
          }
          TaskError finalError = error;
          if (error.retryable()) {
            finalError =
                new TaskError(
                    ErrorCodes.ATTEMPTS_EXHAUSTED,
                    "gave up after "
                        + task.attempt()
                        + " attempts; last error "
                        + error.code()
                        + ": "
                        + error.message(),
                    error.httpStatus(),
                    false);
          }
          return endings.finishFailed(c, task, finalError, now, lease.trace())
              ? FailOutcome.FAILED_RESUMABLE
              : FailOutcome.FAILED;
        });
  }

  /**
   * Hands a running task back (graceful stop): queued again with a fresh doorbell so another worker
   * continues at once; the attempt does not count.
   */
  public boolean release(Lease lease, Checkpoint checkpoint) {
    return tx.run(
        "hand back task " + lease.taskId(),
        c -> {
          Timestamp now = tx.now();
          Optional<TaskRow> row =
              fencedUpdate(
                  c,
                  lease,
                  "state = 'queued', attempt = greatest(attempt - 1, 0), lease_owner = null,"
                      + " lease_expires_at = null, announced_at = ?, updated_at = ?,"
                      + CHECKPOINT_SET,
                  ps -> {
                    ps.setTimestamp(1, now);
                    ps.setTimestamp(2, now);
                    return bindCheckpoint(ps, 3, checkpoint);
                  });
          row.ifPresent(r -> outbox.doorbell(c, r));
          return row.isPresent();
        });
  }

  private static int bindCheckpoint(PreparedStatement ps, int i, Checkpoint cp)
      throws SQLException {
    boolean has = cp != null;
    ps.setBoolean(i, has);
    ps.setLong(i + 1, has ? cp.bytes() : 0);
    ps.setBoolean(i + 2, has);
    ps.setLong(i + 3, has ? cp.epoch() : 0);
    ps.setBoolean(i + 4, has);
    ps.setString(i + 5, has ? cp.etag() : null);
    ps.setBoolean(i + 6, has);
    ps.setString(i + 7, has ? cp.lastModified() : null);
    // A checkpoint is always of this task's own temporary object.
    ps.setBoolean(i + 8, has);
    return i + 9;
  }
}
