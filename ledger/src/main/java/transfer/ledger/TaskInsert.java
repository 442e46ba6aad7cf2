package transfer.ledger;

import static transfer.ledger.StoredJson.write;
import static transfer.ledger.TaskRows.TASK_COLUMNS;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
 * New tasks' rows: each request's resume data and upload source resolved against the ledger (a
 * pointer the caller sent is checked, never trusted), then its row added to one multi-row insert
 * for all the tasks of a transaction. What the requests refer to is read beforehand, for all of
 * them at once ({@link References}), so no task costs a round trip of its own.
 */
final class TaskInsert {
  private final Clock clock;

  TaskInsert(Tx tx) {
    this.clock = tx.clock();
  }

  /** The tasks and staged objects that requests name, read in one statement each. */
  record References(Map<String, TaskRow> tasks, Map<StagedObjects.Key, StoredObject> objects) {
    static final References NONE = new References(Map.of(), Map.of());
  }

  /** The ids of tasks a request names (its resumeData's task, its upload source's task). */
  static void taskIdsNamedBy(TaskRequest request, Set<String> into) {
    if (request.resumeData() != null) {
      try {
        String task = ResumeData.decode(request.resumeData()).task();
        if (TaskIds.isTaskId(task)) {
          into.add(task);
        }
      } catch (IllegalArgumentException e) {
        // Refused when the task is resolved.
      }
    }
    if (request.type() == TaskType.UPLOAD
        && request.source() != null
        && request.source().task() != null
        && TaskIds.isTaskId(request.source().task())) {
      into.add(request.source().task());
    }
  }

  /** The staged object a request names as its upload source, if any. */
  static StagedObjects.Key objectNamedBy(String tenantId, String sessionId, TaskRequest request) {
    if (request.type() == TaskType.UPLOAD
        && request.source() != null
        && request.source().task() == null) {
      return new StagedObjects.Key(tenantId, sessionId, request.source().object());
    }
    return null;
  }

  /**
   * Adds the row of one new task to {@code rows}, with the submit's trace context, and answers its
   * id; an {@link InvalidReference} (and no row) when what it names cannot be used.
   */
  String addTask(
      Insert rows,
      References refs,
      String tenantId,
      String sessionId,
      TaskRequest request,
      SessionConfig session,
      TraceContext trace) {
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
          Optional.ofNullable(TaskIds.isTaskId(rd.task()) ? refs.tasks().get(rd.task()) : null)
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
      // The storage's state of the checkpoint too (on S3 the multipart upload it continues).
      resumeFrom =
          new Checkpoint(
              rd.bytes(), rd.epoch(), from.etag(), from.lastModified(), from.durableState());
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
            Optional.ofNullable(refs.tasks().get(src.task()))
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
            Optional.ofNullable(refs.objects().get(objectNamedBy(tenantId, sessionId, request)))
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
    Instant deadline = nowInstant.plus(session.resourceTimeout());
    if (later && request.earliestBeginAt().isAfter(deadline)) {
      throw new Submissions.Unprocessable(
          "earliestBeginAt",
          "is after the task's deadline "
              + deadline
              + " (the session's resourceTimeout of "
              + session.resourceTimeout()
              + " after submission): the task could never start");
    }
    boolean suspended = Boolean.TRUE.equals(request.suspended());
    TaskState state =
        suspended ? TaskState.SUSPENDED : later ? TaskState.WAITING : TaskState.QUEUED;
    Long expected = request.expectedBytes() != null ? request.expectedBytes() : sourceSize;
    rows.row()
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
        .set(
            "next_attempt_at",
            later && !suspended ? Timestamp.from(request.earliestBeginAt()) : null)
        .set("waiting_reason", later && !suspended ? transfer.contracts.WaitReasons.BEGIN_AT : null)
        .set("announced_at", later || suspended ? null : now)
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
        .set("durable_state", resumeFrom != null ? resumeFrom.state() : null)
        .set("traceparent", trace != null ? trace.traceparent() : null)
        .set("tracestate", trace != null ? trace.tracestate() : null);
    return id;
  }

  /**
   * Tasks continued from another's resumeData take over the storage's state of its checkpoint (on
   * S3 the multipart upload they complete): the other task names it no more, so retention does not
   * abort what the new task finishes, and a second use of the same resumeData starts from zero
   * rather than writing into the same upload. One statement, only when some task took one over.
   */
  static void takeOverDurableStates(Connection c, Iterable<TaskRow> inserted) throws SQLException {
    List<String> from = new ArrayList<>();
    for (TaskRow row : inserted) {
      if (row.durableState() != null && row.durableTask() != null) {
        from.add(row.durableTask());
      }
    }
    if (from.isEmpty()) {
      return;
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "update tasks set durable_state = null where id = any(?) and durable_state is not null")) {
      ps.setArray(1, c.createArrayOf("text", from.toArray()));
      ps.executeUpdate();
    }
  }

  /** Inserts the rows added so far, in one statement, and answers them by id. */
  static Map<String, TaskRow> insert(Connection c, Insert rows) throws SQLException {
    Map<String, TaskRow> byId = new HashMap<>();
    for (TaskRow row : rows.returning(c, TASK_COLUMNS, TaskRows::taskRow)) {
      byId.put(row.id(), row);
    }
    return byId;
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
