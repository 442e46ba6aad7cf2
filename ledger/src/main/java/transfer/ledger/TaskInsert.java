package transfer.ledger;

import static transfer.ledger.Sql.execute;
import static transfer.ledger.StoredJson.write;
import static transfer.ledger.TaskRows.TASK_COLUMNS;
import static transfer.ledger.TaskRows.taskById;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskIds;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.contracts.UploadSource;
import transfer.ledger.Leases.Checkpoint;
import transfer.ledger.Submissions.InvalidReference;
import transfer.telemetry.TraceContext;

/**
 * The insert of one new task inside a submit's transaction: its resume data and upload source
 * resolved against the ledger (a pointer the caller sent is checked, never trusted), then the row.
 */
final class TaskInsert {
  private final Tx tx;
  private final Clock clock;
  private final StagedObjects objects;

  TaskInsert(Tx tx, StagedObjects objects) {
    this.tx = tx;
    this.clock = tx.clock();
    this.objects = objects;
  }

  /**
   * Inserts one task (and its Idempotency-Key, when given) in an open transaction, with the
   * submit's trace context; a task that may start now is added to {@code doorbells}, for the caller
   * to announce.
   */
  TaskRow insertTask(
      Connection c,
      String tenantId,
      String sessionId,
      TaskRequest request,
      SessionConfig session,
      String idempotencyKey,
      byte[] hash,
      TraceContext trace,
      List<TaskRow> doorbells)
      throws SQLException {
    TaskRequest stored = request;
    Leases.Checkpoint resumeFrom = null;
    String prefixOwner = null;
    if (request.resumeData() != null) {
      ResumeData rd;
      try {
        rd = ResumeData.decode(request.resumeData());
      } catch (IllegalArgumentException e) {
        throw new InvalidReference("resumeData", e.getMessage());
      }
      // The pointer is the caller's to forge: its task id must be one before any lookup,
      // and the validators sent to the origin come from the ledger, never from it.
      TaskRow from =
          (TaskIds.isTaskId(rd.task()) ? taskById(c, rd.task()) : Optional.<TaskRow>empty())
              .filter(t -> t.tenantId().equals(tenantId))
              .filter(t -> t.type() == TaskType.DOWNLOAD)
              .filter(t -> t.state() == TaskState.CANCELED || t.state() == TaskState.FAILED)
              .filter(t -> t.bytesDurable() == rd.bytes())
              .filter(t -> t.durableEpoch() != null && t.durableEpoch() == rd.epoch())
              .orElseThrow(
                  () ->
                      new InvalidReference(
                          "resumeData",
                          "names no canceled or failed download of this tenant with that"
                              + " checkpoint (it may have expired)"));
      if (request.url() != null && !request.url().equals(from.url())) {
        throw new InvalidReference(
            "url", "must be left out or equal the URL of the task the resumeData came from");
      }
      resumeFrom = new Checkpoint(rd.bytes(), rd.epoch(), from.etag(), from.lastModified());
      prefixOwner = from.prefixOwner();
      stored =
          new TaskRequest(
              request.type(),
              from.url(),
              request.method(),
              request.headers(),
              request.expectedBytes(),
              request.sha256(),
              request.description(),
              request.priority(),
              request.earliestBeginAt(),
              request.metadata(),
              null,
              request.resumeData());
    }
    String sourceLocation = null;
    Long sourceSize = null;
    String sourceSha256 = null;
    if (request.type() == TaskType.UPLOAD) {
      UploadSource src = request.source();
      if (src.task() != null) {
        TaskRow from =
            taskById(c, src.task())
                .filter(t -> t.tenantId().equals(tenantId))
                .filter(t -> t.type() == TaskType.DOWNLOAD)
                .filter(t -> t.state() == TaskState.COMPLETED)
                .orElseThrow(
                    () ->
                        new InvalidReference(
                            "source.task",
                            "names no completed download of this tenant (it may have"
                                + " expired)"));
        sourceLocation = from.location();
        sourceSize = from.bytesTransferred();
        sourceSha256 = from.sha256();
      } else {
        StoredObject obj =
            objects
                .objectIn(c, tenantId, sessionId, src.object())
                .orElseThrow(
                    () ->
                        new InvalidReference(
                            "source.object",
                            "names no object staged in session "
                                + sessionId
                                + " (PUT /v1/sessions/"
                                + sessionId
                                + "/objects/{name} first)"));
        sourceLocation = obj.location();
        sourceSize = obj.size();
        sourceSha256 = obj.sha256();
      }
    }
    String id = UUID.randomUUID().toString();
    Instant nowInstant = clock.instant();
    Timestamp now = Timestamp.from(nowInstant);
    boolean later =
        request.earliestBeginAt() != null && request.earliestBeginAt().isAfter(nowInstant);
    TaskState state = later ? TaskState.WAITING : TaskState.QUEUED;
    Long expected = request.expectedBytes() != null ? request.expectedBytes() : sourceSize;
    TaskRow row =
        Insert.into("tasks as t")
            .set("id", id)
            .set("tenant_id", tenantId)
            .set("session_id", sessionId)
            .set("type", request.type().wire())
            .set("state", state.wire())
            .set("url", stored.url())
            .json("request", write(stored))
            .set(
                "priority",
                request.priority() != null ? request.priority() : TaskRequest.DEFAULT_PRIORITY)
            .set("max_attempts", session.retry().maxAttempts())
            .set("next_attempt_at", later ? Timestamp.from(request.earliestBeginAt()) : null)
            .set("announced_at", later ? null : now)
            .set("bytes_expected", expected)
            .set("created_at", now)
            .set("updated_at", now)
            // The resource timeout counts from submission, as URLSession's does.
            .set("deadline_at", Timestamp.from(nowInstant.plus(session.resourceTimeout())))
            .set("host", hostOf(stored.url()))
            .set("discretionary", Boolean.TRUE.equals(session.discretionary()))
            .set("source_location", sourceLocation)
            .set("source_size", sourceSize)
            .set("source_sha256", sourceSha256)
            .set("bytes_durable", resumeFrom != null ? resumeFrom.bytes() : 0)
            .set("durable_epoch", resumeFrom != null ? resumeFrom.epoch() : null)
            .set("durable_task", prefixOwner)
            .set("etag", resumeFrom != null ? resumeFrom.etag() : null)
            .set("last_modified", resumeFrom != null ? resumeFrom.lastModified() : null)
            .set("traceparent", trace != null ? trace.traceparent() : null)
            .set("tracestate", trace != null ? trace.tracestate() : null)
            .returning(c, TASK_COLUMNS, TaskRows::taskRow);
    if (idempotencyKey != null) {
      execute(
          c,
          "insert into idempotency_keys (tenant_id, session_id, key, request_hash, task_id,"
              + " created_at) values (?, ?, ?, ?, ?, ?)",
          tenantId,
          sessionId,
          idempotencyKey,
          hash,
          id,
          now);
    }
    if (!later) {
      doorbells.add(row);
    }
    return row;
  }

  /** {@code host:port} of a URL, lower case, the default port filled in: one per origin server. */
  static String hostOf(String url) {
    try {
      java.net.URI u = new java.net.URI(url);
      String host = u.getHost() == null ? "" : u.getHost().toLowerCase(java.util.Locale.ROOT);
      int port = u.getPort();
      if (port < 0) {
        port = "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
      }
      return host + ":" + port;
    } catch (java.net.URISyntaxException e) {
      return "";
    }
  }
}
