package transfer.ledger;

import static transfer.ledger.Sql.rows;
import static transfer.ledger.StoredJson.write;
import static transfer.ledger.TaskRows.taskById;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.telemetry.TraceContext;

/**
 * New tasks: one or a batch of one session, each written with its doorbell in one transaction. With
 * an Idempotency-Key, a repeated request answers the tasks of the first one.
 */
public final class Submissions {
  private final Tx tx;
  private final Sessions sessions;
  private final TaskInsert inserts;
  private final Outbox outbox;

  Submissions(Tx tx, Sessions sessions, TaskInsert inserts, Outbox outbox) {
    this.tx = tx;
    this.sessions = sessions;
    this.inserts = inserts;
    this.outbox = outbox;
  }

  /** Whether an Idempotency-Key was used in this session already (a submit would replay). */
  public boolean idempotencyKeyUsed(String tenantId, String sessionId, String key) {
    return tx.run(
        "look up idempotency key",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select 1 from idempotency_keys where tenant_id = ? and session_id = ?"
                      + " and key = ?")) {
            ps.setString(1, tenantId);
            ps.setString(2, sessionId);
            ps.setString(3, key);
            try (ResultSet rs = ps.executeQuery()) {
              return rs.next();
            }
          }
        });
  }

  /** The task a submit answers; {@code replayed} when an Idempotency-Key named an earlier one. */
  public record Submitted(TaskRow task, boolean replayed) {}

  /** The Idempotency-Key was used before with another request body. */
  public static final class IdempotencyConflict extends RuntimeException {
    private final String taskId;

    IdempotencyConflict(String taskId) {
      super(
          "the Idempotency-Key was used for another request (task " + taskId + ")",
          null,
          false,
          false);
      this.taskId = taskId;
    }

    public String taskId() {
      return taskId;
    }
  }

  /** A request names something that does not exist for this tenant (a field of the request). */
  public static final class InvalidReference extends RuntimeException {
    private final String field;

    InvalidReference(String field, String message) {
      super(message, null, false, false);
      this.field = field;
    }

    public String field() {
      return field;
    }
  }

  /**
   * Writes a new task and, when it may start now, its doorbell in the outbox: one transaction, so
   * that a crash after the commit cannot lose the announcement. With an {@code idempotencyKey}, a
   * repeated submit of the same body answers the first task; another body is an {@link
   * IdempotencyConflict}. {@code trace} (the submit's W3C trace context; null for none) is stored
   * with the task, and so goes with every doorbell of it and every event written without a context
   * of its own.
   */
  public Submitted submit(
      String tenantId,
      String sessionId,
      TaskRequest request,
      SessionConfig session,
      String idempotencyKey,
      TraceContext trace) {
    byte[] hash = sha256(write(request));
    return onceMoreOnKeyRace(
        idempotencyKey,
        () -> submitOnce(tenantId, sessionId, request, session, idempotencyKey, hash, trace));
  }

  /**
   * Runs a submit; when two identical keyed submits raced, the loser's key insert hit the winner's
   * row. That row is visible now, and a second try answers the winner's task(s).
   */
  private static <T> T onceMoreOnKeyRace(
      String idempotencyKey, java.util.function.Supplier<T> submit) {
    try {
      return submit.get();
    } catch (LedgerException e) {
      if (idempotencyKey != null
          && e.getCause() instanceof SQLException se
          && "23505".equals(se.getSQLState())) {
        return submit.get();
      }
      throw e;
    }
  }

  private Submitted submitOnce(
      String tenantId,
      String sessionId,
      TaskRequest request,
      SessionConfig session,
      String idempotencyKey,
      byte[] hash,
      TraceContext trace) {
    return tx.run(
        "submit task to session " + sessionId,
        c -> {
          if (idempotencyKey != null) {
            Optional<String> earlier = keyedTask(c, tenantId, sessionId, idempotencyKey, hash);
            if (earlier.isPresent()) {
              return new Submitted(taskById(c, earlier.get()).orElseThrow(), true);
            }
          }
          sessions.requireActive(c, tenantId, sessionId);
          List<TaskRow> doorbells = new ArrayList<>(1);
          TaskRow row =
              inserts.insertTask(
                  c, tenantId, sessionId, request, session, idempotencyKey, hash, trace, doorbells);
          outbox.doorbells(c, doorbells);
          return new Submitted(row, false);
        });
  }

  /**
   * The task an Idempotency-Key was first used for, when it was used in this session; an {@link
   * IdempotencyConflict} when that was with another request body.
   */
  private Optional<String> keyedTask(
      Connection c, String tenantId, String sessionId, String key, byte[] hash)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select request_hash, task_id from idempotency_keys"
                + " where tenant_id = ? and session_id = ? and key = ?")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      ps.setString(3, key);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        String earlier = rs.getString(2);
        if (!java.util.Arrays.equals(rs.getBytes(1), hash)) {
          throw new IdempotencyConflict(earlier);
        }
        return Optional.of(earlier);
      }
    }
  }

  /** The tasks a batch submit answers, in request order; {@code replayed} as for one task. */
  public record BatchSubmitted(List<TaskRow> tasks, boolean replayed) {}

  /**
   * Writes several tasks of one session in one transaction, all or none, with their doorbells. A
   * refused reference names its task ({@code tasks[i].field}). With an {@code idempotencyKey}, a
   * repeated batch of the same body answers the first batch's tasks; another body is an {@link
   * IdempotencyConflict}. The key is stored once per task, as {@code "batch <i> <key>"} (a key with
   * spaces, which a single submit's key cannot be). Every task stores {@code trace}, as a single
   * submit's does.
   */
  public BatchSubmitted submitBatch(
      String tenantId,
      String sessionId,
      List<TaskRequest> requests,
      SessionConfig session,
      String idempotencyKey,
      TraceContext trace) {
    byte[] hash = sha256(write(requests));
    return onceMoreOnKeyRace(
        idempotencyKey,
        () -> submitBatchOnce(tenantId, sessionId, requests, session, idempotencyKey, hash, trace));
  }

  private BatchSubmitted submitBatchOnce(
      String tenantId,
      String sessionId,
      List<TaskRequest> requests,
      SessionConfig session,
      String idempotencyKey,
      byte[] hash,
      TraceContext trace) {
    return tx.run(
        "submit " + requests.size() + " tasks to session " + sessionId,
        c -> {
          if (idempotencyKey != null) {
            Optional<String> first =
                keyedTask(c, tenantId, sessionId, batchKey(0, idempotencyKey), hash);
            if (first.isPresent()) {
              List<TaskRow> earlier = new ArrayList<>(requests.size());
              for (int i = 0; i < requests.size(); i++) {
                String id =
                    keyedTask(c, tenantId, sessionId, batchKey(i, idempotencyKey), hash)
                        .orElseThrow(() -> new IdempotencyConflict(first.get()));
                earlier.add(taskById(c, id).orElseThrow());
              }
              return new BatchSubmitted(earlier, true);
            }
          }
          sessions.requireActive(c, tenantId, sessionId);
          List<TaskRow> doorbells = new ArrayList<>(requests.size());
          List<TaskRow> rows = new ArrayList<>(requests.size());
          for (int i = 0; i < requests.size(); i++) {
            String key = idempotencyKey == null ? null : batchKey(i, idempotencyKey);
            try {
              rows.add(
                  inserts.insertTask(
                      c,
                      tenantId,
                      sessionId,
                      requests.get(i),
                      session,
                      key,
                      hash,
                      trace,
                      doorbells));
            } catch (InvalidReference e) {
              throw new InvalidReference("tasks[" + i + "]." + e.field(), e.getMessage());
            }
          }
          outbox.doorbells(c, doorbells);
          return new BatchSubmitted(rows, false);
        });
  }

  /** How a batch's Idempotency-Key is stored for its task {@code index}. */
  public static String batchKey(int index, String idempotencyKey) {
    return "batch " + index + " " + idempotencyKey;
  }

  private static byte[] sha256(String text) {
    try {
      return java.security.MessageDigest.getInstance("SHA-256")
          .digest(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
