package transfer.ledger;

import static transfer.ledger.StoredJson.write;
import static transfer.ledger.TaskRows.TASK_COLUMNS;
import static transfer.ledger.TaskRows.lockRunning;
import static transfer.ledger.TaskRows.taskRow;
import static transfer.ledger.TaskRows.updateUnfenced;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import transfer.contracts.ErrorCodes;
import transfer.contracts.EventTypes;
import transfer.contracts.Json;
import transfer.contracts.TaskError;
import transfer.contracts.WaitReasons;
import transfer.ledger.EventWriter.NewEvent;
import transfer.ledger.LeaseWrite.CompleteDownload;
import transfer.ledger.LeaseWrite.CompleteUpload;
import transfer.ledger.LeaseWrite.Fail;
import transfer.ledger.LeaseWrite.Release;
import transfer.ledger.LeaseWrite.Renew;
import transfer.ledger.Leases.Checkpoint;
import transfer.ledger.Leases.FailOutcome;

/**
 * The writes of lease holders, any number of tasks in one transaction (a worker's group commit):
 * one array-bound statement per kind of write ({@code UPDATE tasks t … FROM unnest(…) u … WHERE
 * t.id = u.id AND t.lease_epoch = u.epoch AND t.state = 'running'}: the fence in the WHERE), the
 * events of the whole group in one insert, one commit. A write whose row the statement did not
 * return has lost its fence and is answered {@link LeaseWrite#fenced()}; nothing of it was written.
 *
 * <p>Rows are locked in the order of their ids, so two writers (and a writer and the reaper or a
 * control call) never wait for each other in a cycle: each statement locks its rows in a
 * materialized {@code SELECT … ORDER BY id FOR UPDATE}, and a group of more than one kind first
 * locks all of its rows so in one such statement. A failed attempt reads its row before it decides
 * (retry or final), so failures are written one by one, in id order, inside the group's
 * transaction; they are rare.
 */
public final class LeaseBatch {
  private final Tx tx;
  private final EventWriter events;
  private final TaskEndings endings;
  private final Outbox outbox;
  private final ObjectMapper json = Json.mapper();
  private final LeaseEvents leaseEvents;

  LeaseBatch(Tx tx, EventWriter events, TaskEndings endings, Outbox outbox) {
    this.tx = tx;
    this.events = events;
    this.leaseEvents = new LeaseEvents(events);
    this.endings = endings;
    this.outbox = outbox;
  }

  /** One write in a transaction of its own; its answer. */
  public <A> A writeOne(LeaseWrite<A> write) {
    return cast(write, writeAll(List.of(write)).get(0));
  }

  /** The answer of {@code write} among those {@link #writeAll} returned. */
  @SuppressWarnings("unchecked")
  public static <A> A cast(LeaseWrite<A> write, Object answer) {
    return (A) answer;
  }

  /**
   * Writes the group in one transaction and answers each write, in the order given: a {@code
   * Boolean}, or a {@link FailOutcome} for a {@link Fail}. At most one write per task: a second
   * write of a task belongs in the next group, after this one's commit. Any failure rolls the whole
   * group back (a {@link LedgerException}); the caller may then write each on its own.
   */
  public List<Object> writeAll(List<? extends LeaseWrite<?>> writes) {
    if (writes.isEmpty()) {
      return List.of();
    }
    Set<String> tasks = new HashSet<>();
    for (LeaseWrite<?> w : writes) {
      if (!tasks.add(w.lease().taskId())) {
        throw new IllegalArgumentException(
            "two writes of task " + w.lease().taskId() + " in one group");
      }
    }
    String what =
        writes.size() == 1
            ? writes.get(0).what()
            : "write the leases of " + writes.size() + " tasks (" + writes.get(0).what() + ", …)";
    return tx.run(what, c -> writeIn(c, writes));
  }

  /** The writes in the caller's transaction (package-private for tests that look inside it). */
  List<Object> writeIn(Connection c, List<? extends LeaseWrite<?>> writes) throws SQLException {
    Timestamp now = tx.now();
    Map<Class<?>, List<LeaseWrite<?>>> byKind = new LinkedHashMap<>();
    for (LeaseWrite<?> w : writes) {
      byKind.computeIfAbsent(w.getClass(), k -> new ArrayList<>()).add(w);
    }
    if (byKind.size() > 1) {
      lockInOrder(c, writes);
    }
    Map<LeaseWrite<?>, Object> answers = new HashMap<>();
    List<NewEvent> added = new ArrayList<>();
    for (Map.Entry<Class<?>, List<LeaseWrite<?>>> kind : byKind.entrySet()) {
      List<LeaseWrite<?>> group = kind.getValue();
      Class<?> k = kind.getKey();
      if (k == Renew.class) {
        renew(c, now, narrow(group, Renew.class), answers, added);
      } else if (k == CompleteDownload.class) {
        completeDownloads(c, now, narrow(group, CompleteDownload.class), answers, added);
      } else if (k == CompleteUpload.class) {
        completeUploads(c, now, narrow(group, CompleteUpload.class), answers, added);
      } else if (k == Release.class) {
        release(c, now, narrow(group, Release.class), answers);
      } else {
        List<Fail> fails = new ArrayList<>(narrow(group, Fail.class));
        fails.sort(Comparator.comparing(f -> f.lease().taskId()));
        for (Fail f : fails) {
          answers.put(f, fail(c, f, added));
        }
      }
    }
    events.append(c, added);
    List<Object> out = new ArrayList<>(writes.size());
    for (LeaseWrite<?> w : writes) {
      out.add(answers.getOrDefault(w, w.fenced()));
    }
    return out;
  }

  private static <W> List<W> narrow(List<LeaseWrite<?>> group, Class<W> kind) {
    return group.stream().map(kind::cast).toList();
  }

  // ------------------------------------------------------------ the kinds

  private void renew(
      Connection c,
      Timestamp now,
      List<Renew> writes,
      Map<LeaseWrite<?>, Object> answers,
      List<NewEvent> added)
      throws SQLException {
    Map<String, TaskRow> rows =
        fencedUpdate(
            c,
            now,
            writes,
            "lease_expires_at = u.now + u.ttl_ms * interval '1 millisecond',"
                + " bytes_transferred = u.bytes, bytes_expected = coalesce(u.expected,"
                + " t.bytes_expected), updated_at = u.now,"
                // Bytes moved again: a waiting spell is over.
                + " waiting_reason = case when u.bytes > t.bytes_transferred then null"
                + " else t.waiting_reason end,"
                + " upload_resource = coalesce(u.resource, t.upload_resource),"
                + CHECKPOINT_SET,
            withCheckpoint(
                List.of(
                    new Column<>("ttl_ms", "bigint", w -> w.ttl().toMillis()),
                    new Column<>("bytes", "bigint", w -> w.heartbeat().bytesTransferred()),
                    new Column<>("expected", "bigint", w -> w.heartbeat().bytesExpected()),
                    new Column<>("resource", "text", w -> w.heartbeat().uploadResource())),
                w -> w.heartbeat().checkpoint()));
    forEachHeld(
        writes,
        rows,
        answers,
        (w, row) -> {
          Leases.Heartbeat hb = w.heartbeat();
          if (hb.resumedAt() != null) {
            added.add(leaseEvents.resumed(row, w.lease(), hb.resumedAt(), hb.bytesExpected()));
          }
          if (hb.progressEvent()) {
            added.add(
                events.progress(
                    row,
                    w.lease().trace(),
                    hb.bytesSinceLastEvent(),
                    hb.bytesTransferred(),
                    hb.bytesExpected()));
          }
        });
  }

  private void completeDownloads(
      Connection c,
      Timestamp now,
      List<CompleteDownload> writes,
      Map<LeaseWrite<?>, Object> answers,
      List<NewEvent> added)
      throws SQLException {
    Map<String, TaskRow> rows =
        fencedUpdate(
            c,
            now,
            writes,
            "state = 'completed', location = u.location, sha256 = u.sha256,"
                + " bytes_transferred = u.size, bytes_durable = u.size, durable_state = null, error = null,"
                + " lease_owner = null, lease_expires_at = null, updated_at = u.now,"
                + " finished_at = u.now, response = u.response::jsonb",
            List.of(
                new Column<>("location", "text", CompleteDownload::location),
                new Column<>("sha256", "text", CompleteDownload::sha256),
                new Column<>("size", "bigint", CompleteDownload::size),
                new Column<>("response", "text", w -> LeaseEvents.responseJson(w.response()))));
    for (CompleteDownload w : writes) {
      TaskRow row = rows.get(w.lease().taskId());
      if (row == null) {
        continue;
      }
      answers.put(w, true);
      // A last progress event (the whole size), then downloaded and completed, whose ids derive
      // from the task so that no retry can mint a second completion.
      ObjectNode downloaded = json.createObjectNode();
      downloaded.put("location", w.location());
      downloaded.put("size", w.size());
      downloaded.put("sha256", w.sha256());
      if (w.response() != null) {
        downloaded.set("response", json.valueToTree(w.response()));
      }
      if (w.resumedAt() != null) {
        added.add(leaseEvents.resumed(row, w.lease(), w.resumedAt(), w.size()));
      }
      added.add(
          events.progress(row, w.lease().trace(), w.bytesSinceLastEvent(), w.size(), w.size()));
      added.add(
          events.taskEvent(
              row, EventTypes.DOWNLOADED, row.id() + ":downloaded", downloaded, w.lease().trace()));
      added.add(events.completed(row, w.lease().trace(), null, w.metrics()));
    }
  }

  private void completeUploads(
      Connection c,
      Timestamp now,
      List<CompleteUpload> writes,
      Map<LeaseWrite<?>, Object> answers,
      List<NewEvent> added)
      throws SQLException {
    Map<String, TaskRow> rows =
        fencedUpdate(
            c,
            now,
            writes,
            "state = 'completed', sha256 = t.source_sha256, bytes_transferred = u.sent,"
                + " error = null, lease_owner = null, lease_expires_at = null,"
                + " updated_at = u.now, finished_at = u.now, response = u.response::jsonb",
            List.of(
                new Column<>("sent", "bigint", CompleteUpload::bytesSent),
                new Column<>("response", "text", w -> LeaseEvents.responseJson(w.response()))));
    forEachHeld(
        writes,
        rows,
        answers,
        (w, row) -> {
          long sent = w.bytesSent();
          if (w.resumedAt() != null) {
            added.add(leaseEvents.resumed(row, w.lease(), w.resumedAt(), sent));
          }
          added.add(events.progress(row, w.lease().trace(), w.bytesSinceLastEvent(), sent, sent));
          added.add(events.completed(row, w.lease().trace(), w.httpStatus(), w.metrics()));
        });
  }

  /**
   * Hand-backs: queued again with a fresh doorbell so another worker continues at once; the attempt
   * does not count.
   */
  private void release(
      Connection c, Timestamp now, List<Release> writes, Map<LeaseWrite<?>, Object> answers)
      throws SQLException {
    Map<String, TaskRow> rows =
        fencedUpdate(
            c,
            now,
            writes,
            "state = 'queued', attempt = greatest(t.attempt - 1, 0), lease_owner = null,"
                + " lease_expires_at = null, announced_at = u.now, updated_at = u.now,"
                + CHECKPOINT_SET,
            withCheckpoint(List.of(), Release::checkpoint));
    Map<String, List<TaskRow>> bySession = new LinkedHashMap<>();
    forEachHeld(
        writes,
        rows,
        answers,
        (w, row) -> bySession.computeIfAbsent(row.sessionId(), s -> new ArrayList<>()).add(row));
    for (List<TaskRow> session : bySession.values()) {
      outbox.doorbells(c, session);
    }
  }

  /**
   * A failed attempt, under the fence: retried after its backoff when the error is retryable and
   * attempts remain, or when the attempt does not count ({@link Fail#waitReason}: the task waits
   * until its deadline, which the reaper enforces); else final with its completion event. A wait
   * for a reason the task was not already waiting for starts a waiting spell: its {@code
   * transfer.task.waiting} event.
   */
  private FailOutcome fail(Connection c, Fail f, List<NewEvent> added) throws SQLException {
    Optional<TaskRow> current = lockRunning(c, f.lease());
    if (current.isEmpty()) {
      return FailOutcome.FENCED;
    }
    TaskRow task = current.get();
    TaskError error = f.error();
    Instant now = tx.clock().instant();
    String waitReason = error.retryable() ? f.waitReason() : null;
    if (waitReason != null || (error.retryable() && task.countedAttempts() < task.maxAttempts())) {
      // Waiting for credentials has no next attempt: a PATCH queues the task, its deadline ends it.
      boolean credentials = WaitReasons.CREDENTIALS_REQUIRED.equals(waitReason);
      Instant next = credentials ? null : now.plus(f.backoff());
      String reason = waitReason != null ? waitReason : WaitReasons.RETRY_BACKOFF;
      updateUnfenced(
          c,
          task.id(),
          "state = 'waiting', next_attempt_at = ?, error = ?::jsonb, lease_owner = null,"
              + " lease_expires_at = null, updated_at = ?, waiting_reason = ?,"
              + " uncounted_attempts = uncounted_attempts + ?",
          next == null ? null : Timestamp.from(next),
          write(error),
          Timestamp.from(now),
          reason,
          waitReason != null ? 1 : 0);
      if (credentials) {
        // Every refusal asks the service again: each needs an answer of its own.
        added.add(leaseEvents.credentialsRequired(task, f));
      } else if (waitReason != null && !waitReason.equals(task.waitingReason())) {
        added.add(leaseEvents.waiting(task, f, reason, next));
      }
      outbox.ringSession(c, task.tenantId(), task.sessionId());
      return FailOutcome.RETRY_SCHEDULED;
    }
    TaskError finalError = error;
    if (error.retryable()) {
      finalError =
          new TaskError(
              ErrorCodes.ATTEMPTS_EXHAUSTED,
              "gave up after "
                  + task.countedAttempts()
                  + " attempts; last error "
                  + error.code()
                  + ": "
                  + error.message(),
              error.httpStatus(),
              false);
    }
    return endings.finishFailed(c, task, finalError, now, f.lease().trace())
        ? FailOutcome.FAILED_RESUMABLE
        : FailOutcome.FAILED;
  }

  /** What a written row adds to the group (its events, its doorbell). */
  @FunctionalInterface
  private interface Written<W> {
    void add(W write, TaskRow row);
  }

  /**
   * Answers true each write whose row {@code rows} holds (its statement updated it) and hands it to
   * {@code written}; the others are left to their fenced answer.
   */
  private static <W extends LeaseWrite<?>> void forEachHeld(
      List<W> writes,
      Map<String, TaskRow> rows,
      Map<LeaseWrite<?>, Object> answers,
      Written<W> written) {
    for (W w : writes) {
      TaskRow row = rows.get(w.lease().taskId());
      if (row != null) {
        answers.put(w, true);
        written.add(w, row);
      }
    }
  }

  // ------------------------------------------------------------ the statements

  /** Replaces the checkpoint columns together where a write carries a checkpoint. */
  private static final String CHECKPOINT_SET =
      " bytes_durable = case when u.has_cp then u.cp_bytes else t.bytes_durable end,"
          + " durable_epoch = case when u.has_cp then u.cp_epoch else t.durable_epoch end,"
          + " etag = case when u.has_cp then u.cp_etag else t.etag end,"
          + " last_modified = case when u.has_cp then u.cp_last_modified else t.last_modified end,"
          + " durable_state = case when u.has_cp then u.cp_state else t.durable_state end,"
          // A checkpoint is always of this task's own temporary object.
          + " durable_task = case when u.has_cp then null else t.durable_task end";

  /** A column of a write bound as an array: its name in {@code u}, its SQL type, its value. */
  private record Column<W>(String name, String type, Function<W, Object> value) {}

  /** {@code columns} and the checkpoint's ({@code CHECKPOINT_SET}'s), the write's or none. */
  private static <W> List<Column<W>> withCheckpoint(
      List<Column<W>> columns, Function<W, Checkpoint> checkpoint) {
    List<Column<W>> all = new ArrayList<>(columns);
    all.add(new Column<>("has_cp", "boolean", w -> checkpoint.apply(w) != null));
    all.add(new Column<>("cp_bytes", "bigint", w -> cp(checkpoint, w, Checkpoint::bytes)));
    all.add(new Column<>("cp_epoch", "bigint", w -> cp(checkpoint, w, Checkpoint::epoch)));
    all.add(new Column<>("cp_etag", "text", w -> cp(checkpoint, w, Checkpoint::etag)));
    all.add(
        new Column<>("cp_last_modified", "text", w -> cp(checkpoint, w, Checkpoint::lastModified)));
    all.add(new Column<>("cp_state", "text", w -> cp(checkpoint, w, Checkpoint::state)));
    return all;
  }

  private static <W> Object cp(
      Function<W, Checkpoint> checkpoint, W w, Function<Checkpoint, Object> field) {
    Checkpoint cp = checkpoint.apply(w);
    return cp == null ? null : field.apply(cp);
  }

  /**
   * Updates the rows of {@code writes} still held by their leases ({@code set} may name {@code
   * u.now} and the columns), locking them in id order first; the updated rows by task id. A task
   * absent from the answer has lost its fence.
   */
  private static <W extends LeaseWrite<?>> Map<String, TaskRow> fencedUpdate(
      Connection c, Timestamp now, List<W> writes, String set, List<Column<W>> columns)
      throws SQLException {
    StringBuilder types = new StringBuilder("?::text[], ?::bigint[]");
    StringBuilder names = new StringBuilder("id, epoch");
    for (Column<W> col : columns) {
      types.append(", ?::").append(col.type()).append("[]");
      names.append(", ").append(col.name());
    }
    String sql =
        "with u as (select a.*, ?::timestamptz as now from unnest("
            + types
            + ") as a("
            + names
            + ")), held as materialized (select t.id from tasks t join u on t.id = u.id"
            + " and t.lease_epoch = u.epoch where t.state = 'running' order by t.id"
            + " for update of t)"
            + " update tasks t set "
            + set
            + " from u join held on held.id = u.id"
            + " where t.id = u.id and t.lease_epoch = u.epoch and t.state = 'running'"
            + " returning "
            + TASK_COLUMNS;
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setTimestamp(1, now);
      ps.setArray(2, c.createArrayOf("text", values(writes, w -> w.lease().taskId())));
      ps.setArray(3, c.createArrayOf("bigint", values(writes, w -> w.lease().epoch())));
      int i = 4;
      for (Column<W> col : columns) {
        ps.setArray(i++, c.createArrayOf(col.type(), values(writes, col.value())));
      }
      Map<String, TaskRow> rows = new HashMap<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          TaskRow row = taskRow(rs);
          rows.put(row.id(), row);
        }
      }
      return rows;
    }
  }

  /**
   * Locks the rows of a group of more than one kind, in id order, in one statement: the statements
   * of the kinds that follow lock nothing more, so the group's locks are taken in one order.
   */
  private static void lockInOrder(Connection c, List<? extends LeaseWrite<?>> writes)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select t.id from tasks t join unnest(?::text[], ?::bigint[]) as u(id, epoch)"
                + " on t.id = u.id and t.lease_epoch = u.epoch where t.state = 'running'"
                + " order by t.id for update of t")) {
      ps.setArray(1, c.createArrayOf("text", values(writes, w -> w.lease().taskId())));
      ps.setArray(2, c.createArrayOf("bigint", values(writes, w -> w.lease().epoch())));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          // Locked; the fence is checked again by each kind's statement.
        }
      }
    }
  }

  private static <W> Object[] values(List<W> writes, Function<? super W, Object> value) {
    Object[] out = new Object[writes.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = value.apply(writes.get(i));
    }
    return out;
  }
}
